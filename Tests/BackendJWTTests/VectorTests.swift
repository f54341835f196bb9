import Testing

@testable import BackendJWT

/// Published test vectors, byte for byte: the RFCs' keys (Fixtures/rfc*, copied from their JWKs)
/// sign the RFCs' signing inputs into the RFCs' signatures, and give the RFCs' thumbprints.
/// HMAC, RSASSA-PKCS1-v1_5 and Ed25519 are deterministic, so the bytes must match exactly.
@Suite("Published vectors")
struct VectorTests {
    /// The JWS payload of RFC 7515 appendix A (`{"iss":"joe",` CRLF ... `"http://example.com/is_root":true}`).
    static let rfc7515Payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    /// Signs `input` with `key` as the signer would, and returns the base64url signature.
    static func sign(_ input: String, with key: SigningKey, _ algorithm: SigningAlgorithm) throws -> String {
        let signature = try Array(input.utf8).withUnsafeBytes { try key.sign($0, algorithm: algorithm) }
        return String(decoding: TokenEncoding.base64url.encode(signature), as: UTF8.self)
    }

    /// RFC 7515 A.1: HS256 with the JWK `k` read as a base64url secret file.
    @Test func rfc7515A1HS256() throws {
        let key = try Fixture.secret("rfc7515-a1-hs256.secret", .base64url)
        #expect(key.type == .secret(bytes: 64))
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + Self.rfc7515Payload
        #expect(try Self.sign(input, with: key, .hs256) == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    }

    /// RFC 7515 A.2: RS256 with the appendix's 2048-bit RSA key.
    @Test func rfc7515A2RS256() throws {
        let key = try Fixture.key("rfc7515-a2-rsa.pem")
        #expect(key.type == .rsa(bits: 2048))
        let input = "eyJhbGciOiJSUzI1NiJ9." + Self.rfc7515Payload
        #expect(
            try Self.sign(input, with: key, .rs256)
                == "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9"
                + "uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB"
                + "_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rq"
                + "Vt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw")
    }

    /// RFC 8037 A.4: EdDSA with the Ed25519 key of A.1, over `{"alg":"EdDSA"}` and "Example of Ed25519 signing".
    @Test func rfc8037A4Ed25519() throws {
        let key = try Fixture.key("rfc8037-ed25519.pem")
        #expect(key.type == .ed25519)
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        #expect(
            try Self.sign(input, with: key, .edDSA)
                == "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
    }

    /// RFC 7638 3.1: the thumbprint of the RFC's RSA public key.
    @Test func rfc7638Thumbprint() throws {
        let key = try Fixture.publicKey("rfc7638-rsa-public.pem")
        #expect(!key.isPrivate)
        let thumbprint = try #require(try key.thumbprint())
        #expect(String(decoding: thumbprint, as: UTF8.self) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    /// RFC 8037 A.3: the thumbprint of the Ed25519 key, from its private key file.
    @Test func rfc8037A3Thumbprint() throws {
        let thumbprint = try #require(try Fixture.key("rfc8037-ed25519.pem").thumbprint())
        #expect(String(decoding: thumbprint, as: UTF8.self) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    /// The same thumbprints become the kid of tokens and of JWKS entries.
    @Test func thumbprintsAreTheKeyIDs() throws {
        let signer = try makeSigner(.edDSA, key: "rfc8037-ed25519.pem")
        #expect(signer.keyID == [UInt8]("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"))
        let header = try DecodedToken(try mint(signer, [nil, nil])).header
        #expect(header == #"{"alg":"EdDSA","typ":"JWT","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}"#)
        let jwks = JWKSet()
        try jwks.add(key: Fixture.publicKey("rfc7638-rsa-public.pem"), algorithm: nil)
        #expect(String(decoding: jwks.json(), as: UTF8.self).contains(#""kid":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs""#))
    }

    /// The core's SHA-1 and SHA-256 (used for x5t and x5t#S256) on FIPS 180 "abc".
    @Test func digestsOfABC() throws {
        #expect(Digest.sha1([UInt8]("abc")) == (try bytes(hex: "a9993e364706816aba3e25717850c26c9cd0d89d")))
        #expect(
            Digest.sha256([UInt8]("abc"))
                == (try bytes(hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")))
    }
}
