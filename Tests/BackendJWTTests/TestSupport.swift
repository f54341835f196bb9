import Crypto
import Foundation
import JWTKit
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
///     openssl req -x509 -key rsa2048-pkcs8.pem -subj /CN=backend-jwt-test-2 -days 3650 -out certificate-2.pem
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa4096-pkcs8.pem
///     openssl pkey -in rsa4096-pkcs8.pem -pubout -out rsa4096-public.pem
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem
///     openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out rsa-pss.pem
///     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-p256.pem
///     openssl genpkey -algorithm ED25519 -out ed25519.pem
///     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec-p384.pem
///     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out ec-p521.pem
///     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out ec-secp256k1.pem
///     openssl ec -in ec-p256.pem -out ec-p256-sec1.pem
///     openssl pkey -in ec-p256.pem -pubout -out ec-p256-public.pem
///     openssl pkey -in ed25519.pem -pubout -out ed25519-public.pem
///     openssl genpkey -algorithm ED448 -out ed448.pem
///     openssl req -x509 -key ec-p256.pem -subj /CN=backend-jwt-test-ec -days 3650 -out certificate-ec-p256.pem
///     openssl rand -hex 32 > secret-32.hex
///     openssl rand -hex 64 > secret-64.hex
///
/// plus garbage.pem (plain text) and truncated.pem (the first 200 bytes of rsa2048-pkcs8.pem
/// followed by its END line).
///
/// The published test vectors are keys copied from the RFCs' JWKs, written by
/// `.build-venv/bin/python Fixtures/rfc-fixtures.py Fixtures` (python3 with `cryptography`),
/// which also prints the RFCs' signatures and thumbprint as a check of the copy:
///
///     rfc7515-a1-hs256.secret   RFC 7515 A.1.1 `k`, base64url (encoding=base64url)
///     rfc7515-a2-rsa.pem        RFC 7515 A.2.1 RSA key, PKCS#8
///     rfc8037-ed25519.pem       RFC 8037 A.1 Ed25519 key, PKCS#8
///     rfc7638-rsa-public.pem    RFC 7638 3.1 RSA public key, SubjectPublicKeyInfo
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { directory + "/" + name }

    static func key(_ name: String) throws(BackendJWTError) -> SigningKey {
        try SigningKey(path: Array(path(name).utf8))
    }

    /// A `backend_jwt_signing_secret` file.
    static func secret(_ name: String, _ encoding: SecretEncoding) throws(BackendJWTError) -> SigningKey {
        try SigningKey(secretPath: Array(path(name).utf8), encoding: encoding)
    }

    /// A `backend_jwt_jwks_key` file: a public or private key, of which only the public half is used.
    static func publicKey(_ name: String) throws(BackendJWTError) -> SigningKey {
        try SigningKey(publicPath: Array(path(name).utf8))
    }

    /// Whatever a fixture holds: `.hex` files are HMAC secrets in hex, `.secret` files in
    /// base64url, anything else a PEM private key.
    static func signingKey(_ name: String) throws(BackendJWTError) -> SigningKey {
        if name.hasSuffix(".hex") { return try secret(name, .hex) }
        if name.hasSuffix(".secret") { return try secret(name, .base64url) }
        return try key(name)
    }

    static func certificate(_ name: String) throws(BackendJWTError) -> Certificate {
        try Certificate(path: Array(path(name).utf8))
    }

    /// The DER of the first PEM block labelled `label`, decoded by Foundation (not by OpenSSL).
    static func der(_ name: String, label: String = "CERTIFICATE") throws -> [UInt8] {
        let lines = try text(name).split(whereSeparator: \.isNewline)
        let begin = try #require(lines.firstIndex(of: "-----BEGIN \(label)-----"))
        let end = try #require(lines[begin...].firstIndex(of: "-----END \(label)-----"))
        return try #require(Data(base64Encoded: lines[(begin + 1)..<end].joined()).map { [UInt8]($0) })
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

/// Mints one token. `values` are issuer, subject, the audiences, then each custom claim (nil:
/// absent); `caller` is the verified token whose claims are copied. The output buffer holds
/// `capacity` bytes, by default the signer's own bound for these values and caller.
func mint(
    _ signer: Signer, now: Int64 = 1_700_000_000, values: [[UInt8]?], caller: VerifiedToken? = nil,
    capacity: Int? = nil
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
    let size = capacity ?? signer.tokenBound(valueBytes: total, caller: caller)
    let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Swift.max(size, 1))
    defer { out.deallocate() }
    let length = try signer.mint(
        now: now, values: storage, caller: caller,
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

/// A claim list as `backend_jwt_claim` directives declare it: each claim's options are the
/// words of its option text (`"type=list if_empty=null"`; `""` for none).
func claimList(_ claims: [(String, String)]) throws(BackendJWTError) -> ClaimList {
    let list = ClaimList()
    for (name, options) in claims {
        try list.add(name: [UInt8](name), options: options.split(separator: " ").map { [UInt8](String($0)) })
    }
    return list
}

/// Builds a signer, failing the test if the configuration is refused. `key` and `certificate`
/// name fixtures (see `Fixture.signingKey`); `claims` as `claimList` reads them, or `list` as is.
func makeSigner(
    _ algorithm: SigningAlgorithm = .rs256, encoding: TokenEncoding = .base64url, ttl: Int64 = 3600,
    key: String? = "rsa2048-pkcs8.pem", certificate: String? = nil, keyID: Signer.KeyIDSource = .thumbprint,
    registered: Signer.Registered = Signer.Registered(), claims: [(String, String)] = [], list: ClaimList? = nil
) throws -> Signer {
    let declared = try list ?? claimList(claims)
    return try Signer(
        algorithm: algorithm, encoding: encoding, ttl: ttl, key: key.map { try Fixture.signingKey($0) },
        certificate: certificate.map { try Fixture.certificate($0) }, keyID: keyID, registered: registered,
        claims: declared.claims)
}

extension String {
    /// The string cut into pieces of `length` characters (the last may be shorter).
    func split(by length: Int) -> [String] {
        stride(from: 0, to: count, by: length).map { String(dropFirst($0).prefix(length)) }
    }
}

/// The bytes of hex text (white space around it ignored).
func bytes(hex text: String) throws -> [UInt8] {
    let digits = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    try #require(digits.count % 2 == 0)
    return try stride(from: 0, to: digits.count, by: 2).map { i in
        try #require(UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16))
    }
}

/// Unpadded base64url by Foundation's encoder (not the core's).
func base64url<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
}

/// What JOSE says about a fixture's public key, worked out by jwt-kit and swift-crypto (BoringSSL)
/// rather than by the core: the members RFC 7638 hashes, and the thumbprint itself.
enum Independent {
    /// `kty` and `n`, `e` (RSA), `crv`, `x`, `y` (EC) or `crv`, `x` (OKP), from a PEM public or
    /// private key.
    static func jwk(_ file: String) throws -> [String: String] {
        let pem = try Fixture.text(file)
        if let key = try? JWTKit.Insecure.RSA.PrivateKey(pem: pem) { return try rsa(key.publicKey) }
        if let key = try? JWTKit.Insecure.RSA.PublicKey(pem: pem) { return try rsa(key) }
        if let key = try? ES256PrivateKey(pem: pem) { return try ec("P-256", key.publicKey.parameters) }
        if let key = try? ES256PublicKey(pem: pem) { return try ec("P-256", key.parameters) }
        if let key = try? ES384PrivateKey(pem: pem) { return try ec("P-384", key.publicKey.parameters) }
        if let key = try? ES384PublicKey(pem: pem) { return try ec("P-384", key.parameters) }
        if let key = try? ES512PrivateKey(pem: pem) { return try ec("P-521", key.publicKey.parameters) }
        if let key = try? ES512PublicKey(pem: pem) { return try ec("P-521", key.parameters) }
        if let key = try? EdDSA.PrivateKey(pem: pem) { return okp(key.publicKey) }
        if let key = try? EdDSA.PublicKey(pem: pem) { return okp(key) }
        Issue.record("jwt-kit reads no key from \(file)")
        return [:]
    }

    /// The RFC 7638 thumbprint: SHA-256 of the members as compact JSON in lexicographic order.
    static func thumbprint(_ jwk: [String: String]) -> String {
        let json = "{" + jwk.keys.sorted().map { "\"\($0)\":\"\(jwk[$0]!)\"" }.joined(separator: ",") + "}"
        return base64url(SHA256.hash(data: Array(json.utf8)))
    }

    static func thumbprint(of file: String) throws -> String { thumbprint(try jwk(file)) }

    private static func rsa(_ key: JWTKit.Insecure.RSA.PublicKey) throws -> [String: String] {
        let (modulus, exponent) = try key.getKeyPrimitives()
        // JWA wants the shortest big-endian form (RFC 7518 6.3.1).
        return ["kty": "RSA", "n": base64url(modulus.drop { $0 == 0 }), "e": base64url(exponent.drop { $0 == 0 })]
    }

    private static func ec(_ curve: String, _ parameters: ECDSAParameters?) throws -> [String: String] {
        let parameters = try #require(parameters)
        return ["kty": "EC", "crv": curve, "x": parameters.x, "y": parameters.y]
    }

    private static func okp(_ key: EdDSA.PublicKey) -> [String: String] {
        ["kty": "OKP", "crv": "Ed25519", "x": base64url(key.rawRepresentation)]
    }
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

/// How an error message shows a file name: escaped the same way, but never cut.
func shownPath(_ path: String) -> String {
    var text = "\""
    for byte in path.utf8 {
        if (0x20..<0x7F).contains(byte) && byte != 0x22 && byte != 0x5C {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return text + "\""
}

/// A fresh directory for the files a test writes; `remove()` it when done (`defer`).
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("bjwt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file into the directory and returns its path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, [UInt8](text.utf8)) }
}
