import COpenSSL

/// A key that verifies callers' tokens (`backend_jwt_verify_key`): a public RSA, EC (P-256,
/// P-384, P-521) or Ed25519 key, or an HMAC secret from a `kty: oct` JWK. Read at configuration
/// time by `load(path:)`, which accepts a JWK Set, a single JWK, a PEM public key, a PEM
/// certificate or a PEM private key.
///
/// Private keys are reduced to their public half: a PEM private key (unencrypted) and a JWK with
/// private members (`d`, `p`, `q`, ...) verify with their public part, and the private part is
/// not kept. An HMAC secret is the one exception: it verifies only with HS algorithms, and only
/// a JWK (`kty: oct`, member `k`) provides one; a PEM file never does, so an RSA public key can
/// never be taken for an HMAC secret.
public final class VerificationKey {
    /// RSA (with its size), EC (with its OpenSSL group), Ed25519, or an HMAC secret.
    public let type: SigningKey.KeyType
    /// The JWK's `kid`; nil for PEM keys and JWKs without one.
    public let keyID: [UInt8]?
    /// The JWK's `alg`: when present the key verifies only that algorithm.
    public let declaredAlgorithm: [UInt8]?
    /// The JWK's `use`: when present and not `sig`, the key never verifies.
    public let use: [UInt8]?
    /// The JWK's `key_ops`: when present and without `verify`, the key never verifies.
    public let operations: [[UInt8]]?
    /// The file the key came from, for messages.
    public let path: String

    /// The public key; nil for an HMAC secret.
    let pkey: OpaquePointer?
    /// The HMAC secret; empty for public keys. Wiped when the key is released.
    private(set) var secret: [UInt8]
    /// The algorithms this key may verify (`canVerify`), a bit each: all it depends on is fixed.
    private let verifiable: UInt16
    /// The OpenSSL state to verify each algorithm with, by raw value, built on first use in the
    /// worker (see `VerifyContext`). A worker verifies one token at a time: the exclusivity of
    /// this state is not checked at run time (about 80 instructions per access).
    @exclusivity(unchecked) var contexts = [VerifyContext?](repeating: nil, count: SigningAlgorithm.allCases.count)

    init(
        pkey: OpaquePointer?, secret: [UInt8], type: SigningKey.KeyType, path: String, keyID: [UInt8]? = nil,
        declaredAlgorithm: [UInt8]? = nil, use: [UInt8]? = nil, operations: [[UInt8]]? = nil
    ) {
        self.pkey = pkey
        self.secret = secret
        self.type = type
        self.path = path
        self.keyID = keyID
        self.declaredAlgorithm = declaredAlgorithm
        self.use = use
        self.operations = operations
        verifiable = SigningAlgorithm.allCases.reduce(0) { mask, algorithm in
            Self.allows(algorithm, type: type, declaredAlgorithm: declaredAlgorithm, use: use, operations: operations)
                ? mask | algorithm.bit : mask
        }
    }

    deinit {
        if let pkey { EVP_PKEY_free(pkey) }
        KeyFile.wipe(&secret)
    }

    /// Whether this key may verify a token signed with `algorithm`: the JWK's `alg`, `use` and
    /// `key_ops` allow it, and the key type fits (RSA for RS and PS, the algorithm's curve for
    /// ES, Ed25519 for EdDSA, a secret at least as long as the hash for HS, RFC 7518 3.2).
    /// Never true for `none`.
    public func canVerify(_ algorithm: SigningAlgorithm) -> Bool { verifiable & algorithm.bit != 0 }

    /// `canVerify`, worked out once when the key is made.
    private static func allows(
        _ algorithm: SigningAlgorithm, type: SigningKey.KeyType, declaredAlgorithm: [UInt8]?, use: [UInt8]?,
        operations: [[UInt8]]?
    ) -> Bool {
        if let declaredAlgorithm, declaredAlgorithm != algorithm.joseBytes { return false }
        if let use, use != Array("sig".utf8) { return false }
        if let operations, !operations.contains(Array("verify".utf8)) { return false }
        // The type matched alone: a tuple switch here crashed the 6.3 optimizer.
        switch type {
        case .rsa: return algorithm.family == .rsa || algorithm.family == .rsaPSS
        case .ec(let group): return algorithm.family == .ecdsa && group == algorithm.curve?.group
        case .ed25519: return algorithm.family == .edDSA
        case .secret(let bytes): return algorithm.family == .hmac && bytes >= algorithm.hashBytes
        case .other: return false
        }
    }

    /// What the key is, for messages: its type, and its kid if it has one.
    public var summary: String {
        keyID.map { "\(type) key with kid \(quoted($0))" } ?? "\(type) key"
    }

    /// Reads every key in `path`: a JWK Set (`{"keys":[...]}`), a single JWK, or PEM (a public
    /// key, a certificate, or a private key reduced to its public half; one key per file).
    /// A JWK Set may hold keys this verifier does not use (another `kty`, such as an X25519
    /// encryption key): they are skipped, but a set with no usable key, a malformed JWK, or an
    /// RSA key under 2048 bits is refused.
    public static func load(path: [UInt8]) throws(BackendJWTError) -> [VerificationKey] {
        let contents = try KeyFile.load(path, noun: "verification key file")
        return try parse(contents, path: String(decoding: path, as: UTF8.self))
    }

    /// Reads the keys in `contents` as `load` does; `path` names the file in messages.
    public static func parse(_ contents: [UInt8], path: String) throws(BackendJWTError) -> [VerificationKey] {
        let first = contents.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        if first == UInt8(ascii: "{") { return try JWKReader(path: path).keys(fromJSON: contents) }
        return [try PEMKeyReader(path: path).key(from: contents)]
    }

    /// The type of a public key, or nil (with the reason) when JOSE has no algorithm for it or
    /// it is too weak.
    static func checkedType(of pkey: OpaquePointer) -> (type: SigningKey.KeyType?, why: String) {
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(pkey))
            guard bits >= SigningKey.minimumRSABits else {
                return (nil, "an RSA \(bits)-bit key; at least \(SigningKey.minimumRSABits) bits are required")
            }
            return (.rsa(bits: bits), "")
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pkey, &name, name.count, &length) == 1 else { return (nil, "an EC key") }
            let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard SigningAlgorithm.curve(group: group) != nil else {
                return (nil, "an EC key on curve \(group); JOSE verifies P-256, P-384 and P-521")
            }
            return (.ec(curve: group), "")
        case EVP_PKEY_ED25519: return (.ed25519, "")
        case EVP_PKEY_RSA_PSS: return (nil, "an RSA-PSS key; give it as a plain RSA key (PS algorithms use it)")
        case EVP_PKEY_ED448: return (nil, "an Ed448 key, which no algorithm here verifies")
        default: return (nil, "a key of a type no JOSE algorithm here verifies")
        }
    }
}
