@testable import BackendJWTABI
import CBackendJWT
import Testing

@testable import BackendJWT

/// The verdict of a caller's token through the C ABI, as the nginx module reads it: where the
/// token is found (`Authorization: Bearer`, `token=`), the status and challenge of each refusal,
/// and when a refetch of the JWK Set may change it. Tokens are signed by jwt-kit.
@Suite("Verdicts")
struct VerdictTests {
    typealias F = VerifyFixture

    /// bjwt_verify of `text` (nil: no such header) from `source` with `verifier`.
    static func verify(
        _ verifier: JWSVerifier, _ text: [UInt8]?, source: Int32 = Int32(BJWT_TOKEN_AUTHORIZATION),
        now: Int64 = F.now
    ) -> (rc: Int32, verdict: bjwt_verdict, err: String) {
        let handle = retain(verifier)
        defer { release(handle) }
        var out: OpaquePointer?
        var verdict = bjwt_verdict(status: -7, reason: -7, challenge: -7, refetch: -7)
        var err = [CChar](repeating: 0, count: 512)
        let rc = err.withUnsafeMutableBufferPointer { e in
            if let text {
                return text.withUnsafeBufferPointer {
                    bjwtVerify(handle, now, source, $0.baseAddress, $0.count, &out, &verdict, e.baseAddress, e.count)
                }
            }
            return bjwtVerify(handle, now, source, nil, 0, &out, &verdict, e.baseAddress, e.count)
        }
        bjwtVerifiedFree(out)
        #expect((rc == Int32(BJWT_OK)) == (out != nil))
        return (rc, verdict, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    static func hmacVerifier() throws -> JWSVerifier {
        try F.verifier(try F.keys(F.jwks([try F.jwk(.hs256)])), algorithms: [.hs256])
    }

    @Test("the Bearer token of an Authorization value: the scheme in any case, spaces after it skipped")
    func bearer() async throws {
        let verifier = try Self.hmacVerifier()
        let token = try await F.token(.hs256)
        for prefix in ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer    "] {
            let result = Self.verify(verifier, Array(prefix.utf8) + token)
            #expect(result.rc == Int32(BJWT_OK), "\(prefix)")
            #expect(result.verdict.status == 0 && result.verdict.reason == Int32(BJWT_VERIFIED))
            #expect(result.verdict.challenge == -1 && result.verdict.refetch == 0)
        }
        // the same bytes as a token= value are the token itself, no scheme
        #expect(Self.verify(verifier, token, source: Int32(BJWT_TOKEN_VALUE)).rc == Int32(BJWT_OK))
    }

    @Test("no token: 401, the bare challenge, the reason in the log's words")
    func missing() async throws {
        let verifier = try Self.hmacVerifier()
        let token = try await F.token(.hs256)
        let cases: [([UInt8]?, Int32, String)] = [
            (nil, Int32(BJWT_TOKEN_AUTHORIZATION), "no token: no \"Authorization\" header"),
            (Array("Bearer".utf8), Int32(BJWT_TOKEN_AUTHORIZATION), "no token: \"Authorization\" holds no Bearer token"),
            (Array("Bearer    ".utf8), Int32(BJWT_TOKEN_AUTHORIZATION), "no token: \"Authorization\" holds no Bearer token"),
            (Array("Basic YTpi".utf8), Int32(BJWT_TOKEN_AUTHORIZATION), "no token: \"Authorization\" holds no Bearer token"),
            (Array("Bearer".utf8) + token, Int32(BJWT_TOKEN_AUTHORIZATION), "no token: \"Authorization\" holds no Bearer token"),
            (Array("Bearer\t".utf8) + token, Int32(BJWT_TOKEN_AUTHORIZATION), "no token: \"Authorization\" holds no Bearer token"),
            // a NUL is not a space, whatever its case folding
            ([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x00] + token, Int32(BJWT_TOKEN_AUTHORIZATION),
             "no token: \"Authorization\" holds no Bearer token"),
            ([], Int32(BJWT_TOKEN_VALUE), "no token: the token= value is empty"),
            (nil, Int32(BJWT_TOKEN_VALUE), "no token: the token= value is empty"),
        ]
        for (text, source, why) in cases {
            let result = Self.verify(verifier, text, source: source)
            #expect(result.rc == Int32(BJWT_ERR_TOKEN))
            #expect(result.verdict.status == 401 && result.verdict.reason == Int32(BJWT_REFUSED_MISSING))
            #expect(result.verdict.challenge == Int32(BJWT_CHALLENGE_MISSING) && result.verdict.refetch == 0)
            #expect(result.err == why)
        }
    }

    @Test("a refused token: 401 invalid_token with the reason's word")
    func refused() async throws {
        let verifier = try Self.hmacVerifier()
        let expired = try await F.token(.hs256, claims: F.Claims(exp: F.now - 1))
        let cases: [([UInt8], Int32)] = [
            (Array("Bearer x.y.z".utf8), Int32(BJWT_REFUSED_MALFORMED)),
            (Array("Bearer ".utf8) + expired, Int32(BJWT_REFUSED_EXPIRED)),
            (Array("Bearer ".utf8) + (try await F.token(.hs256, claims: F.Claims(iss: "https://evil"))),
             Int32(BJWT_REFUSED_ISSUER)),
        ]
        for (text, reason) in cases {
            let result = Self.verify(verifier, text)
            #expect(result.rc != Int32(BJWT_OK))
            #expect(result.verdict.status == 401 && result.verdict.reason == reason)
            #expect(result.verdict.challenge == Int32(BJWT_CHALLENGE_INVALID) && result.verdict.refetch == 0)
            #expect(!result.err.isEmpty)
        }
    }

    @Test("no key for the token: a refetch may help only where a JWK Set is fetched")
    func refetch() async throws {
        let token = Array("Bearer ".utf8) + (try await F.token(.es256, kid: "new"))
        // configured keys only: an unknown kid is a plain refusal
        let local = try F.verifier(try F.keys(F.jwks([try F.jwk(.es256, ["kid": "\"old\""])])))
        let plain = Self.verify(local, token)
        #expect(plain.verdict.status == 401 && plain.verdict.refetch == 0)
        #expect(plain.verdict.challenge == Int32(BJWT_CHALLENGE_INVALID))

        // a set never fetched: no key at all, the server's 503, no challenge
        let remote = RemoteKeySet(uri: RemoteKeySetTests.uri)
        let empty = Self.verify(try RemoteKeySetTests.verifier(remote), token)
        #expect(empty.verdict.status == 503 && empty.verdict.reason == Int32(BJWT_REFUSED_NO_KEYS))
        #expect(empty.verdict.challenge == -1 && empty.verdict.refetch == 1)

        // a fetched set without the kid: 401 unknown_kid, and a refetch may bring it
        let fetched = try RemoteKeySetTests.fetched(try RemoteKeySetTests.ecSet("old"), now: F.now)
        let miss = Self.verify(try RemoteKeySetTests.verifier(fetched), token)
        #expect(miss.verdict.status == 401 && miss.verdict.reason == Int32(BJWT_REFUSED_UNKNOWN_KID))
        #expect(miss.verdict.challenge == Int32(BJWT_CHALLENGE_INVALID) && miss.verdict.refetch == 1)
    }

    @Test("every reason's usual verdict; any other value still refuses")
    func verdictOf() {
        for refusal in Refusal.allCases {
            var verdict = bjwt_verdict()
            bjwtVerdictOf(refusal.rawValue, &verdict)
            let expected: (Int32, Int32) =
                switch refusal {
                case .noKeys: (503, -1)
                case .require: (403, Int32(BJWT_CHALLENGE_SCOPE))
                case .missing: (401, Int32(BJWT_CHALLENGE_MISSING))
                default: (401, Int32(BJWT_CHALLENGE_INVALID))
                }
            #expect((verdict.status, verdict.challenge) == expected, "\(refusal)")
            #expect(verdict.reason == refusal.rawValue && verdict.refetch == 0)
        }
        for other in [Int32(BJWT_VERIFIED), Int32(BJWT_VERDICTS), -1] {
            var verdict = bjwt_verdict()
            bjwtVerdictOf(other, &verdict)
            #expect(verdict.status == 401 && verdict.reason == Int32(BJWT_REFUSED_MALFORMED), "\(other)")
            #expect(verdict.challenge == Int32(BJWT_CHALLENGE_INVALID))
        }
    }

    @Test("the challenge indexes are the C ABI's")
    func challengeIndexes() {
        #expect(Verdict.Challenge.missing.rawValue == Int32(BJWT_CHALLENGE_MISSING))
        #expect(Verdict.Challenge.invalid.rawValue == Int32(BJWT_CHALLENGE_INVALID))
        #expect(Verdict.Challenge.insufficientScope.rawValue == Int32(BJWT_CHALLENGE_SCOPE))
    }
}

/// A request's wait for a JWK Set fetch (`bjwt_jwks_wait`), through the C ABI: one refetch per
/// request for an unknown kid, at most the limit in all.
@Suite("A request's wait for the JWK Set")
struct KeyWaitTests {
    static let unknownKid = bjwt_verdict(status: 401, reason: Int32(BJWT_REFUSED_UNKNOWN_KID), challenge: 1, refetch: 1)
    static let noKeys = bjwt_verdict(status: 503, reason: Int32(BJWT_REFUSED_NO_KEYS), challenge: -1, refetch: 1)

    @Test("an unknown kid has one refetch per request; a request without keys may always wait")
    func miss() {
        var wait = bjwt_jwks_wait()
        var kid = Self.unknownKid
        var none = Self.noKeys
        #expect(bjwtJWKSWaitMiss(&wait, &kid) == 1)
        #expect(bjwtJWKSWaitMiss(&wait, &none) == 0)
        #expect(bjwtJWKSWaitStart(&wait, Int32(BJWT_JWKS_FETCH), 7, 1, 1000, 5000) == 1)
        #expect(wait.refetched == 1 && wait.waiting == 1 && wait.fetch == 7 && wait.since == 1000)
        #expect(bjwtJWKSWaitMiss(&wait, &kid) == -1)  // its refetch was had: the verdict stands
        #expect(bjwtJWKSWaitMiss(&wait, &none) == 0)
        #expect(bjwtJWKSWaitMiss(nil, &kid) == -1 && bjwtJWKSWaitMiss(&wait, nil) == -1)
    }

    @Test("it waits for a running fetch, or to verify again with a set that came; never past the limit")
    func start() {
        var wait = bjwt_jwks_wait()
        #expect(bjwtJWKSWaitStart(&wait, Int32(BJWT_JWKS_WAIT), 3, 0, 100, 50) == 1)
        #expect(wait.fetch == 3 && wait.refetched == 0 && wait.since == 100)
        #expect(bjwtJWKSWaitAgain(&wait, Int32(BJWT_FETCH_RUNNING), 149, 50) == 1)
        #expect(bjwtJWKSWaitAgain(&wait, Int32(BJWT_FETCH_RUNNING), 150, 50) == 0)  // the limit, in all
        #expect(wait.waiting == 0)
        // counted from the first wait: a second one has what is left
        #expect(bjwtJWKSWaitStart(&wait, Int32(BJWT_JWKS_READY), 9, 0, 150, 50) == 0)
        var fresh = bjwt_jwks_wait()
        #expect(bjwtJWKSWaitStart(&fresh, Int32(BJWT_JWKS_READY), 9, 0, 10, 50) == 1)
        #expect(fresh.fetch == 0 && fresh.waiting == 1)
        for decision in [BJWT_JWKS_UNAVAILABLE, BJWT_JWKS_REFUSE] {
            var other = bjwt_jwks_wait()
            #expect(bjwtJWKSWaitStart(&other, Int32(decision), 9, 1, 10, 50) == 0)
            #expect(other.waiting == 0 && other.refetched == 0 && other.waited == 0)
        }
        #expect(bjwtJWKSWaitStart(nil, Int32(BJWT_JWKS_WAIT), 1, 0, 0, 50) == 0)
    }

    @Test("a fetch that is over ends the wait; one lost with its worker gives the refetch back")
    func again() {
        var wait = bjwt_jwks_wait()
        var kid = Self.unknownKid
        #expect(bjwtJWKSWaitStart(&wait, Int32(BJWT_JWKS_FETCH), 4, 1, 0, 5000) == 1)
        #expect(bjwtJWKSWaitAgain(&wait, Int32(BJWT_FETCH_OVER), 10, 5000) == 0)
        #expect(wait.waiting == 0 && wait.refetched == 1)
        #expect(bjwtJWKSWaitMiss(&wait, &kid) == -1)
        #expect(bjwtJWKSWaitStart(&wait, Int32(BJWT_JWKS_WAIT), 5, 0, 20, 5000) == 1)
        #expect(bjwtJWKSWaitAgain(&wait, Int32(BJWT_FETCH_LOST), 30, 5000) == 0)
        #expect(wait.waiting == 0 && wait.refetched == 0)
        #expect(bjwtJWKSWaitMiss(&wait, &kid) == 1)
        #expect(bjwtJWKSWaitAgain(nil, Int32(BJWT_FETCH_RUNNING), 0, 50) == 0)
    }
}
