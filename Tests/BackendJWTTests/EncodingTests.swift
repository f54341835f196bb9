import Foundation
import Testing

@testable import BackendJWT

/// `backend_jwt_encoding`: base64url (RFC 7515) and WSO2's base64 (standard alphabet), both unpadded.
@Suite("Token encodings")
struct EncodingTests {
    static func encoded(_ encoding: TokenEncoding, _ bytes: [UInt8]) -> String {
        String(decoding: encoding.encode(bytes), as: UTF8.self)
    }

    /// RFC 4648 section 10, padding stripped: the same in both alphabets.
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(_ input: String, _ output: String) {
        #expect(Self.encoded(.base64url, [UInt8](input)) == output)
        #expect(Self.encoded(.base64, [UInt8](input)) == output)
    }

    /// The two alphabets differ only in the characters for 62 and 63.
    @Test(arguments: [
        ([0xFB, 0xFF], "-_8", "+/8"), ([0xFB, 0xEF, 0xBE], "----", "++++"), ([0xFF, 0xFF, 0xFF], "____", "////"),
        ([0xFF], "_w", "/w"), ([0x3E, 0xFF], "Pv8", "Pv8"), ([0x00, 0x00, 0x00], "AAAA", "AAAA"),
    ] as [([UInt8], String, String)])
    func alphabetsDifferIn62And63(_ bytes: [UInt8], _ url: String, _ standard: String) {
        #expect(Self.encoded(.base64url, bytes) == url)
        #expect(Self.encoded(.base64, bytes) == standard)
    }

    /// Against Foundation's encoder, for every length up to 70 and every byte value.
    @Test func matchesFoundationWithoutPadding() {
        for length in 0...70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + length * 11 + 255) }
            let standard = Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
            let url = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(Self.encoded(.base64, bytes) == standard, "length \(length)")
            #expect(Self.encoded(.base64url, bytes) == url, "length \(length)")
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Self.encoded(.base64, all) == Data(all).base64EncodedString().replacingOccurrences(of: "=", with: ""))
    }

    @Test(arguments: [(0, 0), (1, 2), (2, 3), (3, 4), (4, 6), (5, 7), (6, 8), (256, 342), (512, 683)])
    func encodedLengthHasNoPadding(_ count: Int, _ length: Int) {
        #expect(TokenEncoding.encodedLength(count) == length)
        #expect(TokenEncoding.base64url.encode([UInt8](repeating: 0xAB, count: count)).count == length)
    }

    /// The header segment a backend sees, byte for byte (computed with Python's base64 module):
    /// `{"alg":"RS256","typ":"JWT"}` with the kid off, and with the kid of rsa2048-pkcs8.pem.
    @Test(arguments: [
        (SigningAlgorithm.rs256, TokenEncoding.base64url, Signer.KeyIDSource.off, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"),
        (.rs256, .base64, .off, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"),
        (.rs256, .base64url, .thumbprint,
         "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Ik1nMnppbXEyY1N3TEw3Qll6dWRqdTFFZUk0eS1KZUVzSU16ejFqUEc5dlEifQ"),
        (.rs256, .base64, .thumbprint,
         "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Ik1nMnppbXEyY1N3TEw3Qll6dWRqdTFFZUk0eS1KZUVzSU16ejFqUEc5dlEifQ"),
        (.none, .base64url, .thumbprint, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"),
    ])
    func headerSegment(
        _ algorithm: SigningAlgorithm, _ encoding: TokenEncoding, _ keyID: Signer.KeyIDSource, _ segment: String
    ) throws {
        let signer = try makeSigner(algorithm, encoding: encoding, keyID: keyID)
        let token = try mint(signer, [nil, nil])
        #expect(token.split(separator: ".", omittingEmptySubsequences: false).first == Substring(segment))
    }

    /// Payload and signature segments use the configured alphabet throughout.
    @Test func mintedTokensUseOnlyTheConfiguredAlphabet() throws {
        let url = try makeSigner(encoding: .base64url)
        let standard = try makeSigner(encoding: .base64)
        var sawStandardOnly = false
        for _ in 0..<20 {
            let a = try mint(url, ["issuer", "subject"])
            let b = try mint(standard, ["issuer", "subject"])
            #expect(!a.contains("+") && !a.contains("/") && !a.contains("="))
            #expect(!b.contains("-") && !b.contains("_") && !b.contains("="))
            sawStandardOnly = sawStandardOnly || b.contains("+") || b.contains("/")
            _ = try DecodedToken(a)
            _ = try DecodedToken(b, standardBase64: true)
        }
        // 20 random 256-byte signatures without a single 62 or 63 would be a broken encoder.
        #expect(sawStandardOnly)
    }
}
