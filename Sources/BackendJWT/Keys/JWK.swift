import COpenSSL

/// Public keys as JWKs (RFC 7517, RFC 8037 for OKP) and their thumbprints (RFC 7638).
extension SigningKey {
    /// The required public members (RFC 7638 3.2), in lexicographic order; nil for an HMAC
    /// secret, which is never published.
    func publicJWKMembers() throws(BackendJWTError) -> [(name: String, value: [UInt8])]? {
        guard let pkey else { return nil }
        let b64 = TokenEncoding.base64url
        switch type {
        case .rsa:
            return [("e", b64.encode(try bigNumber(pkey, "e"))), ("kty", Array("RSA".utf8)),
                    ("n", b64.encode(try bigNumber(pkey, "n")))]
        case .ec(let group):
            guard let curve = SigningAlgorithm.curve(group: group) else {
                throw BackendJWTError(.key, "key file \(quotedPath(path)) uses curve \(group), which JOSE does not name")
            }
            return [("crv", Array(curve.jwk.utf8)), ("kty", Array("EC".utf8)),
                    ("x", b64.encode(try bigNumber(pkey, "qx", size: curve.coordinateBytes))),
                    ("y", b64.encode(try bigNumber(pkey, "qy", size: curve.coordinateBytes)))]
        case .ed25519:
            var raw = [UInt8](repeating: 0, count: 32)
            var length = raw.count
            guard EVP_PKEY_get_raw_public_key(pkey, &raw, &length) == 1 else {
                throw Self.openSSLError("EVP_PKEY_get_raw_public_key")
            }
            return [("crv", Array("Ed25519".utf8)), ("kty", Array("OKP".utf8)),
                    ("x", b64.encode(Array(raw.prefix(length))))]
        case .secret, .other:
            return nil
        }
    }

    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the required members as compact
    /// JSON in lexicographic order. Nil for an HMAC secret (publishing a hash of it would let
    /// anyone test guesses offline).
    public func thumbprint() throws(BackendJWTError) -> [UInt8]? {
        guard let members = try publicJWKMembers() else { return nil }
        var json = JSONWriter()
        json.append("{")
        for (index, member) in members.enumerated() {
            if index > 0 { json.append(",") }
            json.appendString(Array(member.name.utf8))
            json.append(":")
            json.appendString(member.value)
        }
        json.append("}")
        return TokenEncoding.base64url.encode(Digest.sha256(json.bytes))
    }

    /// An unsigned big-endian OpenSSL key parameter, left-padded to `size` bytes if given.
    private func bigNumber(_ pkey: OpaquePointer, _ name: String, size: Int? = nil) throws(BackendJWTError)
        -> [UInt8]
    {
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, let bn else {
            throw Self.openSSLError("EVP_PKEY_get_bn_param(\(name))")
        }
        defer { BN_free(bn) }
        let length = size ?? Int((BN_num_bits(bn) + 7) / 8)
        var out = [UInt8](repeating: 0, count: length)
        guard BN_bn2binpad(bn, &out, Int32(length)) == Int32(length) else {
            throw Self.openSSLError("BN_bn2binpad")
        }
        return out
    }
}

/// The JWK Set a `backend_jwt_jwks` location serves: the public key of every signer of the http
/// block, plus the keys named by `backend_jwt_jwks_key` (retired or upcoming keys). The keys
/// that sign come first, whatever the order of the directives: a verifier that takes the
/// first key of the set keeps working while a new key is only published.
public final class JWKSet {
    struct Entry {
        let keyID: [UInt8]?
        let algorithm: SigningAlgorithm
        let members: [(name: String, value: [UInt8])]
        let certificate: Certificate?
        /// Whether a signer signs with it (false: only published by backend_jwt_jwks_key).
        var signs: Bool
    }

    private var entries: [Entry] = []

    public init() {}

    /// Publishes the key a signer signs with, under the kid and alg its tokens carry.
    public func add(_ signer: Signer) throws(BackendJWTError) {
        guard let key = signer.key else { return }
        try add(key: key, keyID: signer.keyID, algorithm: signer.algorithm, certificate: signer.certificate, signs: true)
    }

    /// Publishes a key named by `backend_jwt_jwks_key`, with its thumbprint as kid.
    public func add(key: SigningKey, algorithm: SigningAlgorithm?) throws(BackendJWTError) {
        guard let algorithm = algorithm ?? Self.defaultAlgorithm(for: key.type) else {
            throw BackendJWTError(.key, "key file \(quotedPath(key.path)) holds a key of type \(key.type), which cannot be published")
        }
        guard algorithm.family != .none, algorithm.family != .hmac else {
            throw BackendJWTError(.config, "alg=\(algorithm.joseName) has no public key to publish")
        }
        try key.check(for: algorithm, requirePrivate: false)
        try add(key: key, keyID: key.thumbprint(), algorithm: algorithm, certificate: nil, signs: false)
    }

    private func add(
        key: SigningKey, keyID: [UInt8]?, algorithm: SigningAlgorithm, certificate: Certificate?, signs: Bool
    ) throws(BackendJWTError) {
        guard let members = try key.publicJWKMembers() else { return }  // HMAC: never published
        // Backends and libraries (jwt-kit among them) look keys up by kid: an entry always has
        // one, the thumbprint where the tokens carry none.
        var keyID = keyID
        if keyID == nil { keyID = try key.thumbprint() }
        let same = entries.firstIndex {
            $0.keyID == keyID && $0.algorithm == algorithm
                && $0.members.elementsEqual(members, by: { $0.name == $1.name && $0.value == $1.value })
                && ($0.certificate == nil || certificate == nil || $0.certificate?.der == certificate?.der)
        }
        guard let same else {
            entries.append(
                Entry(keyID: keyID, algorithm: algorithm, members: members, certificate: certificate, signs: signs))
            return
        }
        // One key signing in several locations (or signing and also named by
        // backend_jwt_jwks_key) is one entry; its certificate, wherever one is configured, is
        // published with it.
        if entries[same].certificate == nil, let certificate {
            entries[same] = Entry(
                keyID: keyID, algorithm: algorithm, members: members, certificate: certificate,
                signs: entries[same].signs)
        }
        if signs { entries[same].signs = true }
    }

    /// The algorithm a key of this type signs with when the configuration does not say.
    static func defaultAlgorithm(for type: SigningKey.KeyType) -> SigningAlgorithm? {
        switch type {
        case .rsa: .rs256
        case .ec(let curve): SigningAlgorithm.allCases.first { $0.curve?.group == curve }
        case .ed25519: .edDSA
        case .secret, .other: nil
        }
    }

    /// `{"keys":[...]}`: each entry with kty, use, alg, kid, the public members, and x5c, x5t,
    /// x5t#S256 where a certificate is configured. Never a private member.
    public func json() -> [UInt8] {
        var json = JSONWriter()
        json.append("{\"keys\":[")
        let ordered = entries.filter(\.signs) + entries.filter { !$0.signs }
        for (index, entry) in ordered.enumerated() {
            if index > 0 { json.append(",") }
            json.append("{\"kty\":")
            json.appendString(entry.members.first { $0.name == "kty" }!.value)
            json.append(",\"use\":\"sig\",\"alg\":")
            json.appendString(Array(entry.algorithm.joseName.utf8))
            if let keyID = entry.keyID {
                json.append(",\"kid\":")
                json.appendString(keyID)
            }
            for member in entry.members where member.name != "kty" {
                json.append(",")
                json.appendString(Array(member.name.utf8))
                json.append(":")
                json.appendString(member.value)
            }
            if let certificate = entry.certificate {
                var x5c = TokenEncoding.base64.encode(certificate.der)  // x5c is padded base64 (RFC 7517 4.7)
                x5c += Array(repeating: UInt8(ascii: "="), count: (4 - x5c.count % 4) % 4)
                json.append(",\"x5c\":[")
                json.appendString(x5c)
                json.append("],\"x5t\":")
                json.appendString(certificate.sha1Thumbprint)
                json.append(",\"x5t#S256\":")
                json.appendString(certificate.sha256Thumbprint)
            }
            json.append("}")
        }
        json.append("]}")
        return json.bytes
    }

    /// A strong ETag for `json`: a quoted prefix of its SHA-256.
    public static func etag(of json: [UInt8]) -> [UInt8] {
        [UInt8(ascii: "\"")] + TokenEncoding.base64url.encode(Digest.sha256(json)).prefix(22) + [UInt8(ascii: "\"")]
    }
}
