import COpenSSL
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Verification key files: JWK Sets and single JWKs of each kind, PEM public keys, certificates
/// and private keys (reduced to the public half), and malformed files refused with the file named.
@Suite struct VerifyKeyFileTests {
    typealias F = VerifyFixture

    /// Loads `text` from a real file (through `KeyFile.load`), and returns the keys.
    func load(_ text: String, name: String = "keys.json") throws -> [VerificationKey] {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        return try VerificationKey.load(path: Array(try directory.write(name, text).utf8))
    }

    /// The message of the refusal, which must name the file.
    func refusal(_ text: String, name: String = "keys.json") throws -> String {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write(name, text)
        do {
            _ = try VerificationKey.load(path: Array(path.utf8))
            Issue.record("accepted")
            return ""
        } catch {
            #expect(error.kind == .key)
            #expect(error.message.hasPrefix("verification key file \(shownPath(path)) "), "\(error.message)")
            return error.message
        }
    }

    @Test(
        "a JWK Set file of each kind verifies jwt-kit's token",
        arguments: SigningAlgorithm.allCases.filter { $0 != .none })
    func jwksFile(_ algorithm: SigningAlgorithm) async throws {
        let keys = try load(F.jwks([try F.jwk(algorithm)]))
        #expect(keys.count == 1)
        let verifier = try F.verifier(keys, algorithms: [algorithm])
        _ = try verifier.verify(try await F.token(algorithm), now: F.now)
    }

    @Test("a single JWK file", arguments: [SigningAlgorithm.rs256, .es384, .edDSA, .hs512])
    func singleJWK(_ algorithm: SigningAlgorithm) async throws {
        let keys = try load(try F.jwk(algorithm))
        _ = try F.verifier(keys, algorithms: [algorithm]).verify(try await F.token(algorithm), now: F.now)
    }

    @Test func setWithEveryKind() throws {
        let all: [SigningAlgorithm] = [.rs256, .es256, .es384, .es512, .edDSA, .hs256]
        let keys = try load(F.jwks(try all.enumerated().map { try F.jwk($1, ["kid": "\"\($0)\""]) }))
        #expect(
            keys.map(\.type.description) == [
                "RSA 2048-bit", "EC P-256", "EC P-384", "EC P-521", "Ed25519", "HMAC secret of 64 bytes",
            ])
        #expect(keys.map { String(decoding: $0.keyID ?? [], as: UTF8.self) } == ["0", "1", "2", "3", "4", "5"])
    }

    @Test func keysThisVerifierDoesNotUseAreSkippedInASet() throws {
        let x25519 = #"{"kty":"OKP","crv":"X25519","use":"enc","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}"#
        let future = #"{"kty":"AKP","alg":"ML-DSA-44","pub":"AAAA"}"#
        let keys = try load(F.jwks([x25519, try F.jwk(.rs256), future]))
        #expect(keys.count == 1)
        let message = try refusal(F.jwks([x25519, future]))
        #expect(message.contains("is a JWK Set with no key this verifier can use"))
        #expect(message.contains("OKP curve \"X25519\" is not Ed25519"))
        #expect(try refusal(x25519).contains("holds a JWK this verifier cannot use"))
    }

    @Test func privateJWKIsReducedToItsPublicHalf() async throws {
        // A private RSA JWK has d (and p, q, dp, dq, qi) besides n and e; they are not read.
        let key = try Insecure.RSA.PrivateKey(pem: Fixture.text("rsa2048-pkcs8.pem"))
        let (n, e) = try key.publicKey.getKeyPrimitives()
        let d = [UInt8](repeating: 0x5A, count: 256)
        let json =
            #"{"kty":"RSA","kid":"k1","n":"\#(base64url(n.drop { $0 == 0 }))","e":"\#(base64url(e.drop { $0 == 0 }))","d":"\#(base64url(d))"}"#
        let keys = try load(json)
        #expect(!hasPrivatePart(keys[0]))
        _ = try F.verifier(keys).verify(try await F.token(.rs256), now: F.now)
    }

    @Test(
        "PEM files: a public key, a certificate, private keys reduced to the public half",
        arguments: [
            ("rsa2048-public.pem", SigningAlgorithm.rs256), ("certificate.pem", .ps256), ("rsa2048-pkcs8.pem", .rs512),
            ("rsa2048-pkcs1.pem", .rs256), ("ec-p256-sec1.pem", .es256), ("certificate-ec-p256.pem", .es256),
            ("ec-p521.pem", .es512), ("ed25519.pem", .edDSA), ("ed25519-public.pem", .edDSA),
        ])
    func pem(_ file: String, _ algorithm: SigningAlgorithm) async throws {
        let keys = try F.keys(file: file)
        #expect(keys.count == 1)
        #expect(!hasPrivatePart(keys[0]))
        #expect(keys[0].keyID == nil)
        _ = try F.verifier(keys).verify(try await F.token(algorithm), now: F.now)
    }

    @Test(
        "PEM files that are refused",
        arguments: [
            ("rsa2048-encrypted.pem", "holds an encrypted private key"),
            ("rsa2048-pkcs1-encrypted.pem", "holds an encrypted private key"),
            ("rsa1024.pem", "holds an RSA 1024-bit key; at least 2048 bits are required"),
            ("ec-secp256k1.pem", "on curve secp256k1; JOSE verifies P-256, P-384 and P-521"),
            ("ed448.pem", "holds an Ed448 key"),
            ("rsa-pss.pem", "holds an RSA-PSS key"),
            ("garbage.pem", "is neither JSON (a JWK or JWK Set) nor PEM"),
            ("truncated.pem", "holds a damaged PEM block"),
        ])
    func refusedPEM(_ file: String, _ expected: String) throws {
        let path = Fixture.path(file)
        #expect {
            _ = try VerificationKey.load(path: Array(path.utf8))
        } throws: { error in
            let message = (error as? BackendJWTError)?.message ?? ""
            return message.hasPrefix("verification key file \(shownPath(path)) ") && message.contains(expected)
        }
    }

    @Test func certificateChainIsRefused() throws {
        let chain = try Fixture.text("certificate.pem") + Fixture.text("certificate-2.pem")
        #expect(
            try refusal(chain, name: "chain.pem").contains("holds 2 PEM blocks; give one key or certificate per file"))
    }

    @Test func directoryAndMissingFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: BackendJWTError.self) { _ = try VerificationKey.load(path: Array(directory.path.utf8)) }
        #expect(throws: BackendJWTError.self) {
            _ = try VerificationKey.load(path: Array((directory.path + "/none").utf8))
        }
    }

    static func rsaJWK(_ replace: [String: String]) throws -> String {
        try VerifyFixture.jwk(.rs256, replace)
    }

    @Test(
        "malformed JWKs are refused, naming the file and the JWK",
        arguments: [
            (#"{"keys":"#, "is not valid JSON: unexpected end at byte 8"),
            (#"{"keys":{}}"#, "has a \"keys\" member that is not an array"),
            (#"{"keys":[1]}"#, "has JWK 1 of the set that is not a JSON object"),
            (#"{"keys":[{"n":"AQAB"}]}"#, "has JWK 1 of the set without \"kty\""),
            (#"{"keys":[{"kty":"RSA","e":"AQAB"}]}"#, "has JWK 1 of the set without \"n\""),
            (#"{"kty":"RSA","n":"AQAB=","e":"AQAB"}"#, "has the JWK whose \"n\" is not base64url: it has padding"),
            (#"{"kty":"RSA","n":"AQ+B","e":"AQAB"}"#, "whose \"n\" is not base64url: it uses the base64 alphabet"),
            (#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#, "has the JWK whose \"n\" and \"e\" are not an RSA public key"),
            (#"{"kty":"oct","k":""}"#, "whose \"k\" is empty"),
            (#"{"kty":"oct","k":"AAAA","kid":7}"#, "whose \"kid\" is not a string"),
            (#"{"kty":"oct","k":"AAAA","key_ops":"verify"}"#, "whose \"key_ops\" is not an array of distinct strings"),
            (
                #"{"kty":"oct","k":"AAAA","key_ops":["verify","verify"]}"#,
                "whose \"key_ops\" is not an array of distinct strings"
            ),
            (#"{"kty":"oct","kty":"oct","k":"AAAA"}"#, "is not valid JSON: duplicate member name \"kty\""),
            (#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#, "whose Ed25519 \"x\" is not 32 bytes"),
            (
                #"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
                "whose \"x\" and \"y\" are not 32 bytes each, as P-256 needs"
            ),
            (
                #"{"kty":"EC","crv":"P-256K","x":"AAAA","y":"AAAA"}"#,
                "holds a JWK this verifier cannot use: EC curve \"P-256K\""
            ),
            (#"{"kty":"foo"}"#, "holds a JWK this verifier cannot use: kty \"foo\" is not RSA, EC, OKP or oct"),
        ])
    func malformedJWK(_ json: String, _ expected: String) throws {
        let message = try refusal(json)
        #expect(message.contains(expected), "\(message)")
    }

    @Test func ecPointNotOnTheCurveIsRefused() throws {
        let jwk = try Independent.jwk("ec-p256.pem")
        var y = try #require(decodeBase64URL(Substring(jwk["y"]!)))
        y[31] ^= 1
        let json = #"{"kty":"EC","crv":"P-256","x":"\#(jwk["x"]!)","y":"\#(base64url(y))"}"#
        #expect(try refusal(json).contains("whose point (\"x\", \"y\") is not on P-256"))
    }

    @Test func rsaJWKUnder2048BitsIsRefused() throws {
        // The modulus of the 1024-bit fixture, read by OpenSSL (jwt-kit refuses such keys).
        let pem = Array(try Fixture.text("rsa1024.pem").utf8)
        let pkey = try #require(
            pem.withUnsafeBytes { buffer -> OpaquePointer? in
                let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count))
                defer { BIO_free(bio) }
                return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
            })
        defer { EVP_PKEY_free(pkey) }
        var bn: OpaquePointer?
        try #require(EVP_PKEY_get_bn_param(pkey, "n", &bn) == 1)
        defer { BN_free(bn) }
        var n = [UInt8](repeating: 0, count: 128)
        try #require(BN_bn2binpad(bn, &n, 128) == 128)
        let json = #"{"keys":[{"kty":"RSA","n":"\#(base64url(n))","e":"AQAB"}]}"#
        #expect(try refusal(json).contains("has JWK 1 of the set that is an RSA 1024-bit key"))
    }

    /// Whether OpenSSL holds a private component for the key (`d` for RSA, `priv` for EC and
    /// Ed25519).
    func hasPrivatePart(_ key: VerificationKey) -> Bool {
        guard let pkey = key.pkey else { return true }
        defer { ERR_clear_error() }
        var bn: OpaquePointer?
        if EVP_PKEY_get_bn_param(pkey, "d", &bn) == 1 || EVP_PKEY_get_bn_param(pkey, "priv", &bn) == 1 {
            BN_free(bn)
            return true
        }
        var raw = [UInt8](repeating: 0, count: 64)
        var length = raw.count
        return EVP_PKEY_get_raw_private_key(pkey, &raw, &length) == 1
    }
}
