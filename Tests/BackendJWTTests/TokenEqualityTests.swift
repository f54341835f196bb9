import Crypto
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// The bytes of minted tokens stay the same when the minting code changes: with the clock and
/// `jti` fixed, every case below must give what the reference code gave, kept in
/// Fixtures/minted-tokens.txt. The cases: every algorithm in both encodings, registered-claim,
/// kid and certificate variants, every claim type and `if_empty`, nested, URI and escaped names,
/// WSO2 claims, claims copied from callers, the token cache, clocks at the edges, and the
/// FuzzClaims corpus with seeded inputs shaped like it, over values with escapes, control
/// characters, Unicode, invalid UTF-8 and long text. An ECDSA or RSA-PSS signature differs
/// each time: there the header and payload are compared and jwt-kit checks the signature.
///
/// After a deliberate change to the tokens' bytes, rewrite the fixture with
/// `BJWT_WRITE_MINTED=1 swift test --filter TokenEquality` and review its diff.
@Suite("Token equality")
struct TokenEqualityTests {
    static let fixture = Fixture.path("minted-tokens.txt")

    struct Case {
        let id: String
        let signer: Signer
        var now: Int64 = 1_700_000_000
        let values: [[UInt8]?]
        var caller: VerifiedToken? = nil
    }

    @Test func tokensAreTheOnesTheReferenceMinted() async throws {
        let cases = try Self.cases()
        var outcomes: [(id: String, outcome: String)] = []
        for (index, item) in cases.enumerated() {
            outcomes.append((item.id, try await Self.outcome(item, index: index)))
        }
        #expect(Set(outcomes.map(\.id)).count == outcomes.count, "case ids are unique")
        if ProcessInfo.processInfo.environment["BJWT_WRITE_MINTED"] != nil {
            let text = outcomes.map { "\($0.id)\t\($0.outcome)\n" }.joined()
            try text.write(toFile: Self.fixture, atomically: true, encoding: .utf8)
            return
        }
        var expected: [String: String] = [:]
        for line in try String(contentsOfFile: Self.fixture, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            expected[String(fields[0])] = String(fields[1])
        }
        #expect(expected.count == outcomes.count, "the fixture has every case")
        var mismatches = 0
        for (id, outcome) in outcomes where expected[id] != outcome {
            mismatches += 1
            if mismatches <= 20 { Issue.record("\(id): \(outcome), the reference gave \(expected[id] ?? "nothing")") }
        }
        #expect(mismatches == 0, "\(mismatches) of \(outcomes.count) tokens differ")
    }

    /// The token (its SHA-256 when long), its header and payload and a checked signature for
    /// the randomized algorithms, or the error.
    static func outcome(_ item: Case, index: Int) async throws -> String {
        item.signer.random = RandomBlock(fixed: Array(SHA256.hash(data: Array("jti \(index)".utf8))))
        let token: String
        do {
            token = try mint(item.signer, now: item.now, values: item.values, caller: item.caller)
        } catch {
            return "!\(error.kind) \(error.message)".replacingOccurrences(of: "\n", with: "\\n")
        }
        var text = token
        let algorithm = item.signer.algorithm
        if algorithm.family == .ecdsa || algorithm.family == .rsaPSS {
            let segments = token.split(separator: ".", omittingEmptySubsequences: false)
            try #require(segments.count == 3)
            let standard = item.signer.encoding == .base64
            let signature = try #require(decodeBase64URL(segments[2], standard: standard))
            let keys = try await AlgorithmTests.verifier(algorithm)
            let signed = try await keys.getKey(alg: algorithm.joseName).verify(
                signature, signs: [UInt8]("\(segments[0]).\(segments[1])"))
            #expect(signed, "\(item.id): the signature verifies")
            text = "\(segments[0]).\(segments[1]).(signature checked)"
        }
        guard text.utf8.count > 200 else { return text }
        return "sha256:" + SHA256.hash(data: Array(text.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Values

    static func text(_ value: String) -> [UInt8] { Array(value.utf8) }

    static let controls: [UInt8] = Array(0x00...0x1F) + [0x7F]
    static let longMixed: [UInt8] = {
        let pattern = text("ab\"\\é日😀\n\u{1}xyz/<>&'")
        return (0..<2000).map { pattern[$0 % pattern.count] }
    }()

    /// Request values: plain, escapes, control characters, Unicode, invalid UTF-8, long, and
    /// the forms of each claim type, good and bad.
    static let palette: [[UInt8]?] =
        [nil, [], controls, [0xFF], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80],
         [0xF0, 0x9F, 0x98], [0x61, 0xC3], [0xF8, 0x88, 0x80, 0x80, 0x80], Array(repeating: UInt8(ascii: "x"), count: 300),
         longMixed]
        + [
            "alice", "https://gateway.example.com", "value-number-1", "q\"uote\\back/slash", "\u{8}\u{C}\n\r\t", "é",
            "日本語", "😀", "e\u{301}", "\u{2028}\u{2029}\u{FEFF}", "\u{7F}\u{80}\u{FFFF}", "42", "-2147483648",
            "2147483648", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-0", "007", "1.5",
            "-2e3", "1e99999", "0.1E+2", "abc", "1.", "true", "FALSE", "1", "0", "yes", "2025-01-31T12:00:00Z",
            "2025-01-31T12:00:00.123+02:00", "1969-12-31T23:59:59Z", "2025-02-30T00:00:00Z", "1700000000",
            #"{"a":[1,2,{"b":null}],"c":"\u00e9"}"#, " [ 1 , \"x\" ] ", #"{"a":1,"a":2}"#, "\"s\"", "tru", "null",
            "a,b, c ,,d", "x|y||z", " ", "a,\"b\",é", "\t,\t", "a;;b;;", "roles=a,b",
        ].map(text)

    /// For a signer: each palette entry as every value, then `random` rows of random entries.
    static func rows(_ signer: Signer, random: Int, seed: UInt64) -> [[[UInt8]?]] {
        var generator = JSONEscapingTests.SplitMix64(state: seed)
        let same = palette.map { Array(repeating: $0, count: signer.valueCount) }
        let mixed = (0..<random).map { _ in
            (0..<signer.valueCount).map { _ in palette.randomElement(using: &generator)! }
        }
        return same + mixed
    }

    // MARK: Configurations

    static let typedClaims: [(String, String)] = [
        ("s", ""), ("i", "type=int"), ("l", "type=long"), ("f", "type=float"), ("b", "type=bool"),
        ("d", "type=date"), ("j", "type=json"), ("li", "type=list"),
    ]

    /// Values for `typedClaims` that convert, with the string claim and the subject varied.
    static func goodRows(audiences: Int) -> [[[UInt8]?]] {
        palette.enumerated().filter { $0.offset % 3 == 0 }.map { _, value in
            let typed: [[UInt8]?] = ["42", "-9223372036854775808", "-2e3", "TRUE", "2025-01-31T12:00:00.5Z",
                #" {"r": ["a", 1]} "#, "a, b ,c"].map(text)
            return [text("https://gateway.example.com"), value] + Array(repeating: value, count: audiences)
                + [value] + typed
        }
    }

    static func cases() throws -> [Case] {
        var cases: [Case] = []
        func add(_ name: String, _ signer: Signer, _ rows: [[[UInt8]?]], now: Int64 = 1_700_000_000) {
            for (index, values) in rows.enumerated() {
                cases.append(Case(id: "\(name)/\(index)", signer: signer, now: now, values: values))
            }
        }
        // Every algorithm, both encodings.
        for algorithm in SigningAlgorithm.allCases {
            for encoding in TokenEncoding.allCases {
                let signer = try makeSigner(
                    algorithm, encoding: encoding, key: AlgorithmTests.keyFile(algorithm), claims: typedClaims)
                add("\(algorithm.joseName)-\(encoding)", signer, goodRows(audiences: 0))
            }
        }
        // Registered claims, kid and certificate.
        let strings = [("c1", ""), ("c2", ""), ("c3", "")]
        let registered: [(String, Signer)] = [
            ("aud3-nbf", try makeSigner(.none, key: nil, registered: .init(audienceCount: 3, notBeforeLeeway: 30), claims: strings)),
            ("required", try makeSigner(.hs256, key: "secret-32.hex",
                registered: .init(audienceCount: 2, required: [.issuer, .subject, .audience]), claims: strings)),
            ("nojti-nbf0", try makeSigner(.hs512, encoding: .base64, ttl: 1, key: "secret-64.hex",
                registered: .init(audienceCount: 1, notBeforeLeeway: 0, jti: false), claims: strings)),
            ("kid-custom", try makeSigner(.hs384, key: "secret-64.hex", keyID: .custom([UInt8]("k\"id/é")), claims: strings)),
            ("kid-off", try makeSigner(.rs256, ttl: TokenTTL.maximum, keyID: .off, claims: strings)),
            ("x5t", try makeSigner(.rs256, encoding: .base64, certificate: "certificate.pem", claims: strings)),
            ("eddsa-x5t", try makeSigner(.edDSA, key: "ed25519.pem", registered: .init(audienceCount: 1), claims: strings)),
        ]
        for (index, (name, signer)) in registered.enumerated() {
            add(name, signer, rows(signer, random: 30, seed: UInt64(index)))
        }
        // The clock at its edges (the last two overflow and fail).
        let clockSigner = registered[0].1
        for now: Int64 in [0, -1, 1, 9_999_999_999, Int64.max - 5, Int64.min] {
            add("clock\(now)", clockSigner, [["iss", "sub", "a1", nil, "a3", "1", "2", "3"].map { $0.map(text) }], now: now)
        }
        // Claim types, if_empty, nesting, names.
        var shapes: [(String, [(String, String)])] = []
        for ifEmpty in ["omit", "null", "fail"] {
            shapes.append(("types-\(ifEmpty)", typedClaims.map { ($0.0, "\($0.1) if_empty=\(ifEmpty)") }))
        }
        shapes.append(("empty", [("s", "if_empty=empty"), ("li", "type=list if_empty=empty"), ("li2", "type=list separator=;;")]))
        shapes.append(("nested", [
            ("realm_access.roles", "type=list"), ("realm_access.groups", ""), ("a.b.c", "type=int if_empty=null"),
            ("a.b.d", ""), ("a.e", "type=json"), ("x\\.y", ""), ("http://example.com/claims/role", ""),
            ("na\"me\\", ""), ("ü.ß", "type=bool"), ("top", "if_empty=empty"),
        ]))
        shapes.append(("separators", [("l1", "type=list separator=|"), ("l2", "type=list separator=;;"), ("l3", "type=list")]))
        for (index, (name, claims)) in shapes.enumerated() {
            for (algorithm, key) in [(SigningAlgorithm.none, nil), (.hs256, "secret-32.hex")] as [(SigningAlgorithm, String?)] {
                let signer = try makeSigner(algorithm, key: key, registered: .init(audienceCount: 1), claims: claims)
                add("\(name)-\(algorithm.joseName)", signer, rows(signer, random: 40, seed: 100 + UInt64(index)))
            }
        }
        // WSO2 claims.
        for (index, options) in [
            ["apiname=Pizza", "version=1.0.0"], ["apiname=A", "version=2", "dialect=http://example.com/c", "tier=Gold"],
        ].enumerated() {
            let list = ClaimList()
            try WSO2Claims.add(to: list, options: options.map { [UInt8]($0) })
            try list.add(name: [UInt8]("extra"), options: [])
            for encoding in TokenEncoding.allCases {
                let signer = try makeSigner(.rs256, encoding: encoding, list: list)
                add("wso2-\(index)-\(encoding)", signer, rows(signer, random: 10, seed: 200 + UInt64(index)))
            }
        }
        // Claims copied from callers.
        let callers = try [
            #"{"iss":"idp","sub":"u\"1","exp":1700003600,"email":"é@x","realm_access":{"roles":["a","b\n"]},"tid":"t","n":1.5e3,"arr":[true,false,null],"o":{}}"#,
            #"{"sub":"😀","exp":1700000100,"x":"\u0000\u001f\ud83d\ude00","roles":"r1 r2"}"#,
            #"{"sub":"s"}"#,
        ].map { try ClaimCopiesTests.caller($0) }
        for (index, specs) in [["*"], ["sub=caller_sub", "realm_access.roles=roles", "missing=m", "x"], ["*", "except=email,tid"]].enumerated() {
            for cap in [true, false] {
                let signer = try Signer(
                    algorithm: .hs256, encoding: .base64url, ttl: 3600, key: Fixture.signingKey("secret-32.hex"),
                    claims: claimList([("c", "")]).claims, copies: ClaimCopies.parse(specs.map { [UInt8]($0) }), capToCaller: cap)
                for (c, caller) in callers.enumerated() {
                    for (row, value) in palette.prefix(12).enumerated() {
                        cases.append(Case(id: "copies-\(index)-\(cap)-\(c)/\(row)", signer: signer,
                            values: [text("iss"), text("sub"), value], caller: caller))
                    }
                }
            }
        }
        // The cache: the first token of a key is the one served after it, while fresh enough.
        // One key per cache: which of two keys a slot keeps depends on the per-process hash seed.
        for (row, value) in palette.prefix(6).enumerated() {
            let cached = try Signer(
                algorithm: .hs256, encoding: .base64url, ttl: 60, key: Fixture.signingKey("secret-32.hex"),
                cache: (size: 1, remaining: .percent(50)), claims: claimList(strings).claims)
            for now: Int64 in [1_700_000_000, 1_700_000_001, 1_700_000_031, 1_700_000_040] {
                cases.append(Case(id: "cache-\(now)/\(row)", signer: cached, now: now, values: [text("i"), text("s"), value, value, nil]))
            }
        }
        cases += try fuzzCases()
        return cases
    }

    // MARK: The FuzzClaims corpus

    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/FuzzClaims").path

    /// The corpus files, then seeded inputs of the same shape, each read as Fuzz/FuzzClaims
    /// reads its input: claims declared from the head, then the values.
    static func fuzzCases() throws -> [Case] {
        var inputs: [(String, [UInt8])] = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted().map {
            ("corpus-\($0)", Array(try Data(contentsOf: URL(fileURLWithPath: corpus + "/" + $0))))
        }
        var generator = JSONEscapingTests.SplitMix64(state: 300)
        let names = ["a", "b.c", "b.d", "x\\.y", "http://u/r", "ü", "n\"q", "a.b.c", "roles", "e\u{301}"]
        let values = palette.compactMap { $0 }.filter { !$0.contains(0) && !$0.isEmpty }
        for index in 0..<1500 {
            let count = Int.random(in: 0..<6, using: &generator)
            var input: [UInt8] = [UInt8(count)]
            for _ in 0..<count {
                input += (0..<Int.random(in: 1...4, using: &generator)).map { _ in UInt8.random(in: 1...255, using: &generator) }
                input += [0] + [UInt8](names.randomElement(using: &generator)!) + [0]
            }
            for _ in 0..<(3 + count) {
                input += values.randomElement(using: &generator)! + [0]
            }
            inputs.append(("fuzz-\(index)", input))
        }
        return try inputs.compactMap { name, input in try fuzzCase(name, input) }
    }

    static func fuzzCase(_ id: String, _ input: [UInt8]) throws -> Case? {
        guard input.count > 2 else { return nil }
        let types = ["string", "int", "long", "float", "bool", "date", "json", "list"]
        let ifEmpty = ["omit", "null", "empty", "fail"]
        let count = Int(input[0] % 6)
        let parts = input.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
        guard parts.count >= 2 * count + 1 else { return nil }
        let config = Configuration(prefix: [])
        let location = LevelSettings()
        let place = Where(file: "fuzz.conf", line: 1)
        for (name, args) in [
            ("backend_jwt", ["on"]), ("backend_jwt_signing_algorithm", ["NONE"]), ("backend_jwt_token_ttl", ["60"]),
            ("backend_jwt_audience", ["$aud"]),
        ] {
            _ = try location.apply(name, args.map { [UInt8]($0) }, at: place, in: config)
        }
        for i in 0..<count {
            let spec = parts[2 * i]
            let type = types[Int(spec.first ?? 0) % types.count]
            var options: [[UInt8]] = [[UInt8]("type=\(type)")]
            if spec.count > 1 { options.append([UInt8]("if_empty=\(ifEmpty[Int(spec[1]) % ifEmpty.count])")) }
            if type == "list", spec.count > 2 { options.append([UInt8]("separator=") + spec[2...].prefix(3)) }
            let declaration = [parts[2 * i + 1], [UInt8]("$claim\(i)")] + options
            guard (try? location.apply("backend_jwt_claim", declaration, at: place, in: config)) != nil else { return nil }
        }
        guard (try? LevelSettings.merge(LevelSettings(), into: location, facts: LevelFacts(), config: config)) != nil,
            let signer = location.signer
        else { return nil }
        var filled = parts[(2 * count)...].prefix(signer.valueCount).map { Optional($0) }
        while filled.count < signer.valueCount { filled.append(nil) }
        return Case(id: id, signer: signer, values: filled)
    }
}
