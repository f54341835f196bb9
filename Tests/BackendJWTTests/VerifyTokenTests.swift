import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// What a verified token offers the variables and `backend_jwt_copy_claims`: claims as text,
/// dotted paths as compact JSON, the payload, `exp`; and the verifier's configuration checks.
@Suite struct VerifyTokenTests {
    typealias F = VerifyFixture

    static let payload = #"""
        { "iss" : "https://idp.example.com", "aud":"orders-api", "exp": 1700000300.9,
          "sub": "al\"ice\u00e9\n", "n": 1.50e3, "admin": true, "none": null,
          "realm_access": {"roles": ["admin", "user"], "deep": {"x": {"y": 1}}},
          "https://example.com/roles": ["r1"], "https://example.com": {"tenant": "t1"},
          "a.b": {"c": "dotted"}, "a": {"b": {"c": "nested"}} }
        """#

    static func verified() throws -> VerifiedToken {
        let token = try F.handMade(header: #"{"alg":"HS256","kid":"k1"}"#, payload: payload)
        let verifier = try F.verifier(F.keys(F.jwks([try F.jwk(.hs256)])), algorithms: [.hs256])
        return try verifier.verify(token, now: F.now)
    }

    func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func claimsAsText() throws {
        let token = try Self.verified()
        #expect(text(token.claim("sub")) == "al\"ice\u{e9}\n")
        #expect(text(token.claim("n")) == "1.50e3")
        #expect(text(token.claim("admin")) == "true")
        #expect(text(token.claim("none")) == "null")
        #expect(text(token.claim("realm_access")) == #"{"roles":["admin","user"],"deep":{"x":{"y":1}}}"#)
        #expect(token.claim("missing") == nil)
        #expect(token.claim(Array("iss".utf8)) == Array("https://idp.example.com".utf8))
    }

    @Test func payloadAsCompactJSON() throws {
        let json = try #require(text(try Self.verified().payloadJSON))
        #expect(
            json.hasPrefix(
                #"{"iss":"https://idp.example.com","aud":"orders-api","exp":1700000300.9,"sub":"al\"ice\#u{e9}\n","#))
        // Foundation's parser reads it back to the same claims.
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(parsed["sub"] as? String == "al\"ice\u{e9}\n")
        #expect(parsed.count == 12)
    }

    /// Paths are exact (issue 19): dots separate names, a quoted name holds dots; no guessing
    /// which of `a.b.c`'s members was meant.
    @Test func pathsKeepTheJSONTypeAndNeverGuess() throws {
        let token = try Self.verified()
        func at(_ path: String) throws -> String? {
            try ClaimPath.parse(Array(path.utf8)).value(in: token.payload).map { String(decoding: $0.compactJSON, as: UTF8.self) }
        }
        #expect(try at("realm_access.roles") == #"["admin","user"]"#)
        #expect(try at("realm_access.deep.x.y") == "1")
        #expect(try at("sub") == #""al\"ice\#u{e9}\n""#)
        #expect(try at(#""https://example.com/roles""#) == #"["r1"]"#)
        #expect(try at("https://example.com/roles") == nil)
        #expect(try at(#""a.b".c"#) == #""dotted""#)
        #expect(try at("a.b.c") == #""nested""#)
        #expect(try at("realm_access.missing") == nil)
        #expect(try at("sub.x") == nil)
    }

    @Test func expirationInWholeSeconds() throws {
        #expect(try Self.verified().expiration == 1_700_000_300)
    }

    @Test func headerAndKey() async throws {
        let verifier = try F.verifier(F.keys(F.jwks([try F.jwk(.es256, ["kid": "\"e1\""])])))
        let token = try verifier.verify(try await F.token(.es256, kid: "e1"), now: F.now)
        #expect(token.header[member: "kid"] == .string(Array("e1".utf8)))
        #expect(token.key.type == .ec(curve: "prime256v1"))
        #expect(try ClaimPath.parse(Array("realm_access.roles".utf8)).value(in: token.payload)?.compactJSON == Array(#"["admin","user"]"#.utf8))
    }

    // MARK: - configuration

    @Test func configurationErrors() throws {
        let rsa = try F.keys(file: "rsa2048-public.pem")
        func message(_ build: () throws(BackendJWTError) -> JWSVerifier) -> String {
            do {
                _ = try build()
                return "accepted"
            } catch {
                #expect(error.kind == .config)
                return error.message
            }
        }
        #expect(
            message { () throws(BackendJWTError) in try JWSVerifier(keys: []) }
                == "token verification needs at least one key")
        #expect(
            message { () throws(BackendJWTError) in try JWSVerifier(keys: rsa, algorithms: []) }.contains("is empty"))
        #expect(
            message { () throws(BackendJWTError) in try JWSVerifier(keys: rsa, algorithms: [.rs256, .none]) }.contains(
                "\"none\" can never"))
        #expect(message { () throws(BackendJWTError) in try JWSVerifier(keys: rsa, leeway: -1) }.contains("negative"))
        #expect(
            message { () throws(BackendJWTError) in try JWSVerifier(keys: rsa, algorithms: [.hs256, .es256]) }
                == "no verification key can verify any allowed algorithm (HS256 ES256); the keys are: RSA 2048-bit key")
        let oct = try F.keys(F.jwks([try F.jwk(.hs256)]))
        #expect(
            message { () throws(BackendJWTError) in try JWSVerifier(keys: oct) }.contains(
                "HMAC secret of 64 bytes key with kid \"k1\""))
        #expect(
            try JWSVerifier(keys: rsa + oct, algorithms: [.rs256, .hs256, .es256]).usableAlgorithms == [.rs256, .hs256])
        #expect(try JWSVerifier(keys: rsa).usableAlgorithms == [.rs256, .rs384, .rs512, .ps256, .ps384, .ps512])
    }

    @Test func algorithmNames() throws {
        #expect(try JWSVerifier.parseAlgorithm(Array("RS256".utf8)) == .rs256)
        #expect(try JWSVerifier.parseAlgorithm(Array("eddsa".utf8)) == .edDSA)
        #expect(try JWSVerifier.parseAlgorithm(Array("hs512".utf8)) == .hs512)
        #expect(throws: BackendJWTError(.config, "\"none\" can never be a verification algorithm (RFC 8725 3.1)")) {
            _ = try JWSVerifier.parseAlgorithm(Array("NONE".utf8))
        }
        #expect(throws: BackendJWTError.self) { _ = try JWSVerifier.parseAlgorithm(Array("SHA256withRSA".utf8)) }
    }
}
