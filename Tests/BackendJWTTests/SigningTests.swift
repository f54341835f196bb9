import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Minted tokens, checked by jwt-kit (an independent JOSE implementation) wherever a signature
/// or a claim type is concerned, and byte by byte where the layout matters.
@Suite("Minting and signing")
struct SigningTests {
    /// The registered claims every token carries; jwt-kit also checks that `exp` is in the future.
    struct RegisteredClaims: JWTPayload {
        var iss: IssuerClaim?
        var sub: SubjectClaim?
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        var jti: IDClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// A payload with one custom claim of each type, decoded with Swift's strict JSON types.
    struct TypedClaims: JWTPayload {
        var exp: ExpirationClaim
        var department: String
        var level: Int32
        var quota: Int64
        var ratio: Double
        var admin: Bool
        var born: Int64

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    static func verifier(_ publicKeyFile: String) async throws -> JWTKeyCollection {
        let key = try Insecure.RSA.PublicKey(pem: Fixture.text(publicKeyFile))
        return await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256)
    }

    static var currentTime: Int64 { Int64(Date().timeIntervalSince1970) }

    static func seconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970) }

    static var uuidV4: Regex<Substring> { /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/ }

    // MARK: RS256, verified by jwt-kit

    @Test(arguments: Fixture.rsaKeys)
    func rs256TokenVerifiesWithThePublicKey(_ privateKey: String, _ publicKey: String) async throws {
        let signer = try makeSigner(.rs256, ttl: 3600, key: privateKey)
        let now = Self.currentTime
        let token = try mint(signer, now: now, ["https://issuer.example", "alice"])
        let claims = try await Self.verifier(publicKey).verify(token, as: RegisteredClaims.self)
        #expect(claims.iss?.value == "https://issuer.example")
        #expect(claims.sub?.value == "alice")
        #expect(Self.seconds(claims.iat.value) == now)
        #expect(Self.seconds(claims.exp.value) == now + 3600)
        #expect(claims.jti.value.wholeMatch(of: Self.uuidV4) != nil)
    }

    /// The header carries the key's RFC 7638 thumbprint as kid, computed here by swift-crypto.
    @Test func rs256TokenLayout() throws {
        let token = try mint(try makeSigner(key: "rsa2048-pkcs8.pem"), ["i", "s"])
        let decoded = try DecodedToken(token)
        let kid = try Independent.thumbprint(of: "rsa2048-public.pem")
        #expect(decoded.header == #"{"alg":"RS256","typ":"JWT","kid":""# + kid + #""}"#)
        // A 2048-bit signature is 256 bytes: 342 base64url characters.
        #expect(decoded.segments[2].count == 342)
        #expect(decodeBase64URL(decoded.segments[2])?.count == 256)
    }

    /// WSO2's base64 form signs the text as emitted (header and payload in the standard alphabet),
    /// so jwt-kit's RS256 checks the signature over exactly that text.
    @Test func base64TokenSignatureVerifiesOverTheEmittedText() async throws {
        let signer = try makeSigner(.rs256, encoding: .base64, key: "rsa2048-pkcs1.pem")
        let rs256 = try await Self.verifier("rsa2048-public.pem").getKey(alg: "RS256")
        let kid = try Independent.thumbprint(of: "rsa2048-public.pem")
        let now = Self.currentTime
        for _ in 0..<10 {
            let token = try mint(signer, now: now, ["issuer?>>", "subject~~~"])
            let decoded = try DecodedToken(token, standardBase64: true)
            let signature = try #require(decodeBase64URL(decoded.segments[2], standard: true))
            let signingInput = [UInt8]("\(decoded.segments[0]).\(decoded.segments[1])")
            #expect(try rs256.verify(signature, signs: signingInput))
            #expect(decoded.header == #"{"alg":"RS256","typ":"JWT","kid":""# + kid + #""}"#)
            let claims = try decoded.claims()
            #expect(claims["iss"] as? String == "issuer?>>")
            #expect(claims["sub"] as? String == "subject~~~")
            #expect((claims["exp"] as? NSNumber)?.int64Value == now + 3600)
        }
    }

    /// A base64url token verified the same way, so the check above is the one jwt-kit makes.
    @Test func rawSignatureCheckAgreesWithJWTKit() async throws {
        let token = try mint(try makeSigner(), now: Self.currentTime, ["i", "s"])
        let verifier = try await Self.verifier("rsa2048-public.pem")
        let decoded = try DecodedToken(token)
        let signature = try #require(decodeBase64URL(decoded.segments[2]))
        let signingInput = [UInt8]("\(decoded.segments[0]).\(decoded.segments[1])")
        #expect(try await verifier.getKey(alg: "RS256").verify(signature, signs: signingInput))
        #expect(try await !verifier.getKey(alg: "RS256").verify(signature, signs: signingInput + [0x41]))
        _ = try await verifier.verify(token, as: RegisteredClaims.self)
    }

    /// The checks above mean something: another key, or a changed payload, fails verification.
    @Test func verificationFailsWithAnotherKeyOrAChangedPayload() async throws {
        let token = try mint(try makeSigner(key: "rsa2048-pkcs8.pem"), now: Self.currentTime, ["i", "alice"])
        await #expect(throws: (any Error).self) {
            _ = try await Self.verifier("rsa4096-public.pem").verify(token, as: RegisteredClaims.self)
        }
        let parts = token.split(separator: ".")
        let decoded = try DecodedToken(token)
        let forged = TokenEncoding.base64url.encode([UInt8](decoded.payload.replacingOccurrences(of: "alice", with: "admin")))
        let tampered = "\(parts[0]).\(String(decoding: forged, as: UTF8.self)).\(parts[2])"
        await #expect(throws: (any Error).self) {
            _ = try await Self.verifier("rsa2048-public.pem").verify(tampered, as: RegisteredClaims.self)
        }
    }

    @Test func customClaimsHaveTheirJSONTypes() async throws {
        let signer = try makeSigner(
            key: "rsa2048-pkcs8.pem",
            claims: [
                ("department", ""), ("level", "type=int"), ("quota", "type=long"), ("ratio", "type=float"),
                ("admin", "type=bool"), ("born", "type=date"),
            ])
        let token = try mint(
            signer, now: Self.currentTime,
            ["i", "s", "R&D \"lab\"", "-2147483648", "9223372036854775807", "-2.5e3", "TRUE", "2000-02-29T12:00:00+01:00"])
        let claims = try await Self.verifier("rsa2048-public.pem").verify(token, as: TypedClaims.self)
        #expect(claims.department == "R&D \"lab\"")
        #expect(claims.level == Int32.min)
        #expect(claims.quota == Int64.max)
        #expect(claims.ratio == -2500)
        #expect(claims.admin == true)
        #expect(claims.born == 951_822_000)
    }

    // MARK: NONE

    @Test(arguments: [nil, "rsa2048-pkcs8.pem", "ec-p256.pem"])
    func noneTokenHasNoSignature(_ key: String?) async throws {
        let signer = try makeSigner(.none, key: key)
        let token = try mint(signer, now: Self.currentTime, ["issuer", "subject"])
        #expect(token.hasSuffix("."))
        let decoded = try DecodedToken(token)
        #expect(decoded.header == #"{"alg":"none","typ":"JWT"}"#)
        #expect(decoded.segments[2].isEmpty)
        let claims = try await JWTKeyCollection().addUnsecuredNone().verify(token, as: RegisteredClaims.self)
        #expect(claims.sub?.value == "subject")
    }

    // MARK: Payload

    @Test func payloadOrderIsIssSubIatExpJtiThenCustomClaims() throws {
        let signer = try makeSigner(.none, ttl: 3600, key: nil, claims: [("zeta", ""), ("alpha", "type=int")])
        let decoded = try DecodedToken(try mint(signer, now: 1_700_000_000, ["iss-value", "sub-value", "z", "7"]))
        let jti = try decoded.jti
        #expect(
            decoded.payload
                == #"{"iss":"iss-value","sub":"sub-value","iat":1700000000,"exp":1700003600,"jti":""#
                + jti + #"","zeta":"z","alpha":7}"#)
    }

    @Test(arguments: [
        ([nil, nil] as [String?], #"{"iat":"#),
        (["", ""], #"{"iat":"#),
        (["issuer", nil], #"{"iss":"issuer","iat":"#),
        ([nil, "subject"], #"{"sub":"subject","iat":"#),
        (["", "subject"], #"{"sub":"subject","iat":"#),
    ])
    func issuerAndSubjectAreLeftOutWhenAbsentOrEmpty(_ values: [String?], _ start: String) throws {
        let decoded = try DecodedToken(try mint(try makeSigner(.none, key: nil), values))
        #expect(decoded.payload.hasPrefix(start))
    }

    /// An absent or empty value leaves its claim out, whatever its type (no conversion error).
    @Test func customClaimsAreLeftOutWhenAbsentOrEmpty() throws {
        let signer = try makeSigner(
            .none, key: nil, claims: [("a", ""), ("b", "type=int"), ("c", "type=bool"), ("d", "type=date"), ("e", "")])
        let decoded = try DecodedToken(try mint(signer, [nil, nil, nil, "", nil, "", "last"]))
        let claims = try decoded.claims()
        #expect(Set(claims.keys) == ["iat", "exp", "jti", "e"])
        #expect(decoded.payload.hasSuffix(#","e":"last"}"#))
    }

    @Test func claimNamesAreEscapedInThePayload() throws {
        let signer = try makeSigner(.none, key: nil, claims: [("http://wso2.org/claims/role", ""), ("dé\"p\\t", "")])
        let decoded = try DecodedToken(try mint(signer, [nil, nil, "admin", "x"]))
        #expect(decoded.payload.hasSuffix(#","http://wso2.org/claims/role":"admin","dé\"p\\t":"x"}"#))
        let claims = try decoded.claims()
        #expect(claims["http://wso2.org/claims/role"] as? String == "admin")
        #expect(claims["dé\"p\\t"] as? String == "x")
    }

    @Test(arguments: [1, 60, 3600, 86_400, 4_294_967_295] as [Int64], [0, 1_700_000_000, 4_102_444_800] as [Int64])
    func expMinusIatIsTheTTL(_ ttl: Int64, _ now: Int64) throws {
        let signer = try makeSigner(.none, ttl: ttl, key: nil)
        let claims = try DecodedToken(try mint(signer, now: now, [nil, nil])).claims()
        let iat = try #require((claims["iat"] as? NSNumber)?.int64Value)
        let exp = try #require((claims["exp"] as? NSNumber)?.int64Value)
        #expect(iat == now)
        #expect(exp - iat == ttl)
    }

    @Test func jtiIsAFreshLowercaseUUIDv4() throws {
        let signer = try makeSigner(.none, key: nil)
        var seen = Set<String>()
        for _ in 0..<2000 {
            let jti = try DecodedToken(try mint(signer, [nil, nil])).jti
            #expect(jti.wholeMatch(of: Self.uuidV4) != nil, "\(jti)")
            seen.insert(jti)
        }
        #expect(seen.count == 2000)
    }

    @Test func jtiDiffersBetweenRS256TokensOfTheSameSecond() async throws {
        let signer = try makeSigner()
        let now = Self.currentTime
        let first = try mint(signer, now: now, ["i", "s"])
        let second = try mint(signer, now: now, ["i", "s"])
        #expect(first != second)
        let verifier = try await Self.verifier("rsa2048-public.pem")
        let a = try await verifier.verify(first, as: RegisteredClaims.self)
        let b = try await verifier.verify(second, as: RegisteredClaims.self)
        #expect(a.jti != b.jti)
    }

    // MARK: Errors

    /// nginx passes its clock; whatever it is, minting returns a token or an error, and never
    /// takes the worker down.
    @Test func mintingNearTheEndOfInt64TimeDoesNotCrash() async {
        await #expect(processExitsWith: .success) {
            let signer = try Signer(algorithm: .none, encoding: .base64url, ttl: 3600, key: nil, claims: [])
            _ = try? mint(signer, now: Int64.max - 10, [nil, nil])
        }
        let signer = try? Signer(algorithm: .none, encoding: .base64url, ttl: 3600, key: nil, claims: [])
        let error = #expect(throws: BackendJWTError.self) { _ = try mint(signer!, now: Int64.max - 10, [nil, nil]) }
        #expect(error?.kind == .sign)
    }


    @Test func aValueThatDoesNotConvertFailsTheToken() throws {
        let signer = try makeSigner(claims: [("level", "type=int")])
        let error = #expect(throws: BackendJWTError.self) { _ = try mint(signer, ["i", "s", "high"]) }
        #expect(error?.kind == .value)
        #expect(
            error?.message == "claim \"level\": value \"high\" is not an int (a whole number from -2147483648 to 2147483647)")
    }

    @Test(arguments: [0, 1, 2, 4])
    func theValueCountMustMatchTheClaims(_ count: Int) throws {
        let signer = try makeSigner(.none, key: nil, claims: [("a", "")])
        let error = #expect(throws: BackendJWTError.self) {
            _ = try mint(signer, [String?](repeating: "v", count: count))
        }
        #expect(error?.kind == .config)
        #expect(error?.message == "expected 3 values, got \(count)")
    }

    @Test(arguments: [("rsa2048-pkcs8.pem" as String?, SigningAlgorithm.rs256), (nil, .none)])
    func aTooSmallBufferGivesASpaceError(_ key: String?, _ algorithm: SigningAlgorithm) throws {
        let signer = try makeSigner(algorithm, key: key)
        let values: [[UInt8]?] = [[UInt8]("issuer"), [UInt8]("subject")]
        let length = try mint(signer, values: values).utf8.count
        // Every token with the same values has the same length, so exactly that much is enough.
        #expect(try mint(signer, values: values, capacity: length).utf8.count == length)
        for capacity in [length - 1, 10, 0] {
            let error = #expect(throws: BackendJWTError.self) { _ = try mint(signer, values: values, capacity: capacity) }
            #expect(error?.kind == .space)
            #expect(error?.message == "token needs \(length) bytes, buffer has \(capacity)")
        }
    }

    @Test func rs256NeedsAKey() {
        let error = #expect(throws: BackendJWTError.self) { _ = try makeSigner(.rs256, key: nil) }
        #expect(error?.kind == .config)
        #expect(error?.message == "no signing key: RS256 needs backend_jwt_signing_key")
    }

    @Test(arguments: [("ec-p256.pem", "EC P-256"), ("ec-p521.pem", "EC P-521"), ("ed25519.pem", "Ed25519")])
    func rs256NeedsAnRSAKey(_ file: String, _ type: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try makeSigner(.rs256, key: file) }
        #expect(error?.kind == .key)
        #expect(error?.message.contains("holds a key of type \(type), which cannot sign RS256; RS256 needs an RSA key") == true)
        #expect(error?.message.contains(file) == true)
    }

    @Test(arguments: [0, -1, 4_294_967_296, Int64.max, Int64.min] as [Int64])
    func theTTLMustBeInRange(_ ttl: Int64) {
        let error = #expect(throws: BackendJWTError.self) { _ = try makeSigner(.none, ttl: ttl, key: nil) }
        #expect(error?.kind == .config)
        #expect(error?.message == "token TTL \(ttl) is out of range")
    }

    // MARK: tokenBound

    /// Values that expand the most once in JSON, for claims of every type.
    static let worstCases: [(name: String, claims: [(String, String)], values: [[UInt8]?])] = [
        ("control characters (\\u00XX)", [("c", "")],
         [[UInt8](repeating: 0x01, count: 300), [UInt8](repeating: 0x1F, count: 300), [UInt8](repeating: 0x00, count: 300)]),
        ("invalid UTF-8 (U+FFFD)", [("c", "")],
         [[UInt8](repeating: 0xFF, count: 500), [UInt8](repeating: 0x80, count: 500), [0xC3]]),
        ("quotes and backslashes", [("c", "")],
         [[UInt8](repeating: 0x22, count: 100), [UInt8](repeating: 0x5C, count: 100), [0x22, 0x0A]]),
        ("one-byte bools", [("a", "type=bool"), ("b", "type=bool"), ("c", "type=bool")],
         [[UInt8]("1"), [UInt8]("0"), [UInt8]("1"), [UInt8]("0"), [UInt8]("1")]),
        ("one-byte values", [("a", ""), ("b", "type=int"), ("c", "type=float"), ("d", "type=date"), ("e", "type=long")],
         [[UInt8]("x"), [UInt8]("y"), [0x01], [UInt8]("0"), [UInt8]("1"), [UInt8]("0"), [UInt8]("9")]),
        ("empty and absent values", [("a", ""), ("b", "type=bool")], [nil, [], nil, []]),
        ("extreme numbers", [("a", "type=int"), ("b", "type=long"), ("c", "type=date"), ("d", "type=float")],
         [nil, nil, [UInt8]("-2147483648"), [UInt8]("-9223372036854775808"), [UInt8]("-9223372036854775808"),
          [UInt8]("-0.000000000000000000001e-300")]),
        ("long escaped claim names", [(String(repeating: "\"", count: 256), ""), (String(repeating: "é", count: 128), "type=bool")],
         [[0x01], [0xFF], [0x01], [UInt8]("1")]),
    ]

    @Test(arguments: ["rsa2048-pkcs8.pem", "rsa4096-pkcs8.pem", nil] as [String?])
    func tokenBoundIsNeverSmallerThanTheToken(_ key: String?) throws {
        for (name, claims, values) in Self.worstCases {
            let signer = try makeSigner(key == nil ? .none : .rs256, key: key, claims: claims)
            let total = values.reduce(0) { $0 + ($1?.count ?? 0) }
            let bound = signer.tokenBound(valueBytes: total)
            // The earliest time gives the longest iat and exp (20 characters each).
            for now in [Int64.min, 0, 1_700_000_000] {
                let token = try mint(signer, now: now, values: values, capacity: bound)
                #expect(token.utf8.count <= bound, "\(name), now \(now)")
            }
        }
    }

    @Test func tokenBoundGrowsWithTheValues() throws {
        let signer = try makeSigner(claims: [("a", "")])
        #expect(signer.tokenBound(valueBytes: 100) > signer.tokenBound(valueBytes: 0))
        #expect(signer.tokenBound(valueBytes: 1000) >= signer.tokenBound(valueBytes: 0) + 6 * 1000 * 4 / 3)
        #expect(signer.tokenBound(valueBytes: Int.max) == Int.max)
        #expect(signer.tokenBound(valueBytes: Int.max / 6 + 1) == Int.max)
    }
}
