import CBackendJWT
import Foundation
import Testing

@testable import BackendJWT
@testable import BackendJWTABI

/// `backend_jwt_status` in the core: each refusal carries its reason's word (tokens from jwt-kit),
/// the core counts what it decides, and the report renders as JSON and as the Prometheus text
/// format with escaped labels.
@Suite struct StatusReportTests {
    typealias F = VerifyFixture

    /// The word of `verify`'s refusal of `token`; nil if it verifies.
    func word(_ verifier: JWSVerifier, _ token: [UInt8], now: Int64 = F.now) -> String? {
        do {
            _ = try verifier.verify(token, now: now)
            return nil
        } catch {
            return error.refusal?.word.description
        }
    }

    @Test func everyRefusalHasItsWord() async throws {
        let verifier = try F.verifier(try F.keys(F.jwks([try F.jwk(.es256)])), algorithms: [.es256, .rs256])
        let good = try await F.token(.es256)
        #expect(word(verifier, good) == nil)
        #expect(word(verifier, Array("a.b".utf8)) == "malformed")
        #expect(word(verifier, Array(String(repeating: "a", count: 20000).utf8)) == "malformed")
        var forged = good
        forged[forged.count - 5] = forged[forged.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(word(verifier, forged) == "signature")
        #expect(word(verifier, try await F.token(.es256, kid: "other")) == "unknown_kid")
        #expect(word(verifier, try await F.token(.hs256)) == "algorithm")
        #expect(word(verifier, try await F.token(.rs256)) == "algorithm")  // no key for RS256 has kid k1
        #expect(word(verifier, try F.handMade(header: #"{"alg":"none"}"#, payload: F.validPayload, signature: "")) == "algorithm")
        #expect(word(verifier, good, now: F.now + 301) == "expired")
        var claims = F.Claims()
        claims.exp = nil
        #expect(word(verifier, try await F.token(.es256, claims: claims)) == "expired")
        claims = F.Claims()
        claims.nbf = F.now + 60
        #expect(word(verifier, try await F.token(.es256, claims: claims)) == "not_yet_valid")
        claims = F.Claims()
        claims.iat = F.now + 60
        #expect(word(verifier, try await F.token(.es256, claims: claims)) == "not_yet_valid")
        claims = F.Claims()
        claims.iss = "https://other.example.com"
        #expect(word(verifier, try await F.token(.es256, claims: claims)) == "issuer")
        claims = F.Claims()
        claims.aud = ["someone-else"]
        #expect(word(verifier, try await F.token(.es256, claims: claims)) == "audience")
    }

    @Test func theABIWordsAreTheCoresAndTheHeaders() {
        #expect(Refusal.allCases.count + 1 == Int(BJWT_VERDICTS))
        #expect(Refusal.noKeys.rawValue == Int32(BJWT_REFUSED_NO_KEYS))
        #expect(Refusal.unknownKid.rawValue == Int32(BJWT_REFUSED_UNKNOWN_KID))
        var len = 0
        let word = bjwtRefusalWord(Int32(BJWT_REFUSED_NOT_YET_VALID), &len)
        #expect(String(cString: word) == "not_yet_valid" && len == 13)
        #expect(String(cString: bjwtRefusalWord(Int32(BJWT_VERIFIED), &len)) == "" && len == 0)
        #expect(String(cString: bjwtRefusalWord(99, &len)) == "" && len == 0)
    }

    @Test func theVerifiedTokenCacheCountsHitsMissesAndEvictions() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.es256)]))
        let verifier = try JWSVerifier(keys: keys, algorithms: [.es256], cacheSize: 1)
        let metrics = Counters(count: MetricSlot.count)
        verifier.cache?.metrics = metrics
        let a = try await F.token(.es256)
        var other = F.Claims()
        other.sub = "bob"
        let b = try await F.token(.es256, claims: other)
        for token in [a, a, a, b, a] { _ = try verifier.verify(token, now: F.now) }
        #expect(metrics[MetricSlot.verifyCacheHits] == 2)
        #expect(metrics[MetricSlot.verifyCacheMisses] == 3)
        #expect(metrics[MetricSlot.verifyCacheEvictions] == 2)
    }

    @Test func mintsAreCountedByAlgorithmWithTheirCacheAndFailures() throws {
        let signer = try TokenCacheTests.signer(ttl: 60, .percent(10))
        let metrics = Counters(count: MetricSlot.count)
        signer.metrics = metrics
        for values in [["i", "s"], ["i", "s"], ["i", "t"]] { _ = try mint(signer, now: F.now, values) }
        #expect(metrics[MetricSlot.mint(.rs256)] == 3 && metrics[MetricSlot.mint(.hs256)] == 0)
        #expect(metrics[MetricSlot.mintCacheHits] == 1 && metrics[MetricSlot.mintCacheMisses] == 2)
        #expect(throws: BackendJWTError.self) { _ = try mint(signer, now: F.now, values: [nil, nil], capacity: 8) }
        #expect(metrics[MetricSlot.mintFailure(.size)] == 1 && metrics[MetricSlot.mint(.rs256)] == 3)
    }

    @Test func countersMoveToSharedMemory() {
        let counters = Counters(count: 3)
        counters.add(1)
        let shared = UnsafeMutablePointer<UInt64>.allocate(capacity: 3)
        defer { shared.deallocate() }
        shared.initialize(repeating: 7, count: 3)
        counters.attach(UnsafeMutableRawPointer(shared))
        counters.add(1)
        #expect(counters[1] == 8 && shared[1] == 8 && shared[0] == 7)
    }

    func snapshot() -> StatusSnapshot {
        var counters = [UInt64](repeating: 0, count: MetricSlot.count)
        counters[0] = 42
        counters[Int(Refusal.expired.rawValue)] = 3
        counters[MetricSlot.verifyCacheHits] = 9
        counters[MetricSlot.mint(.rs256)] = 5
        counters[MetricSlot.mintFailure(.value)] = 1
        let set = StatusSnapshot.JWKSStatus(
            uri: Array("/_jwks?realm=\"a\\b\"\n".utf8), keys: [(Array("k1".utf8), [.es256]), (nil, [.rs256, .ps256])],
            fetchedAt: 1_700_000_000, freshUntil: 1_700_000_600, lastError: "the response status is 404, not 2xx",
            lastErrorAt: 1_700_000_700, counters: [2, 1, 4])
        return StatusSnapshot(version: "0.1.0", abiVersion: 5, counters: counters, jwks: [set])
    }

    @Test func json() throws {
        let doc = try JSONSerialization.jsonObject(with: Data(snapshot().json)) as! [String: Any]
        #expect(doc["version"] as? String == "0.1.0")
        #expect(doc["abi_version"] as? Int == 5)
        let verify = doc["verify"] as! [String: Any]
        #expect(verify["ok"] as? Int == 42)
        let refused = verify["refused"] as! [String: Int]
        #expect(refused.count == 11 && refused["expired"] == 3 && refused["no_keys"] == 0)
        #expect((verify["cache"] as! [String: Int]) == ["hits": 9, "misses": 0, "evictions": 0])
        let mint = doc["mint"] as! [String: Any]
        #expect((mint["tokens"] as! [String: Int])["RS256"] == 5)
        #expect((mint["failures"] as! [String: Int]) == ["value": 1, "size": 0, "sign": 0, "other": 0])
        let set = (doc["jwks"] as! [[String: Any]])[0]
        #expect(set["uri"] as? String == "/_jwks?realm=\"a\\b\"\n")
        #expect(set["fetched_at"] as? Int == 1_700_000_000 && set["fresh_until"] as? Int == 1_700_000_600)
        #expect((set["fetches"] as! [String: Int]) == ["ok": 2, "error": 1])
        #expect(set["refetches_unknown_kid"] as? Int == 4)
        #expect(set["last_error"] as? String == "the response status is 404, not 2xx")
        let keys = set["keys"] as! [[String: Any]]
        #expect(keys[0]["kid"] as? String == "k1" && keys[1]["kid"] is NSNull)
        #expect(keys[1]["algorithms"] as? [String] == ["RS256", "PS256"])
    }

    @Test func prometheus() {
        let text = String(decoding: snapshot().prometheus, as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("backend_jwt_verify_ok_total 42"))
        #expect(lines.contains(#"backend_jwt_verify_refused_total{reason="expired"} 3"#))
        #expect(lines.contains(#"backend_jwt_mint_total{alg="RS256"} 5"#))
        #expect(lines.contains(#"backend_jwt_mint_failures_total{reason="value"} 1"#))
        let uri = #"/_jwks?realm=\"a\\b\"\n"#
        #expect(lines.contains(#"backend_jwt_jwks_fetches_total{uri="\#(uri)",result="ok"} 2"#))
        #expect(lines.contains(#"backend_jwt_jwks_fetches_total{uri="\#(uri)",result="error"} 1"#))
        #expect(lines.contains(#"backend_jwt_jwks_key_info{uri="\#(uri)",kid="k1",alg="ES256"} 1"#))
        #expect(lines.contains(#"backend_jwt_jwks_fetched_at_seconds{uri="\#(uri)"} 1700000000"#))
        #expect(lines.contains(#"backend_jwt_info{version="0.1.0",abi_version="5"} 1"#))
        // one HELP and one TYPE per family, right before its samples; counters end in _total
        var families: [String] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            let name = String(parts[2])
            families.append(name)
            #expect(lines[i - 1].hasPrefix("# HELP \(name) "))
            #expect(parts[3] == "counter" ? name.hasSuffix("_total") : !name.hasSuffix("_total"))
            #expect(lines[i + 1].hasPrefix(name))
        }
        #expect(Set(families).count == families.count)
        #expect(families.count == lines.filter { $0.hasPrefix("# HELP ") }.count)
        for line in lines where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(families.contains(name), "\(line)")
        }
    }

    @Test func noJWKSFamiliesWithoutAURI() {
        let text = String(decoding: StatusSnapshot(version: "0.1.0", abiVersion: 5, counters: [], jwks: []).prometheus, as: UTF8.self)
        #expect(!text.contains("backend_jwt_jwks_"))
        #expect(text.contains("backend_jwt_verify_ok_total 0\n"))
    }
}

/// The report's format from `?format=`, through the C ABI: JSON by default or by name, Prometheus's
/// text format by name with its media type, anything else refused (the module answers 400).
@Suite("Status report formats")
struct StatusFormatTests {
    static func format(_ arg: String?) -> (Int32, String?) {
        var type: UnsafePointer<CChar>?
        let format: Int32
        if let arg {
            format = Array(arg.utf8).withUnsafeBufferPointer { bjwtStatusFormat($0.baseAddress, $0.count, &type) }
        } else {
            format = bjwtStatusFormat(nil, 0, &type)
        }
        return (format, type.map { String(cString: $0) })
    }

    @Test func formats() {
        #expect(Self.format(nil) == (Int32(BJWT_STATUS_JSON), "application/json"))
        #expect(Self.format("json") == (Int32(BJWT_STATUS_JSON), "application/json"))
        #expect(Self.format("prometheus") == (Int32(BJWT_STATUS_PROMETHEUS), "text/plain; version=0.0.4; charset=utf-8"))
        for other in ["", "JSON", "Prometheus", "prometheus ", "openmetrics", "json\u{0}"] {
            #expect(Self.format(other).0 == -1, "\(other)")
        }
    }
}
