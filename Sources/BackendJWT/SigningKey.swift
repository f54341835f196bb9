import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// A private key read from a PEM file at configuration time (by nginx's master, so a key file
/// readable only by root works while workers run unprivileged).
public final class SigningKey {
    /// What the key is, for messages and for matching the algorithm.
    public enum KeyType: Equatable, Sendable, CustomStringConvertible {
        case rsa(bits: Int)
        case other(String)

        public var description: String {
            switch self {
            case .rsa(let bits): "RSA \(bits)-bit"
            case .other(let name): name
            }
        }
    }

    /// Key files are small; refusing large ones keeps a wrong path (a log, a disk image) cheap.
    static let maximumFileSize = 1 << 20
    static let minimumRSABits = 2048

    let pkey: OpaquePointer
    public let type: KeyType
    public let path: String

    /// Reads and parses `path`: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    public init<Path: Collection>(path pathBytes: Path) throws(BackendJWTError) where Path.Element == UInt8 {
        let path = String(decoding: pathBytes, as: UTF8.self)
        guard !pathBytes.contains(0) else { throw BackendJWTError(.key, "key file \(quoted(path)) has a NUL byte in its name") }
        var pem = try Self.readFile(Array(pathBytes), shownAs: path)
        defer { pem.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        let parsed = pem.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            // A password callback that gives none: an encrypted key fails instead of prompting
            // on the terminal of the master process.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        ERR_clear_error()  // nginx reads OpenSSL's error queue for its own TLS errors
        guard let pkey = parsed else { throw BackendJWTError(.key, Self.whyNotAPrivateKey(pem, path: path)) }
        self.pkey = pkey
        self.path = path
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA: type = .rsa(bits: Int(EVP_PKEY_get_bits(pkey)))
        case EVP_PKEY_RSA_PSS: type = .other("RSA-PSS")
        case EVP_PKEY_EC: type = .other("EC")
        case EVP_PKEY_ED25519: type = .other("Ed25519")
        case EVP_PKEY_ED448: type = .other("Ed448")
        default: type = .other("unsupported")
        }
        if case .rsa(let bits) = type, bits < Self.minimumRSABits {
            throw BackendJWTError(
                .key, "key file \(quoted(path)) holds an RSA \(bits)-bit key; at least \(Self.minimumRSABits) bits are required")
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Checks that this key can sign with `algorithm`.
    func check(for algorithm: SigningAlgorithm) throws(BackendJWTError) {
        switch (algorithm, type) {
        case (.rs256, .rsa): return
        case (.none, _): return
        default:
            throw BackendJWTError(
                .key, "key file \(quoted(path)) holds a key of type \(type), which cannot sign \(algorithm.joseName); \(algorithm.joseName) needs an RSA key")
        }
    }

    private static func readFile(_ path: [UInt8], shownAs shown: String) throws(BackendJWTError) -> [UInt8] {
        let fd = (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        }
        guard fd >= 0 else { throw ioError("cannot open key file", shown) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot read key file", shown) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw BackendJWTError(.key, "key file \(quoted(shown)) is not a regular file")
        }
        guard Int(info.st_size) <= maximumFileSize else {
            throw BackendJWTError(.key, "key file \(quoted(shown)) is larger than \(maximumFileSize) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }
                throw ioError("cannot read key file", shown)
            }
            filled += n
        }
        return Array(bytes[0..<filled])
    }

    private static func ioError(_ what: String, _ path: String) -> BackendJWTError {
        let reason = String(cString: strerror(errno))
        return BackendJWTError(.key, "\(what) \(quoted(path)): \(reason)")
    }

    /// Says what a PEM file holds instead of a usable private key, without echoing its content.
    private static func whyNotAPrivateKey(_ pem: [UInt8], path: String) -> String {
        let labels: [(String, String)] = [
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----", "an encrypted private key; password-protected keys are not supported yet, decrypt it with openssl pkey"),
            ("-----BEGIN PUBLIC KEY-----", "a public key, not a private key"),
            ("-----BEGIN RSA PUBLIC KEY-----", "a public key, not a private key"),
            ("-----BEGIN CERTIFICATE-----", "a certificate, not a private key"),
        ]
        for (label, what) in labels where contains(pem, Array(label.utf8)) {
            return "key file \(quoted(path)) holds \(what)"
        }
        if contains(pem, Array("PRIVATE KEY-----".utf8)) {
            return "key file \(quoted(path)) holds a private key OpenSSL cannot parse (damaged or encrypted)"
        }
        return "key file \(quoted(path)) holds no PEM private key"
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    /// Signs `message` (the JWS signing input) and returns the signature bytes.
    func sign(_ message: UnsafeRawBufferPointer, algorithm: SigningAlgorithm) throws(BackendJWTError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw Self.signError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, pkey) == 1 else {
            throw Self.signError("EVP_DigestSignInit")
        }
        var length = Int(EVP_PKEY_get_size(pkey))
        var signature = [UInt8](repeating: 0, count: length)
        let rc = signature.withUnsafeMutableBufferPointer { out in
            EVP_DigestSign(
                ctx, out.baseAddress, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        }
        guard rc == 1 else { throw Self.signError("EVP_DigestSign") }
        signature.removeLast(signature.count - length)
        return signature
    }

    /// The most bytes a signature can take.
    var maximumSignatureLength: Int { Int(EVP_PKEY_get_size(pkey)) }

    static func signError(_ call: String) -> BackendJWTError {
        let code = ERR_get_error()
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        ERR_clear_error()
        return BackendJWTError(.sign, "\(call) failed: \(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}
