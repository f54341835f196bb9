import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Every algorithm, with tokens signed by jwt-kit, verified with keys from PEM files and JWKs.
@Suite struct VerifyAlgorithmTests {
    typealias F = VerifyFixture

    static let asymmetric: [SigningAlgorithm] = JWSVerifier.defaultAlgorithms
    static let hmac: [SigningAlgorithm] = [.hs256, .hs384, .hs512]

    @Test("jwt-kit's token verifies with the PEM key", arguments: asymmetric)
    func pem(_ algorithm: SigningAlgorithm) async throws {
        let verifier = try F.verifier(F.keys(file: F.publicKeyFile(algorithm)))
        let token = try await F.token(algorithm)
        let verified = try verifier.verify(token, now: F.now)
        #expect(verified.algorithm == algorithm)
        #expect(verified.claim("sub") == Array("alice".utf8))
    }

    @Test("jwt-kit's token verifies with the JWK Set", arguments: asymmetric + hmac)
    func jwks(_ algorithm: SigningAlgorithm) async throws {
        let set = F.jwks([
            try F.jwk(algorithm, ["kid": "\"k1\"", "use": "\"sig\"", "alg": "\"\(algorithm.joseName)\""])
        ])
        let algorithms = algorithm.family == .hmac ? [algorithm] : nil
        let verifier = try F.verifier(F.keys(set), algorithms: algorithms)
        let verified = try verifier.verify(try await F.token(algorithm), now: F.now)
        #expect(verified.key.keyID == Array("k1".utf8))
    }

    @Test("the token verifies through the C-facing buffer entry too", arguments: [SigningAlgorithm.es256, .ps384])
    func buffer(_ algorithm: SigningAlgorithm) async throws {
        let verifier = try F.verifier(F.keys(file: F.publicKeyFile(algorithm)))
        let token = try await F.token(algorithm)
        let verified = try token.withUnsafeBufferPointer { buffer throws(BackendJWTError) in
            try verifier.verify(buffer, now: F.now)
        }
        #expect(verified.expiration == F.now + 300)
    }

    @Test(
        "a token signed by another key of the same type is refused",
        arguments: [SigningAlgorithm.rs256, .es256, .hs256])
    func otherKey(_ algorithm: SigningAlgorithm) async throws {
        let other: [VerificationKey]
        switch algorithm {
        case .rs256: other = try F.keys(file: "rsa4096-public.pem")
        case .es256: other = try F.keys(F.jwks([otherEC()]))
        default: other = try F.keys(F.jwks([#"{"kty":"oct","k":"\#(base64url([UInt8](repeating: 7, count: 32)))"}"#]))
        }
        let verifier = try F.verifier(other, algorithms: algorithm.family == .hmac ? [algorithm] : nil)
        let reason = F.refusal(verifier, try await F.token(algorithm, kid: nil))
        #expect(reason?.contains("signature does not verify") == true)
    }

    /// A P-256 JWK that is not the fixture's key (a fresh one from swift-crypto).
    private func otherEC() throws -> String {
        let key = try ES256PrivateKey().publicKey.parameters!
        return #"{"kty":"EC","crv":"P-256","x":"\#(key.x)","y":"\#(key.y)"}"#
    }

    @Test("an HS token is refused unless HS is listed, even with an oct key")
    func hmacNotByDefault() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.hs256), try F.jwk(.rs256, ["kid": "\"r\""])]))
        let verifier = try F.verifier(keys)
        #expect(F.refusal(verifier, try await F.token(.hs256)) == "alg HS256 is not allowed")
    }

    @Test("an oct key shorter than the hash does not serve that HS algorithm")
    func shortSecret() async throws {
        let secret = [UInt8](repeating: 1, count: 32)
        let keys = try F.keys(F.jwks([#"{"kty":"oct","kid":"k1","k":"\#(base64url(secret))"}"#]))
        let verifier = try F.verifier(keys, algorithms: [.hs256, .hs512])
        _ = try verifier.verify(try await F.token(.hs256, secret: secret), now: F.now)
        let token = try F.handMade(
            header: #"{"alg":"HS512","kid":"k1"}"#, payload: F.validPayload, secret: secret, hash: .hs512)
        let reason = F.refusal(verifier, token)
        #expect(reason == "no verification key with kid \"k1\" can verify HS512")
    }
}
