import Crypto
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Tokens for the verifier's suites, made by jwt-kit (an independent JOSE implementation), and
/// hand-made ones for what jwt-kit refuses to produce (duplicate members, `alg: none`, `crit`).
enum VerifyFixture {
    static let now: Int64 = 1_700_000_000
    static let hmacSecretFile = "secret-64.hex"

    /// The claims of a test token; nil members are left out.
    struct Claims: JWTPayload, Equatable {
        var iss: String? = "https://idp.example.com"
        var sub: String? = "alice"
        var aud: [String]? = ["orders-api"]
        var exp: Int64? = now + 300
        var nbf: Int64? = nil
        var iat: Int64? = now - 10
        var email: String? = "alice@example.com"
        var realmAccess: RealmAccess? = RealmAccess(roles: ["admin", "user"])

        struct RealmAccess: Codable, Equatable { var roles: [String] }

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, nbf, iat, email
            case realmAccess = "realm_access"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The private key file that signs with `algorithm`.
    static func privateKeyFile(_ algorithm: SigningAlgorithm) -> String {
        switch algorithm.family {
        case .rsa, .rsaPSS: "rsa2048-pkcs8.pem"
        case .ecdsa: ["ES256": "ec-p256.pem", "ES384": "ec-p384.pem", "ES512": "ec-p521.pem"][algorithm.joseName]!
        case .edDSA: "ed25519.pem"
        case .hmac, .none: hmacSecretFile
        }
    }

    /// A verification key file for `algorithm` in PEM: the public key where the fixtures have
    /// one, otherwise the private key (which the loader reduces to its public half).
    static func publicKeyFile(_ algorithm: SigningAlgorithm) -> String {
        switch algorithm {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: "rsa2048-public.pem"
        case .es256: "ec-p256-public.pem"
        case .edDSA: "ed25519-public.pem"
        default: privateKeyFile(algorithm)
        }
    }

    static func hmacSecret() throws -> [UInt8] { try bytes(hex: Fixture.text(hmacSecretFile)) }

    static func digest(_ algorithm: SigningAlgorithm) -> DigestAlgorithm {
        switch algorithm.hashBytes {
        case 48: .sha384
        case 64: .sha512
        default: .sha256
        }
    }

    /// jwt-kit's key collection holding the private key of `algorithm` under `kid`.
    static func signer(_ algorithm: SigningAlgorithm, kid: String?, secret: [UInt8]? = nil) async throws
        -> JWTKeyCollection
    {
        let keys = JWTKeyCollection()
        let id = kid.map { JWKIdentifier(string: $0) }
        let pem = algorithm.family == .hmac ? "" : try Fixture.text(privateKeyFile(algorithm))
        switch algorithm {
        case .rs256, .rs384, .rs512:
            return await keys.add(
                rsa: try Insecure.RSA.PrivateKey(pem: pem), digestAlgorithm: digest(algorithm), kid: id)
        case .ps256, .ps384, .ps512:
            return await keys.add(
                pss: try Insecure.RSA.PrivateKey(pem: pem), digestAlgorithm: digest(algorithm), kid: id)
        case .es256: return await keys.add(ecdsa: try ES256PrivateKey(pem: pem), kid: id)
        case .es384: return await keys.add(ecdsa: try ES384PrivateKey(pem: pem), kid: id)
        case .es512: return await keys.add(ecdsa: try ES512PrivateKey(pem: pem), kid: id)
        case .edDSA: return await keys.add(eddsa: try EdDSA.PrivateKey(pem: pem), kid: id)
        case .hs256, .hs384, .hs512:
            return await keys.add(
                hmac: HMACKey(from: try secret ?? hmacSecret()), digestAlgorithm: digest(algorithm), kid: id)
        case .none: return await keys.addUnsecuredNone()
        }
    }

    /// A token signed by jwt-kit.
    static func token(
        _ algorithm: SigningAlgorithm, kid: String? = "k1", claims: Claims = Claims(), header: JWTHeader = JWTHeader(),
        secret: [UInt8]? = nil
    ) async throws -> [UInt8] {
        let keys = try await signer(algorithm, kid: kid, secret: secret)
        return Array(try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) }, header: header).utf8)
    }

    /// A JWK for `algorithm`'s key (public members from jwt-kit, or `k` for HS), with `extra`
    /// members (such as `"kid":"k1"`) as JSON text.
    static func jwk(_ algorithm: SigningAlgorithm, _ extra: [String: String] = ["kid": "\"k1\""]) throws -> String {
        var members: [String: String]
        if algorithm.family == .hmac {
            members = ["kty": "\"oct\"", "k": "\"\(base64url(try hmacSecret()))\""]
        } else {
            members = try Independent.jwk(privateKeyFile(algorithm)).mapValues { "\"\($0)\"" }
        }
        members.merge(extra) { $1 }
        return "{" + members.keys.sorted().map { "\"\($0)\":\(members[$0]!)" }.joined(separator: ",") + "}"
    }

    /// A JWK Set of the given JWKs.
    static func jwks(_ jwks: [String]) -> String { "{\"keys\":[" + jwks.joined(separator: ",") + "]}" }

    /// Keys parsed from JSON or PEM text as if read from a file named `name`.
    static func keys(_ text: String, name: String = "test.jwks") throws(BackendJWTError) -> [VerificationKey] {
        try VerificationKey.parse(Array(text.utf8), path: name)
    }

    /// The keys of a fixture file, through `VerificationKey.load`.
    static func keys(file: String) throws(BackendJWTError) -> [VerificationKey] {
        try VerificationKey.load(path: Array(Fixture.path(file).utf8))
    }

    /// A verifier for `algorithms` with the usual checks (issuer, audience).
    static func verifier(
        _ keys: [VerificationKey], algorithms: [SigningAlgorithm]? = nil,
        issuers: [String] = ["https://idp.example.com"],
        audiences: [String] = ["orders-api"], leeway: Int64 = 0, requireExpiration: Bool = true
    ) throws(BackendJWTError) -> JWSVerifier {
        try JWSVerifier(
            keys: keys, algorithms: algorithms, issuers: issuers.map { Array($0.utf8) },
            audiences: audiences.map { Array($0.utf8) }, leeway: leeway, requireExpiration: requireExpiration)
    }

    /// A token built by hand from header and payload JSON text, HMAC-signed with `secret`
    /// (swift-crypto), or with the given signature segment.
    static func handMade(
        header: String, payload: String, secret: [UInt8]? = nil, hash: SigningAlgorithm = .hs256,
        signature: String? = nil
    ) throws -> [UInt8] {
        try handMade(
            header: Array(header.utf8), payload: Array(payload.utf8), secret: secret, hash: hash, signature: signature)
    }

    /// Same, with header and payload as bytes (which need not be UTF-8).
    static func handMade(
        header: [UInt8], payload: [UInt8], secret: [UInt8]? = nil, hash: SigningAlgorithm = .hs256,
        signature: String? = nil
    ) throws -> [UInt8] {
        let input = base64url(header) + "." + base64url(payload)
        if let signature { return Array((input + "." + signature).utf8) }
        let key = SymmetricKey(data: try secret ?? hmacSecret())
        let mac: [UInt8] =
            switch hash {
            case .hs384: Array(HMAC<SHA384>.authenticationCode(for: Array(input.utf8), using: key))
            case .hs512: Array(HMAC<SHA512>.authenticationCode(for: Array(input.utf8), using: key))
            default: Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key))
            }
        return Array((input + "." + base64url(mac)).utf8)
    }

    /// The payload of a valid token as JSON text.
    static let validPayload =
        #"{"iss":"https://idp.example.com","sub":"alice","aud":"orders-api","exp":1700000300,"iat":1699999990}"#

    /// The reason `verify` gives for refusing `token`; nil if it is accepted.
    static func refusal(_ verifier: JWSVerifier, _ token: [UInt8], now: Int64 = now) -> String? {
        do {
            _ = try verifier.verify(token, now: now)
            return nil
        } catch {
            #expect(error.kind == .token)
            return error.message
        }
    }
}
