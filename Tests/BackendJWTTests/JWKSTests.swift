@testable import BackendJWTABI
import CBackendJWT
import Crypto
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// The JWK Set of `backend_jwt_jwks`: what each entry holds, checked against jwt-kit's and
/// swift-crypto's view of the same keys, and jwt-kit verifying tokens with keys it reads from it.
@Suite("JWK Set")
struct JWKSTests {
    /// Members an entry must never carry: RSA and EC/OKP private parts, and HMAC keys.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// The entries of a set's JSON, parsed by Foundation.
    static func entries(_ set: JWKSet) throws -> [[String: Any]] {
        let object = try #require(JSONSerialization.jsonObject(with: Data(set.json())) as? [String: Any])
        #expect(Set(object.keys) == ["keys"])
        return try #require(object["keys"] as? [[String: Any]])
    }

    static func text(_ set: JWKSet) -> String { String(decoding: set.json(), as: UTF8.self) }

    /// The signers of an http block: one per asymmetric algorithm family and curve, and an HMAC one.
    static let signers: [(SigningAlgorithm, String)] = [
        (.rs256, "rsa2048-pkcs8.pem"), (.ps384, "rsa4096-pkcs8.pem"), (.es256, "ec-p256.pem"), (.es384, "ec-p384.pem"),
        (.es512, "ec-p521.pem"), (.edDSA, "ed25519.pem"), (.hs256, "secret-64.hex"),
    ]

    /// Every signer's key is published under the kid and alg of its tokens, with exactly the
    /// public members jwt-kit finds in the same key file; the HMAC secret is not published.
    @Test func signersArePublishedUnderTheirTokensKeyID() async throws {
        let set = JWKSet()
        var tokens: [(SigningAlgorithm, String, String)] = []
        for (algorithm, file) in Self.signers {
            let signer = try makeSigner(algorithm, key: file)
            try set.add(signer)
            tokens.append((algorithm, file, try mint(signer, now: Int64(Date().timeIntervalSince1970), ["i", "s"])))
        }
        let entries = try Self.entries(set)
        #expect(entries.count == Self.signers.count - 1)
        #expect(!entries.contains { $0["kty"] as? String == "oct" })

        let verifier = try await JWTKeyCollection().add(jwksJSON: Self.text(set))
        for (algorithm, file, token) in tokens where algorithm.family != .hmac {
            let header = try #require(
                JSONSerialization.jsonObject(with: Data(DecodedToken(token).header.utf8)) as? [String: String])
            let kid = try #require(header["kid"])
            let entry = try #require(entries.first { $0["kid"] as? String == kid }, "\(algorithm)")
            let jwk = try Independent.jwk(file)
            #expect(kid == Independent.thumbprint(jwk))
            #expect(Set(entry.keys) == Set(jwk.keys).union(["use", "alg", "kid"]), "\(algorithm)")
            #expect(Self.privateMembers.isDisjoint(with: entry.keys))
            #expect(entry["alg"] as? String == algorithm.joseName)
            #expect(entry["use"] as? String == "sig")
            for (name, value) in jwk { #expect(entry[name] as? String == value, "\(algorithm) \(name)") }
            // jwt-kit picks the key by the token's kid and checks the signature with it.
            _ = try await verifier.verify(token, as: SigningTests.RegisteredClaims.self)
        }
    }

    /// The JSON byte for byte: kty, use, alg, kid, then the public members in RFC 7638 order.
    @Test(arguments: [
        ("rsa2048-public.pem", #"{"kty":"RSA","use":"sig","alg":"RS256","kid":"KID","e":"E","n":"N"}"#),
        ("ec-p256-public.pem", #"{"kty":"EC","use":"sig","alg":"ES256","kid":"KID","crv":"P-256","x":"X","y":"Y"}"#),
        ("ec-p521.pem", #"{"kty":"EC","use":"sig","alg":"ES512","kid":"KID","crv":"P-521","x":"X","y":"Y"}"#),
        ("ed25519-public.pem", #"{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"KID","crv":"Ed25519","x":"X"}"#),
    ])
    func jwksKeyEntryLayout(_ file: String, _ template: String) throws {
        let set = JWKSet()
        try set.add(key: Fixture.publicKey(file), algorithm: nil)
        let jwk = try Independent.jwk(file)
        let entry = template.replacingOccurrences(of: "KID", with: Independent.thumbprint(jwk))
            .replacingOccurrences(of: #""e":"E""#, with: #""e":"\#(jwk["e"] ?? "")""#)
            .replacingOccurrences(of: #""n":"N""#, with: #""n":"\#(jwk["n"] ?? "")""#)
            .replacingOccurrences(of: #""x":"X""#, with: #""x":"\#(jwk["x"] ?? "")""#)
            .replacingOccurrences(of: #""y":"Y""#, with: #""y":"\#(jwk["y"] ?? "")""#)
        #expect(Self.text(set) == #"{"keys":["# + entry + "]}")
        // P-521 coordinates are 66 bytes, leading zeros kept (RFC 7518 6.2.1.2).
        if jwk["crv"] == "P-521" { #expect(decodeBase64URL(Substring(jwk["x"]!))?.count == 66) }
    }

    /// backend_jwt_jwks_key: public or private files, the default alg of each key type or the
    /// one named, the thumbprint as kid, never a private member.
    @Test(arguments: [
        ("rsa4096-public.pem", nil, "RS256"), ("rsa2048-pkcs1.pem", SigningAlgorithm.ps512, "PS512"),
        ("ec-p256-sec1.pem", nil, "ES256"), ("ec-p384.pem", nil, "ES384"), ("ec-p521.pem", .es512, "ES512"),
        ("ed25519.pem", nil, "EdDSA"), ("rsa2048-public.pem", .rs384, "RS384"),
    ])
    func publishesAJWKSKey(_ file: String, _ algorithm: SigningAlgorithm?, _ alg: String) throws {
        let set = JWKSet()
        try set.add(key: Fixture.publicKey(file), algorithm: algorithm)
        let entry = try #require(try Self.entries(set).first)
        let jwk = try Independent.jwk(file)
        #expect(entry["alg"] as? String == alg)
        #expect(entry["kid"] as? String == Independent.thumbprint(jwk))
        #expect(Set(entry.keys) == Set(jwk.keys).union(["use", "alg", "kid"]))
        #expect(Self.privateMembers.isDisjoint(with: entry.keys))
    }

    @Test(arguments: [
        ("ec-secp256k1.pem", nil as SigningAlgorithm?, BackendJWTError.Kind.key, "FILE holds a key of type EC secp256k1, which cannot be published"),
        ("rsa2048-public.pem", SigningAlgorithm.none, .config, "alg=none has no public key to publish"),
        ("rsa2048-public.pem", .hs256, .config, "alg=HS256 has no public key to publish"),
        ("ec-p256-public.pem", .es384, .key, "FILE holds a key of type EC P-256, which cannot sign ES384; ES384 needs an EC P-384 key"),
        ("ed25519-public.pem", .rs256, .key, "FILE holds a key of type Ed25519, which cannot sign RS256; RS256 needs an RSA key"),
    ])
    func refusesAKeyItCannotPublish(_ file: String, _ algorithm: SigningAlgorithm?, _ kind: BackendJWTError.Kind, _ message: String) throws {
        let key = try Fixture.publicKey(file)
        let error = #expect(throws: BackendJWTError.self) { try JWKSet().add(key: key, algorithm: algorithm) }
        #expect(error?.kind == kind)
        #expect(error?.message == message.replacingOccurrences(of: "FILE", with: "key file " + shownPath(Fixture.path(file))))
    }

    @Test(arguments: [
        ("rsa2048-encrypted.pem", "holds an encrypted private key; publish its public half instead (openssl pkey -in KEY -pubout)"),
        ("rsa1024.pem", "holds an RSA 1024-bit key; at least 2048 bits are required"),
        ("ed448.pem", "holds a key of type Ed448, which no JOSE algorithm here signs with"),
        ("certificate.pem", "holds a certificate; publish its public key (openssl x509 -in CERT -pubkey -noout)"),
        ("garbage.pem", "holds no PEM key"),
    ])
    func refusesAFileWithoutAPublishableKey(_ file: String, _ why: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try Fixture.publicKey(file) }
        #expect(error?.kind == .key)
        #expect(error?.message == "key file \(shownPath(Fixture.path(file))) \(why)")
    }

    @Test func hmacAndNoneSignersPublishNothing() throws {
        let set = JWKSet()
        for algorithm in [SigningAlgorithm.hs256, .hs384, .hs512] { try set.add(makeSigner(algorithm, key: "secret-64.hex")) }
        try set.add(makeSigner(.hs256, key: "secret-64.hex", keyID: .custom([UInt8]("hmac"))))
        try set.add(makeSigner(.none, key: nil))
        try set.add(makeSigner(.none, key: "rsa2048-pkcs8.pem"))
        #expect(Self.text(set) == #"{"keys":[]}"#)
        #expect(Self.text(JWKSet()) == #"{"keys":[]}"#)
    }

    /// x5c holds the certificate's DER in padded base64 (RFC 7517 4.7); x5t and x5t#S256 are its
    /// digests, as in the tokens' header.
    @Test(arguments: [
        (SigningAlgorithm.rs256, "rsa2048-pkcs8.pem", "certificate.pem"), (.es256, "ec-p256.pem", "certificate-ec-p256.pem"),
    ])
    func certificatesArePublished(_ algorithm: SigningAlgorithm, _ keyFile: String, _ certificate: String) throws {
        let set = JWKSet()
        let signer = try makeSigner(algorithm, key: keyFile, certificate: certificate)
        try set.add(signer)
        let entry = try #require(try Self.entries(set).first)
        let der = try Fixture.der(certificate)
        let x5c = try #require(entry["x5c"] as? [String])
        #expect(x5c.count == 1)
        #expect(x5c.first.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } == der)
        #expect(x5c.first == Data(der).base64EncodedString())
        #expect(entry["x5t"] as? String == base64url(Crypto.Insecure.SHA1.hash(data: der)))
        #expect(entry["x5t#S256"] as? String == base64url(SHA256.hash(data: der)))
        let header = try JSONSerialization.jsonObject(with: Data(DecodedToken(mint(signer, [nil, nil])).header.utf8)) as? [String: String]
        #expect(header?["x5t"] == entry["x5t"] as? String)
        #expect(header?["x5t#S256"] == entry["x5t#S256"] as? String)
        #expect(header?["kid"] == entry["kid"] as? String)
    }

    /// One key signing in several locations is one entry, and keeps a certificate configured in
    /// any of them; a jwks_key of the same key and alg adds nothing.
    @Test func oneKeyInSeveralPlacesIsOneEntry() throws {
        let set = JWKSet()
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem"))
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs1.pem"))
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem", certificate: "certificate.pem"))
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem"))
        try set.add(key: Fixture.publicKey("rsa2048-public.pem"), algorithm: nil)
        let entries = try Self.entries(set)
        #expect(entries.count == 1)
        #expect(entries.first?["x5c"] != nil)
    }

    /// The keys that sign come first, whatever the order the keys were added in (nginx adds
    /// backend_jwt_jwks_key keys while reading the http block, before any location's signer):
    /// a verifier that takes the first key keeps working while a new key is only published.
    @Test func signingKeysComeBeforePublishedOnes() throws {
        let set = JWKSet()
        try set.add(key: Fixture.publicKey("ec-p256-public.pem"), algorithm: nil)  // upcoming
        try set.add(key: Fixture.publicKey("ed25519-public.pem"), algorithm: nil)  // retired
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem"))
        try set.add(key: Fixture.publicKey("rsa4096-public.pem"), algorithm: nil)
        try set.add(makeSigner(.es384, key: "ec-p384.pem"))
        #expect(try Self.entries(set).map { $0["alg"] as? String } == ["RS256", "ES384", "ES256", "EdDSA", "RS256"])
        #expect(try Self.entries(set).first?["n"] as? String == (try Independent.jwk("rsa2048-public.pem"))["n"])
    }

    /// A published key that a signer then signs with is one entry, among the signing ones.
    @Test func aPublishedKeyThatSignsMovesToTheFront() throws {
        let set = JWKSet()
        try set.add(key: Fixture.publicKey("ed25519-public.pem"), algorithm: nil)
        try set.add(key: Fixture.publicKey("rsa2048-public.pem"), algorithm: nil)
        try set.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem"))
        let entries = try Self.entries(set)
        #expect(entries.map { $0["alg"] as? String } == ["RS256", "EdDSA"])
        #expect(entries.first?["kid"] as? String == (try Independent.thumbprint(of: "rsa2048-public.pem")))
    }

    /// One key under two algorithms is two entries with the same thumbprint (README: give each
    /// its own backend_jwt_key_id); with distinct kids jwt-kit verifies both kinds of tokens.
    @Test func oneKeyUnderTwoAlgorithms() async throws {
        let sameKid = JWKSet()
        try sameKid.add(makeSigner(.rs256, key: "rsa2048-pkcs8.pem"))
        try sameKid.add(makeSigner(.ps256, key: "rsa2048-pkcs8.pem"))
        let entries = try Self.entries(sameKid)
        #expect(entries.map { $0["alg"] as? String } == ["RS256", "PS256"])
        #expect(Set(entries.map { $0["kid"] as? String }) == [try Independent.thumbprint(of: "rsa2048-public.pem")])

        let set = JWKSet()
        let rs256 = try makeSigner(.rs256, key: "rsa2048-pkcs8.pem", keyID: .custom([UInt8]("rsa-rs256")))
        let ps256 = try makeSigner(.ps256, key: "rsa2048-pkcs8.pem", keyID: .custom([UInt8]("rsa-ps256")))
        try set.add(rs256)
        try set.add(ps256)
        let verifier = try await JWTKeyCollection().add(jwksJSON: Self.text(set))
        let now = Int64(Date().timeIntervalSince1970)
        for signer in [rs256, ps256] {
            _ = try await verifier.verify(mint(signer, now: now, ["i", "s"]), as: SigningTests.RegisteredClaims.self)
        }
    }

    /// One key with two certificates (in two locations): each token's x5t is in the set.
    @Test func twoCertificatesForOneKeyAreBothPublished() throws {
        let set = JWKSet()
        try set.add(makeSigner(certificate: "certificate.pem"))
        try set.add(makeSigner(certificate: "certificate-2.pem"))
        let published = Set(try Self.entries(set).compactMap { $0["x5t#S256"] as? String })
        let expected = Set(try ["certificate.pem", "certificate-2.pem"].map {
            String(decoding: try Fixture.certificate($0).sha256Thumbprint, as: UTF8.self)
        })
        #expect(published == expected)
    }

    /// With backend_jwt_key_id off, tokens carry no kid, but the entry still has one (the
    /// thumbprint): libraries such as jwt-kit refuse a set with an entry that has none.
    @Test func keyIDOffPublishesTheThumbprint() throws {
        let set = JWKSet()
        try set.add(makeSigner(.es256, key: "ec-p256.pem", keyID: .off))
        let entry = try #require(try Self.entries(set).first)
        let thumbprint = try #require(try Fixture.key("ec-p256.pem").thumbprint())
        #expect(entry["kid"] as? String == String(decoding: thumbprint, as: UTF8.self))
        #expect(Set(entry.keys) == ["kty", "use", "alg", "kid", "crv", "x", "y"])
    }

    // MARK: ETag

    static func etag(_ set: JWKSet) -> String { String(decoding: JWKSet.etag(of: set.json()), as: UTF8.self) }

    /// A quoted prefix of the SHA-256 of the JSON (computed here with swift-crypto): the same for
    /// the same content however it was assembled, different for different content.
    @Test func etagFollowsTheContent() throws {
        func build(_ files: [String]) throws -> JWKSet {
            let set = JWKSet()
            for file in files { try set.add(key: Fixture.publicKey(file), algorithm: nil) }
            return set
        }
        let a = try build(["rsa2048-public.pem", "ec-p256-public.pem"])
        let b = try build(["rsa2048-pkcs8.pem", "ec-p256.pem", "rsa2048-public.pem"])
        let c = try build(["rsa2048-public.pem", "ec-p256-public.pem", "ed25519-public.pem"])
        let d = try build(["ec-p256-public.pem", "rsa2048-public.pem"])
        #expect(Self.text(a) == Self.text(b))
        #expect(Self.etag(a) == Self.etag(b))
        #expect(Self.etag(a) == Self.etag(a))
        #expect(Self.etag(a) != Self.etag(c))
        #expect(Self.etag(a) != Self.etag(d))
        #expect(Self.etag(a) != Self.etag(JWKSet()))

        let expected = "\"" + base64url(SHA256.hash(data: a.json())).prefix(22) + "\""
        #expect(Self.etag(a) == expected)
        #expect(Self.etag(a).wholeMatch(of: /"[A-Za-z0-9_-]{22}"/) != nil)
    }

    // MARK: C ABI

    /// Calls one of bjwt_config_jwks_json or bjwt_config_jwks_etag with a buffer of `cap` bytes
    /// inside a larger one; returns the length it reports, what it wrote, and whether it wrote
    /// past `cap`.
    static func copyOut(
        _ function: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int, _ config: OpaquePointer?, cap: Int
    ) -> (length: Int, written: [UInt8], untouchedPastCap: Bool) {
        var buffer = [UInt8](repeating: 0xEE, count: cap + 16)
        let length = buffer.withUnsafeMutableBufferPointer { function(config, $0.baseAddress, cap) }
        return (length, Array(buffer.prefix(while: { $0 != 0xEE })), buffer[cap...].allSatisfy { $0 == 0xEE })
    }

    /// backend_jwt_jwks_key at the http level, then the signer of an enabled location merged into
    /// it: the configuration's set holds both, and is copied out only when it fits.
    @Test func abiBuildsTheSetAndCopiesItOutOnlyWhenItFits() throws {
        let conf = ABITests.Conf()
        let http = conf.level()
        try conf.apply(http, "backend_jwt_jwks_key", [Fixture.path("rsa2048-public.pem"), "alg=PS256"])
        let location = conf.level()
        try conf.apply(location, [
            ("backend_jwt", ["on"]), ("backend_jwt_signing_algorithm", ["ES384"]),
            ("backend_jwt_signing_key", [Fixture.path("ec-p384.pem")]),
        ])
        let err = ABITests.ErrorBuffer()
        try #require(conf.merge(http, location, err) == Int32(BJWT_OK), "\(err.message)")

        let expected = JWKSet()
        try expected.add(key: Fixture.publicKey("rsa2048-public.pem"), algorithm: .ps256)
        try expected.add(makeSigner(.es384, key: "ec-p384.pem"))
        let json = expected.json()
        let etag = JWKSet.etag(of: json)
        #expect(try Self.entries(expected).count == 2)

        for (function, content) in [(bjwtConfigJWKSJSON, json), (bjwtConfigJWKSETag, etag)] as [((OpaquePointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int, [UInt8])] {
            #expect(function(conf.handle, nil, 0) == content.count)
            for cap in [0, 1, content.count - 1] {
                let small = Self.copyOut(function, conf.handle, cap: cap)
                #expect(small.length == content.count)
                #expect(small.written.isEmpty, "nothing is written into a buffer that is too small")
                #expect(small.untouchedPastCap)
            }
            for cap in [content.count, content.count + 100] {
                let fits = Self.copyOut(function, conf.handle, cap: cap)
                #expect(fits.length == content.count)
                #expect(fits.written == content, "exactly the content, no NUL after it")
            }
            #expect(function(nil, nil, 0) == 0)
        }
    }

    @Test(arguments: [
        ("rsa2048-public.pem", "alg=HS999", BJWT_ERR_CONFIG, "unknown signing algorithm \"HS999\";"),
        ("rsa2048-public.pem", "algo=RS256", BJWT_ERR_CONFIG, "unknown option \"algo=RS256\"; the only option is alg=ALGORITHM"),
        ("rsa2048-public.pem", "alg=none", BJWT_ERR_CONFIG, "alg=none has no public key to publish"),
        ("rsa2048-public.pem", "alg=ES256", BJWT_ERR_KEY, "which cannot sign ES256; ES256 needs an EC P-256 key"),
        ("missing.pem", nil, BJWT_ERR_KEY, "cannot open key file"),
    ] as [(String, String?, Int, String)])
    func abiKeyFileErrors(_ file: String, _ option: String?, _ status: Int, _ message: String) {
        let conf = ABITests.Conf()
        let err = ABITests.ErrorBuffer()
        let rc = conf.directive(conf.level(), "backend_jwt_jwks_key", [Fixture.path(file)] + (option.map { [$0] } ?? []), err)
        #expect(rc == Int32(status))
        #expect(err.message.hasPrefix("\"backend_jwt_jwks_key\" directive: "), "\(err.message)")
        #expect(err.message.contains(message), "\(err.message)")
        #expect(bjwtConfigJWKSJSON(conf.handle, nil, 0) == #"{"keys":[]}"#.utf8.count, "a refused key adds nothing")
    }

    /// A relative backend_jwt_jwks_key is taken from the configuration prefix.
    @Test func abiKeyFileIsTakenFromThePrefix() throws {
        let conf = ABITests.Conf(prefix: Fixture.directory + "/")
        try conf.apply(conf.level(), "backend_jwt_jwks_key", ["ed25519-public.pem"])
        let expected = JWKSet()
        try expected.add(key: Fixture.publicKey("ed25519-public.pem"), algorithm: nil)
        #expect(Self.copyOut(bjwtConfigJWKSJSON, conf.handle, cap: 4096).written == expected.json())
    }

    @Test func abiNullArguments() {
        let err = ABITests.ErrorBuffer()
        let rc = err.call { e, cap in
            ABITests.withBytes("backend_jwt_jwks_key") { n, nl in
                ABITests.withArguments([Fixture.path("rsa2048-public.pem")]) {
                    bjwtDirective(nil, nil, n, nl, $0, $1, $2, nil, 0, 1, 0, nil, e, cap)
                }
            }
        }
        #expect(rc == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == "bjwt_directive: missing argument")
        #expect(bjwtConfigJWKSJSON(nil, nil, 0) == 0)
        #expect(bjwtConfigJWKSETag(nil, nil, 0) == 0)
    }
}
