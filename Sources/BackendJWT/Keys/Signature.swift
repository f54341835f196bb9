import COpenSSL

/// Signing with each algorithm family, as RFC 7518 and RFC 8037 define the JWS signature.
extension SigningKey {
    /// Signs `message` (the JWS signing input) and returns the signature bytes. A signer keeps a
    /// `SigningContext` instead, which does the same without building OpenSSL state each time.
    func sign(_ message: UnsafeRawBufferPointer, algorithm: SigningAlgorithm) throws(BackendJWTError) -> [UInt8] {
        guard algorithm.family != .none else { return [] }
        let context = try SigningContext(key: self, algorithm: algorithm)
        let length = try context.sign(message)
        return Array(context.signature.prefix(length))
    }

    /// The most bytes a signature can take.
    var maximumSignatureLength: Int {
        pkey.map { Int(EVP_PKEY_get_size($0)) } ?? Int(EVP_MAX_MD_SIZE)
    }

    /// The newest OpenSSL error as a `.sign` error; clears the queue, which nginx also reads.
    static func openSSLError(_ call: String) -> BackendJWTError {
        let code = ERR_get_error()
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        ERR_clear_error()
        let reason = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return BackendJWTError(.sign, "\(call) failed: \(reason)")
    }
}

/// The OpenSSL state to sign with one key and algorithm (see `OpenSSLContexts`), built once and
/// reused for every token. Not thread-safe: each nginx worker has its own.
final class SigningContext: OpenSSLContexts {
    private let algorithm: SigningAlgorithm
    private let key: SigningKey
    // Per worker, used by one token at a time: no two accesses overlap, and their exclusivity
    // is not checked at run time (about 80 instructions per access).
    /// Where the last signature is; `sign` returns how many bytes of it are used.
    @exclusivity(unchecked) private(set) var signature: [UInt8]
    /// The digest of the signing input, for algorithms that sign one.
    @exclusivity(unchecked) private var hash = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    /// An ECDSA signature's DER, read while R and S are written over it.
    @exclusivity(unchecked) private var der: [UInt8] = []

    init(key: SigningKey, algorithm: SigningAlgorithm) throws(BackendJWTError) {
        self.algorithm = algorithm
        self.key = key
        signature = [UInt8](repeating: 0, count: key.maximumSignatureLength)
        super.init()
        switch algorithm.family {
        case .hmac: try initMAC(key.secret, algorithm)
        case .edDSA: try initDigestSign(key, algorithm)
        default: try initPKeySign(key, algorithm)
        }
    }

    private func initMAC(_ secret: [UInt8], _ algorithm: SigningAlgorithm) throws(BackendJWTError) {
        mac = makeHMACContext(secret: secret, digestName: algorithm.digestName ?? "")
        guard mac != nil else { throw SigningKey.openSSLError("HMAC context") }
    }

    private func initPKeySign(_ key: SigningKey, _ algorithm: SigningAlgorithm) throws(BackendJWTError) {
        guard let pkey = key.pkey, let name = algorithm.digestName, let md = EVP_MD_fetch(nil, name, nil) else {
            throw SigningKey.openSSLError("EVP_MD_fetch")
        }
        digest = md
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw SigningKey.openSSLError("EVP_PKEY_CTX_new_from_pkey")
        }
        pkeyContext = ctx
        guard EVP_PKEY_sign_init(ctx) == 1, EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 else {
            throw SigningKey.openSSLError("EVP_PKEY_sign_init")
        }
        if algorithm.family == .rsaPSS {
            // RFC 7518 3.5: MGF1 with the same hash, a salt as long as the hash.
            guard EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1
            else { throw SigningKey.openSSLError("EVP_PKEY_CTX_set_rsa_padding") }
        } else if algorithm.family == .rsa {
            guard EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 else {
                throw SigningKey.openSSLError("EVP_PKEY_CTX_set_rsa_padding")
            }
        }
    }

    private func initDigestSign(_ key: SigningKey, _ algorithm: SigningAlgorithm) throws(BackendJWTError) {
        guard let pkey = key.pkey, let template = EVP_MD_CTX_new(), let work = EVP_MD_CTX_new() else {
            throw SigningKey.openSSLError("EVP_MD_CTX_new")
        }
        self.template = template
        self.work = work
        guard EVP_DigestSignInit(template, nil, nil, nil, pkey) == 1 else {  // EdDSA: no digest
            throw SigningKey.openSSLError("EVP_DigestSignInit")
        }
    }

    /// Signs `message` into `signature`; returns the signature's length.
    func sign(_ message: UnsafeRawBufferPointer) throws(BackendJWTError) -> Int {
        let input = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if let mac {
            var length = 0
            let ok = signature.withUnsafeMutableBufferPointer { out in
                EVP_MAC_init(mac, nil, 0, nil) == 1 && EVP_MAC_update(mac, input, message.count) == 1
                    && EVP_MAC_final(mac, out.baseAddress, &length, out.count) == 1
            }
            guard ok else { throw SigningKey.openSSLError("HMAC") }
            return length
        }
        if let pkeyContext {
            var hashLength: UInt32 = 0
            var length = signature.count
            let ok = hash.withUnsafeMutableBufferPointer { h in
                EVP_Digest(message.baseAddress, message.count, h.baseAddress, &hashLength, digest, nil) == 1
                    && signature.withUnsafeMutableBufferPointer { out in
                        EVP_PKEY_sign(pkeyContext, out.baseAddress, &length, h.baseAddress, Int(hashLength)) == 1
                    }
            }
            guard ok else { throw SigningKey.openSSLError("EVP_PKEY_sign") }
            if algorithm.family == .ecdsa { length = try joseECDSA(derLength: length) }
            return length
        }
        // An EdDSA context that cannot be copied gets a fresh one (it has no parameters to lose).
        if EVP_MD_CTX_copy_ex(work, template) != 1 {
            ERR_clear_error()
            guard EVP_DigestSignInit(work, nil, nil, nil, key.pkey) == 1 else {
                throw SigningKey.openSSLError("EVP_DigestSignInit")
            }
        }
        var length = signature.count
        let ok = signature.withUnsafeMutableBufferPointer { out in
            EVP_DigestSign(work, out.baseAddress, &length, input, message.count) == 1
        }
        guard ok else { throw SigningKey.openSSLError("EVP_DigestSign") }
        if algorithm.family == .ecdsa { length = try joseECDSA(derLength: length) }
        return length
    }

    /// ECDSA as JWS wants it (RFC 7518 3.4): R and S, each left-padded to the curve's size,
    /// written over the DER signature in `signature`. The DER (OpenSSL's `ECDSA-Sig-Value`, a
    /// SEQUENCE of two positive INTEGERs) is read here: d2i_ECDSA_SIG and two BIGNUMs cost about
    /// 4,500 instructions per token.
    private func joseECDSA(derLength: Int) throws(BackendJWTError) -> Int {
        guard let size = algorithm.curve?.coordinateBytes else { throw BackendJWTError(.sign, "not ECDSA") }
        // Read from a copy (R and S are written over the DER), kept from token to token.
        der.removeAll(keepingCapacity: true)
        der.append(contentsOf: signature[..<derLength])
        var at = 0
        /// A DER length at `at` (short form, or long form with one byte: at most 255).
        func length() -> Int? {
            guard at < der.count else { return nil }
            let first = Int(der[at])
            at += 1
            guard first & 0x80 != 0 else { return first }
            guard first == 0x81, at < der.count, der[at] >= 0x80 else { return nil }
            at += 1
            return Int(der[at - 1])
        }
        /// The magnitude of a positive INTEGER at `at`, without leading zero bytes.
        func integer() -> ArraySlice<UInt8>? {
            guard at < der.count, der[at] == 0x02 else { return nil }
            at += 1
            guard let count = length(), count > 0, at + count <= der.count, der[at] & 0x80 == 0 else { return nil }
            at += count
            return der[(at - count)..<at].drop { $0 == 0 }
        }
        guard der.first == 0x30 else { throw BackendJWTError(.sign, "ECDSA signature: not a DER SEQUENCE") }
        at = 1
        guard let content = length(), at + content == der.count, let r = integer(), let s = integer(),
            at == der.count, r.count <= size, s.count <= size
        else { throw BackendJWTError(.sign, "ECDSA signature: not the DER of two integers of the curve's size") }
        signature.withUnsafeMutableBufferPointer { out in
            func put(_ part: ArraySlice<UInt8>, at offset: Int) {
                let pad = size - part.count
                for i in 0..<pad { out[offset + i] = 0 }
                for (i, byte) in zip(pad..., part) { out[offset + i] = byte }
            }
            put(r, at: 0)
            put(s, at: size)
        }
        return 2 * size
    }
}
