import COpenSSL

/// A key read at configuration time (by nginx's master, so a file readable only by root works
/// while workers run unprivileged): a PEM private or public key, or an HMAC secret.
public final class SigningKey {
    /// What the key is, for messages and for matching the algorithm.
    public enum KeyType: Equatable, Sendable, CustomStringConvertible {
        case rsa(bits: Int)
        case ec(curve: String)  // the OpenSSL group name, such as prime256v1
        case ed25519
        case secret(bytes: Int)
        case other(String)

        public var description: String {
            switch self {
            case .rsa(let bits): "RSA \(bits)-bit"
            case .ec(let group): "EC \(SigningAlgorithm.curve(group: group)?.jwk ?? group)"
            case .ed25519: "Ed25519"
            case .secret(let bytes): "HMAC secret of \(bytes) bytes"
            case .other(let name): name
            }
        }
    }

    static let minimumRSABits = 2048

    /// An OpenSSL key for asymmetric algorithms; nil for an HMAC secret.
    let pkey: OpaquePointer?
    /// The HMAC secret; empty for asymmetric keys. Wiped in place when the key is released.
    private(set) var secret: [UInt8]
    public let type: KeyType
    public let path: String
    /// Whether the private half is here (false for a public key named by backend_jwt_jwks_key).
    public let isPrivate: Bool

    /// Reads a PEM private key: PKCS#8 (plain, or encrypted with the first line of
    /// `passwordFile` as its password), PKCS#1 RSA or SEC1 EC.
    public convenience init(path: [UInt8], passwordFile: [UInt8]? = nil) throws(BackendJWTError) {
        var password: [UInt8] = []
        defer { KeyFile.wipe(&password) }
        if let passwordFile {
            password = try Self.firstLine(of: passwordFile)
        }
        try self.init(pem: path, password: passwordFile == nil ? nil : password, publicAllowed: false)
    }

    /// Reads a PEM public or private key for publishing in the JWKS (only its public half is used).
    public convenience init(publicPath path: [UInt8]) throws(BackendJWTError) {
        try self.init(pem: path, password: nil, publicAllowed: true)
    }

    private init(pem path: [UInt8], password: [UInt8]?, publicAllowed: Bool) throws(BackendJWTError) {
        let shown = String(decoding: path, as: UTF8.self)
        var pem = try KeyFile.load(path, noun: "key file")
        defer { KeyFile.wipe(&pem) }
        try KeyFile.checkSinglePEMBlock(pem, noun: "key file", path: shown, one: "one key", counts: KeyFile.isKeyBlock)
        var isPrivate = true
        var parsed = Self.parsePrivate(pem, password: password)
        if parsed == nil && publicAllowed {
            parsed = Self.parsePublic(pem)
            isPrivate = false
        }
        ERR_clear_error()  // nginx reads OpenSSL's error queue for its own TLS errors
        guard let pkey = parsed else {
            throw BackendJWTError(
                .key, Self.whyNotAPrivateKey(pem, path: shown, password: password != nil, publishing: publicAllowed))
        }
        self.pkey = pkey
        self.secret = []
        self.path = shown
        self.isPrivate = isPrivate
        self.type = Self.type(of: pkey)
        if case .rsa(let bits) = type, bits < Self.minimumRSABits {
            throw BackendJWTError(
                .key, "key file \(quotedPath(shown)) holds an RSA \(bits)-bit key; at least \(Self.minimumRSABits) bits are required")
        }
        if isPrivate, !Self.partsMatch(pkey) {
            throw BackendJWTError(
                .key, "key file \(quotedPath(shown)) holds a damaged private key: its public and private parts do not match")
        }
        if case .other(let name) = type {
            throw BackendJWTError(.key, "key file \(quotedPath(shown)) holds a key of type \(name), which no JOSE algorithm here signs with")
        }
    }

    /// An HMAC secret (`backend_jwt_signing_secret`): the file's bytes as they are, or decoded
    /// from `encoding` (base64, base64url or hex; surrounding white space ignored).
    public init(secretPath path: [UInt8], encoding: SecretEncoding) throws(BackendJWTError) {
        let shown = String(decoding: path, as: UTF8.self)
        var raw = try KeyFile.load(path, noun: "secret file")
        defer { KeyFile.wipe(&raw) }
        if KeyFile.contains(raw, "-----BEGIN ") {
            let label = KeyFile.pemLayout(raw).labels.first.map { " (\(quoted($0)))" } ?? ""
            throw BackendJWTError(
                .key,
                "secret file \(quotedPath(shown)) holds a PEM block\(label), not an HMAC secret; "
                    + "a key goes to backend_jwt_signing_key")
        }
        guard var secret = encoding.decode(raw) else {
            throw BackendJWTError(.key, "secret file \(quotedPath(shown)) is not valid \(encoding)")
        }
        if let what = Self.derKeyKind(secret) {
            KeyFile.wipe(&secret)
            throw BackendJWTError(
                .key,
                "secret file \(quotedPath(shown)) holds a DER \(what), not an HMAC secret; "
                    + "a key goes to backend_jwt_signing_key, as PEM (openssl pkey -inform DER -in FILE)")
        }
        guard !secret.isEmpty else { throw BackendJWTError(.key, "secret file \(quotedPath(shown)) is empty") }
        self.pkey = nil
        self.secret = secret
        self.path = shown
        self.isPrivate = true
        self.type = .secret(bytes: secret.count)
    }

    deinit {
        if let pkey { EVP_PKEY_free(pkey) }
        KeyFile.wipe(&secret)
    }

    /// Checks that this key can sign with `algorithm` (RFC 7518: RSA keys of 2048 bits or more,
    /// the curve of each ES algorithm, HMAC secrets at least as long as the hash).
    /// `requirePrivate` is false for keys that are only published (`backend_jwt_jwks_key`).
    func check(for algorithm: SigningAlgorithm, requirePrivate: Bool = true) throws(BackendJWTError) {
        let fits: Bool
        var why = ""
        switch (algorithm.family, type) {
        case (.none, _): fits = true
        case (.rsa, .rsa), (.rsaPSS, .rsa), (.edDSA, .ed25519): fits = true
        case (.ecdsa, .ec(let curve)):
            fits = curve == algorithm.curve?.group
            why = "; \(algorithm.joseName) needs an EC \(algorithm.curve?.jwk ?? "") key"
        case (.hmac, .secret(let bytes)):
            fits = bytes >= algorithm.hashBytes
            why = "; \(algorithm.joseName) needs a secret of at least \(algorithm.hashBytes) bytes (RFC 7518 3.2)"
        default:
            fits = false
            switch algorithm.family {
            case .hmac: why = "; \(algorithm.joseName) needs backend_jwt_signing_secret"
            case .rsa, .rsaPSS: why = "; \(algorithm.joseName) needs an RSA key"
            case .edDSA: why = "; EdDSA needs an Ed25519 key"
            case .ecdsa: why = "; \(algorithm.joseName) needs an EC \(algorithm.curve?.jwk ?? "") key"
            default: why = ""
            }
        }
        guard fits else {
            let noun = pkey == nil ? "secret file" : "key file"
            throw BackendJWTError(
                .key, "\(noun) \(quotedPath(path)) holds a key of type \(type), which cannot sign \(algorithm.joseName)\(why)")
        }
        guard isPrivate || !requirePrivate else {
            throw BackendJWTError(
                .key,
                "key file \(quotedPath(path)) holds a public \(type) key, which cannot sign \(algorithm.joseName)")
        }
    }

    // MARK: - parsing

    private static func parsePrivate(_ pem: [UInt8], password: [UInt8]?) -> OpaquePointer? {
        pem.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            guard let password else {
                // A callback that gives no password: an encrypted key fails instead of
                // prompting on the terminal of the master process.
                return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
            }
            // With no callback, OpenSSL takes `u` as the NUL-terminated password.
            var terminated = password + [0]
            defer { KeyFile.wipe(&terminated) }
            return terminated.withUnsafeMutableBytes { PEM_read_bio_PrivateKey(bio, nil, nil, $0.baseAddress) }
        }
    }

    /// "private key" or "public key" if OpenSSL parses `bytes` as a DER key, else nil.
    private static func derKeyKind(_ bytes: [UInt8]) -> String? {
        defer { ERR_clear_error() }
        return bytes.withUnsafeBytes { buffer -> String? in
            guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0,
                buffer.count <= Int(Int32.max)
            else { return nil }
            var cursor: UnsafePointer<UInt8>? = UnsafePointer(base)
            if let pkey = d2i_AutoPrivateKey(nil, &cursor, buffer.count) {
                EVP_PKEY_free(pkey)
                return "private key"
            }
            cursor = UnsafePointer(base)
            if let pkey = d2i_PUBKEY(nil, &cursor, buffer.count) {
                EVP_PKEY_free(pkey)
                return "public key"
            }
            return nil
        }
    }

    private static func parsePublic(_ pem: [UInt8]) -> OpaquePointer? {
        pem.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
    }

    /// OpenSSL loads a key without checking that its parts belong together (an RSA modulus
    /// that is not the product of its primes); every token it signed would fail to verify.
    private static func partsMatch(_ pkey: OpaquePointer) -> Bool {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return false }
        defer { EVP_PKEY_CTX_free(ctx) }
        let ok = EVP_PKEY_pairwise_check(ctx) == 1
        ERR_clear_error()
        return ok
    }

    private static func type(of pkey: OpaquePointer) -> KeyType {
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA: return .rsa(bits: Int(EVP_PKEY_get_bits(pkey)))
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pkey, &name, name.count, &length) == 1 else { return .other("EC") }
            return .ec(curve: String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        case EVP_PKEY_ED25519: return .ed25519
        case EVP_PKEY_RSA_PSS: return .other("RSA-PSS")
        case EVP_PKEY_ED448: return .other("Ed448")
        default: return .other("unknown")
        }
    }

    /// Says what a PEM file holds instead of a usable private key, without echoing its content.
    private static func whyNotAPrivateKey(_ pem: [UInt8], path: String, password: Bool, publishing: Bool) -> String {
        let encrypted =
            publishing
            ? "an encrypted private key; publish its public half instead (openssl pkey -in KEY -pubout)"
            : password
                ? "an encrypted private key that the password does not open"
                : "an encrypted private key; name its password with password_file="
        let labels: [(String, String)] = [
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----", encrypted),
            ("Proc-Type: 4,ENCRYPTED", encrypted),
            ("-----BEGIN PUBLIC KEY-----", "a public key, not a private key"),
            ("-----BEGIN RSA PUBLIC KEY-----", "a public key, not a private key"),
            (
                "-----BEGIN CERTIFICATE-----",
                publishing
                    ? "a certificate; publish its public key (openssl x509 -in CERT -pubkey -noout)"
                    : "a certificate, not a private key"
            ),
            ("PRIVATE KEY-----", "a private key OpenSSL cannot parse (damaged, or encrypted in a legacy form)"),
        ]
        for (label, what) in labels where KeyFile.contains(pem, label) {
            return "key file \(quotedPath(path)) holds \(what)"
        }
        return "key file \(quotedPath(path)) holds no PEM \(publishing ? "key" : "private key")"
    }

    private static func firstLine(of path: [UInt8]) throws(BackendJWTError) -> [UInt8] {
        var bytes = try KeyFile.load(path, noun: "password file")
        defer { KeyFile.wipe(&bytes) }
        let line = Array(bytes.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") })
        guard !line.isEmpty else {
            throw BackendJWTError(.key, "password file \(quotedPath(String(decoding: path, as: UTF8.self))) is empty")
        }
        return line
    }
}
