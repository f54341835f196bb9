import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// One refused token per rule of strict JWS (RFC 7515, 7519, 8725), each with the reason the
/// log gets; the reasons never hold the token.
@Suite struct VerifyRuleTests {
    typealias F = VerifyFixture

    /// An HS256 oct key (kid k1) and the RSA key (kid r1), HS256 and RS256 allowed.
    static func mixed() throws -> JWSVerifier {
        let keys = try F.keys(F.jwks([try F.jwk(.hs256), try F.jwk(.rs256, ["kid": "\"r1\""])]))
        return try F.verifier(keys, algorithms: [.hs256, .rs256])
    }

    static let hs256Header = #"{"alg":"HS256","kid":"k1"}"#

    /// Refused, with a reason that contains `expected` and none of the token's segments.
    func expectRefused(_ token: [UInt8], _ expected: String, verifier: JWSVerifier? = nil, now: Int64 = F.now) throws {
        let reason = try #require(F.refusal(verifier ?? Self.mixed(), token, now: now), "accepted")
        #expect(reason.contains(expected), "\(reason)")
        for segment in String(decoding: token, as: UTF8.self).split(separator: ".") where segment.count > 8 {
            #expect(!reason.contains(segment), "the reason holds the token: \(reason)")
        }
    }

    @Test func handMadeBaselineVerifies() throws {
        let verified = try Self.mixed().verify(
            try F.handMade(header: Self.hs256Header, payload: F.validPayload), now: F.now)
        #expect(verified.claim("aud") == Array("orders-api".utf8))
    }

    @Test func algNone() throws {
        let token = try F.handMade(header: #"{"alg":"none"}"#, payload: F.validPayload, signature: "")
        try expectRefused(token, "alg \"none\" is never accepted")
    }

    @Test func algUnknownOrNotAString() throws {
        try expectRefused(
            try F.handMade(header: #"{"alg":"hs256"}"#, payload: F.validPayload), "alg \"hs256\" is not a JWS algorithm"
        )
        try expectRefused(try F.handMade(header: #"{"alg":256}"#, payload: F.validPayload), "\"alg\" is not a string")
        try expectRefused(try F.handMade(header: #"{"typ":"JWT"}"#, payload: F.validPayload), "has no \"alg\"")
    }

    @Test func algNotAllowed() async throws {
        try expectRefused(try await F.token(.rs384, kid: "r1"), "alg RS384 is not allowed")
    }

    @Test("HS256 signed with the RSA public key's PEM as the secret is refused")
    func algorithmConfusion() async throws {
        let pem = Array(try Fixture.text("rsa2048-public.pem").utf8)
        let token = try await F.token(.hs256, kid: nil, secret: pem)
        let keys = try F.keys(file: "rsa2048-public.pem")
        try expectRefused(
            token, "no verification key can verify HS256", verifier: F.verifier(keys, algorithms: [.rs256, .hs256]))
        // The same key in a JWK: still never an HMAC secret.
        let jwk = try F.keys(F.jwks([try F.jwk(.rs256, [:])]))
        try expectRefused(
            token, "no verification key can verify HS256", verifier: F.verifier(jwk, algorithms: [.rs256, .hs256]))
    }

    @Test func unknownKidHasNoFallback() async throws {
        // The same RSA key is in the set under another kid: it is not tried.
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"other\""])]))
        try expectRefused(
            try await F.token(.rs256, kid: "k2"), "no verification key has kid \"k2\"", verifier: F.verifier(keys))
    }

    @Test func tokenWithoutKidTriesTheKeysOfItsAlgorithm() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.es256, ["kid": "\"e1\""]), try F.jwk(.rs256, ["kid": "\"r1\""])]))
        let verified = try F.verifier(keys).verify(try await F.token(.rs256, kid: nil), now: F.now)
        #expect(verified.key.keyID == Array("r1".utf8))
    }

    @Test func kidThatFitsAnotherAlgorithm() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.es256, ["kid": "\"k1\""])]))
        try expectRefused(
            try await F.token(.rs256, kid: "k1"), "no verification key with kid \"k1\" can verify RS256",
            verifier: F.verifier(keys))
    }

    @Test func tamperedPayload() async throws {
        var parts = String(decoding: try await F.token(.rs256, kid: "r1"), as: UTF8.self).split(separator: ".").map(
            String.init)
        var claims = F.Claims()
        claims.sub = "mallory"
        parts[1] = base64url(try JSONEncoder().encode(claims))
        try expectRefused(Array(parts.joined(separator: ".").utf8), "the RS256 signature does not verify")
    }

    @Test func duplicateMembers() throws {
        let payload =
            #"{"sub":"alice","iss":"https://idp.example.com","aud":"orders-api","exp":1700000300,"sub":"admin"}"#
        try expectRefused(try F.handMade(header: Self.hs256Header, payload: payload), "duplicate member name \"sub\"")
        let header = #"{"alg":"HS256","kid":"k1","alg":"HS256"}"#
        try expectRefused(
            try F.handMade(header: header, payload: F.validPayload),
            "the header is not valid JSON: duplicate member name \"alg\"")
    }

    @Test func unknownCrit() throws {
        let header = #"{"alg":"HS256","kid":"k1","crit":["b64"],"b64":false}"#
        try expectRefused(try F.handMade(header: header, payload: F.validPayload), "\"crit\" names extensions")
        try expectRefused(try F.handMade(header: #"{"alg":"HS256","crit":[]}"#, payload: F.validPayload), "\"crit\"")
    }

    @Test func paddingAndBase64Alphabet() throws {
        let token = String(decoding: try F.handMade(header: Self.hs256Header, payload: F.validPayload), as: UTF8.self)
        let parts = token.split(separator: ".").map(String.init)
        try expectRefused(Array((token + "=").utf8), "the signature segment has padding")
        try expectRefused(Array((parts[0] + "=." + parts[1] + "." + parts[2]).utf8), "the header segment has padding")
        let plus = parts[0] + "." + parts[1] + "." + "+" + parts[2].dropFirst()
        try expectRefused(Array(plus.utf8), "uses the base64 alphabet ('+' or '/')")
        let slash = parts[0] + "." + "/" + parts[1].dropFirst() + "." + parts[2]
        try expectRefused(Array(slash.utf8), "the payload segment uses the base64 alphabet")
        try expectRefused(Array((parts[0] + " ." + parts[1] + "." + parts[2]).utf8), "outside base64url")
    }

    @Test func nonCanonicalBase64URL() throws {
        // "e30" is "{}"; "e31" carries the same bytes with unused bits set.
        try expectRefused(Array("e31.e30.AA".utf8), "not canonical base64url")
    }

    @Test func segmentCounts() throws {
        try expectRefused(
            Array("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".utf8), "5 segments: an encrypted token (JWE) is not accepted")
        try expectRefused(Array("e30.e30".utf8), "2 segments; a JWS has 3")
        try expectRefused(Array("e30.e30.e30.e30".utf8), "4 segments")
        try expectRefused([], "the token is empty")
    }

    @Test func jweHeaderMembers() throws {
        try expectRefused(try F.handMade(header: #"{"alg":"HS256","enc":"A128GCM"}"#, payload: F.validPayload), "(JWE)")
    }

    @Test func notObjectsOrNotUTF8() throws {
        try expectRefused(
            try F.handMade(header: #"["HS256"]"#, payload: F.validPayload), "the header is not a JSON object")
        try expectRefused(
            try F.handMade(header: Self.hs256Header, payload: #""alice""#), "the payload is not a JSON object")
        let bad =
            base64url(Array(Self.hs256Header.utf8)) + "." + base64url([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])
            + ".AA"
        // The payload's JSON is read only after the signature has verified.
        try expectRefused(Array(bad.utf8), "signature does not verify")
        let invalid = try F.handMade(
            header: Array(Self.hs256Header.utf8), payload: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])
        try expectRefused(invalid, "the payload is not valid JSON: invalid UTF-8 at byte 2")
        let signed = try F.handMade(header: Self.hs256Header, payload: "{\"sub\":\"\u{00E9}\",\"x\":\"\\ud800\"}")
        try expectRefused(signed, "the payload is not valid JSON: lone surrogate")
    }

    @Test func expired() async throws {
        var claims = F.Claims()
        claims.exp = F.now - 1
        let token = try await F.token(.rs256, kid: "r1", claims: claims)
        try expectRefused(token, "the token expired (exp 1699999999)")
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        _ = try F.verifier(keys, leeway: 5).verify(token, now: F.now)
        try expectRefused(token, "expired", verifier: F.verifier(keys, leeway: 1))
    }

    @Test func notYetValid() async throws {
        var claims = F.Claims()
        claims.nbf = F.now + 60
        let token = try await F.token(.rs256, kid: "r1", claims: claims)
        try expectRefused(token, "the token is not valid yet (nbf 1700000060)")
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        _ = try F.verifier(keys, leeway: 60).verify(token, now: F.now)
    }

    @Test func issuedInTheFuture() async throws {
        var claims = F.Claims()
        claims.iat = F.now + 30
        try expectRefused(try await F.token(.rs256, kid: "r1", claims: claims), "issued in the future")
    }

    @Test func expirationRequiredByDefault() async throws {
        var claims = F.Claims()
        claims.exp = nil
        let token = try await F.token(.rs256, kid: "r1", claims: claims)
        try expectRefused(token, "the token has no \"exp\"")
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        #expect(try F.verifier(keys, requireExpiration: false).verify(token, now: F.now).expiration == nil)
    }

    @Test func expirationNotANumber() throws {
        let payload = #"{"iss":"https://idp.example.com","aud":"orders-api","exp":"1700000300"}"#
        try expectRefused(try F.handMade(header: Self.hs256Header, payload: payload), "\"exp\" is not a number")
    }

    @Test func wrongIssuer() async throws {
        var claims = F.Claims()
        claims.iss = "https://evil.example.com"
        try expectRefused(
            try await F.token(.rs256, kid: "r1", claims: claims), "issuer \"https://evil.example.com\" is not accepted")
        claims.iss = nil
        try expectRefused(try await F.token(.rs256, kid: "r1", claims: claims), "the token has no \"iss\"")
    }

    @Test func issuersAreAnyOf() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        let verifier = try F.verifier(keys, issuers: ["https://a.example.com", "https://idp.example.com"])
        _ = try verifier.verify(try await F.token(.rs256, kid: "r1"), now: F.now)
    }

    @Test func wrongAudience() async throws {
        var claims = F.Claims()
        claims.aud = ["billing", "reports"]
        try expectRefused(
            try await F.token(.rs256, kid: "r1", claims: claims),
            #"no audience of the token is accepted (aud "[\x22billing\x22,\x22reports\x22]")"#)
        claims.aud = nil
        try expectRefused(try await F.token(.rs256, kid: "r1", claims: claims), "the token has no \"aud\"")
        let payload = #"{"iss":"https://idp.example.com","aud":["orders-api",7],"exp":1700000300}"#
        try expectRefused(try F.handMade(header: Self.hs256Header, payload: payload), "not a string")
    }

    @Test func audienceStringOrArrayAnyOf() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        let verifier = try F.verifier(keys, audiences: ["billing", "orders-api"])
        var claims = F.Claims()
        claims.aud = ["reports", "orders-api"]
        _ = try verifier.verify(try await F.token(.rs256, kid: "r1", claims: claims), now: F.now)
        let single = try F.handMade(header: Self.hs256Header, payload: F.validPayload)
        _ = try Self.mixed().verify(single, now: F.now)
    }

    @Test func noIssuerOrAudienceConfiguredChecksNeither() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        var claims = F.Claims()
        claims.iss = nil
        claims.aud = nil
        _ = try F.verifier(keys, issuers: [], audiences: []).verify(
            try await F.token(.rs256, kid: "r1", claims: claims), now: F.now)
    }

    @Test func oversizedTokenIsRefusedBeforeParsing() throws {
        let token = [UInt8](repeating: UInt8(ascii: "A"), count: 64 * 1024)
        try expectRefused(token, "the token is 65536 bytes, over the limit of 16384")
        #expect(JWSVerifier.defaultMaximumTokenSize == 16384)
    }

    @Test func keyRestrictionsFromTheJWK() async throws {
        let token = try await F.token(.rs256, kid: "k1")
        for extra in [#""alg":"RS384""#, #""use":"enc""#, #""key_ops":["encrypt"]"#] {
            let json = try String(F.jwk(.rs256).dropLast()) + "," + extra + "}"
            let keys = try F.keys(F.jwks([json, try F.jwk(.es256, ["kid": "\"e\""])]))
            try expectRefused(token, "no verification key with kid \"k1\" can verify RS256", verifier: F.verifier(keys))
        }
        let allowed = try String(F.jwk(.rs256).dropLast()) + #","key_ops":["verify"],"use":"sig","alg":"RS256"}"#
        _ = try F.verifier(try F.keys(F.jwks([allowed]))).verify(token, now: F.now)
    }
}
