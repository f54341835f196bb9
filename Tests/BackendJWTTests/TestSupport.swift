import Foundation
import Testing

@testable import BackendJWT

/// The PEM files under Fixtures/, test-only keys generated once with OpenSSL 3:
///
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048-pkcs8.pem
///     openssl pkey -in rsa2048-pkcs8.pem -traditional -out rsa2048-pkcs1.pem
///     openssl pkey -in rsa2048-pkcs8.pem -pubout -out rsa2048-public.pem
///     openssl pkcs8 -topk8 -in rsa2048-pkcs8.pem -v2 aes-256-cbc -passout pass:secret -out rsa2048-encrypted.pem
///     openssl pkey -in rsa2048-pkcs8.pem -traditional -aes256 -passout pass:secret -out rsa2048-pkcs1-encrypted.pem
///     openssl req -x509 -key rsa2048-pkcs8.pem -subj /CN=backend-jwt-test -days 3650 -out certificate.pem
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa4096-pkcs8.pem
///     openssl pkey -in rsa4096-pkcs8.pem -pubout -out rsa4096-public.pem
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem
///     openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out rsa-pss.pem
///     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-p256.pem
///     openssl genpkey -algorithm ED25519 -out ed25519.pem
///
/// plus garbage.pem (plain text) and truncated.pem (the first 200 bytes of rsa2048-pkcs8.pem
/// followed by its END line).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { directory + "/" + name }

    static func key(_ name: String) throws(BackendJWTError) -> SigningKey {
        try SigningKey(path: Array(path(name).utf8))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8)
    }

    /// The private keys the signer accepts, with the public key that verifies their signatures.
    static let rsaKeys: [(privateKey: String, publicKey: String)] = [
        ("rsa2048-pkcs8.pem", "rsa2048-public.pem"),
        ("rsa2048-pkcs1.pem", "rsa2048-public.pem"),
        ("rsa4096-pkcs8.pem", "rsa4096-public.pem"),
    ]
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}

/// Mints one token. `values` are issuer, subject, then each custom claim (nil: absent). The
/// output buffer holds `capacity` bytes, by default the signer's own bound for these values.
func mint(
    _ signer: Signer, now: Int64 = 1_700_000_000, values: [[UInt8]?], capacity: Int? = nil
) throws(BackendJWTError) -> String {
    // Each value in its own allocation, so reading past a value's end is a real overread.
    let storage = values.map { value in
        value.map { value in
            let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Swift.max(value.count, 1))
            _ = copy.initialize(from: value)
            return UnsafeBufferPointer(start: copy.baseAddress, count: value.count)
        }
    }
    defer { storage.forEach { $0?.deallocate() } }
    let total = values.reduce(0) { $0 + ($1?.count ?? 0) }
    let size = capacity ?? signer.tokenBound(valueBytes: total)
    let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Swift.max(size, 1))
    defer { out.deallocate() }
    let length = try signer.mint(
        now: now, values: storage,
        into: UnsafeMutableBufferPointer(rebasing: out[0..<size]))
    return String(decoding: out[0..<length], as: UTF8.self)
}

/// Same, with values given as text.
func mint(_ signer: Signer, now: Int64 = 1_700_000_000, _ values: [String?]) throws(BackendJWTError) -> String {
    try mint(signer, now: now, values: values.map { $0.map { [UInt8]($0) } })
}

/// Decodes unpadded base64url (or, with `standard`, unpadded base64).
func decodeBase64URL(_ text: Substring, standard: Bool = false) -> [UInt8]? {
    if standard && (text.contains("-") || text.contains("_")) { return nil }
    if !standard && (text.contains("+") || text.contains("/")) { return nil }
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    guard base64.count % 4 != 1 else { return nil }
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64).map { [UInt8]($0) }
}

/// A token split into its three segments, the first two decoded.
struct DecodedToken {
    let segments: [Substring]
    let header: String
    let payload: String

    init(_ token: String, standardBase64: Bool = false) throws {
        segments = token.split(separator: ".", omittingEmptySubsequences: false)
        try #require(segments.count == 3, "a JWS compact token has three segments: \(token)")
        let header = try #require(decodeBase64URL(segments[0], standard: standardBase64))
        let payload = try #require(decodeBase64URL(segments[1], standard: standardBase64))
        self.header = try #require(String(validating: header, as: UTF8.self))
        self.payload = try #require(String(validating: payload, as: UTF8.self))
    }

    /// The payload parsed by Foundation's JSON parser.
    func claims() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
    }

    var jti: String {
        get throws { try #require(claims()["jti"] as? String) }
    }
}

/// Builds a signer, failing the test if the configuration is refused.
func makeSigner(
    _ algorithm: SigningAlgorithm = .rs256, encoding: TokenEncoding = .base64url, ttl: Int64 = 3600,
    key: String? = "rsa2048-pkcs8.pem", claims: [(String, String)] = []
) throws -> Signer {
    let list = ClaimList()
    for (name, option) in claims { try list.add(name: [UInt8](name), option: [UInt8](option)) }
    return try Signer(
        algorithm: algorithm, encoding: encoding, ttl: ttl, key: key.map { try Fixture.key($0) },
        claims: list.claims)
}

/// How an error message shows a value (the documented format): in double quotes, printable ASCII
/// as is, `"`, `\` and every other byte as `\xNN`, cut after 64 bytes with `...` after the quote.
func shownInMessage(_ bytes: [UInt8]) -> String {
    var text = "\""
    for byte in bytes.prefix(64) {
        if (0x20..<0x7F).contains(byte) && byte != 0x22 && byte != 0x5C {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return text + (bytes.count > 64 ? "\"..." : "\"")
}

func shownInMessage(_ text: String) -> String { shownInMessage([UInt8](text)) }
