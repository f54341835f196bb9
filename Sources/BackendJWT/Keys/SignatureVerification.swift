import COpenSSL

/// Checking a JWS signature with each algorithm family (RFC 7518 section 3, RFC 8037).
extension VerificationKey {
    /// Whether `signature` is this key's signature of `input` (the JWS signing input) with
    /// `algorithm`. The caller has checked `canVerify(algorithm)`. HMAC compares in constant time;
    /// ECDSA takes the JOSE form (R and S, each the curve's size) and nothing else; RSASSA-PSS
    /// requires MGF1 with the same hash and a salt as long as the hash.
    func verifies(_ signature: [UInt8], of input: ArraySlice<UInt8>, algorithm: SigningAlgorithm) -> Bool {
        defer { ERR_clear_error() }  // nginx reads OpenSSL's error queue for its own TLS errors
        guard algorithm.family != .none, let context = context(for: algorithm) else { return false }
        return input.withUnsafeBufferPointer { context.verifies(signature, of: $0) }
    }

    /// The prepared state for `algorithm`, made on first use (and again if making it failed).
    private func context(for algorithm: SigningAlgorithm) -> VerifyContext? {
        let index = Int(algorithm.rawValue)
        if let context = contexts[index] { return context }
        let made = VerifyContext(key: self, algorithm: algorithm)
        contexts[index] = made
        return made
    }

    /// The DER `ECDSA-Sig-Value` of a JOSE ECDSA signature (R then S, each exactly the curve's
    /// coordinate size, RFC 7518 3.4); nil for any other length. Written here, as i2d_ECDSA_SIG
    /// writes it (each INTEGER minimal, a zero byte before a high bit), without the BIGNUMs.
    static func derECDSA(_ signature: [UInt8], algorithm: SigningAlgorithm) -> [UInt8]? {
        guard let size = algorithm.curve?.coordinateBytes, signature.count == 2 * size else { return nil }
        var der = [UInt8]()
        der.reserveCapacity(2 * size + 9)
        der.append(0x30)
        der.append(0)  // the length, set below
        func integer(_ half: ArraySlice<UInt8>) {
            let digits = half.drop { $0 == 0 }
            let pad = digits.first.map { $0 & 0x80 != 0 } ?? true  // zero is one 0x00 byte
            der.append(0x02)
            der.append(UInt8(digits.count + (pad ? 1 : 0)))
            if pad { der.append(0) }
            der.append(contentsOf: digits)
        }
        integer(signature[..<size])
        integer(signature[size...])
        let content = der.count - 2
        if content < 0x80 {
            der[1] = UInt8(content)
        } else {  // P-521: at most 2 × 69 bytes, one length byte
            der[1] = 0x81
            der.insert(UInt8(content), at: 2)
        }
        return der
    }
}

/// The OpenSSL state to verify with one key and algorithm (see `OpenSSLContexts`), built once
/// per worker and reused for every token, as `SigningContext` is for signing (fetching the digest
/// and setting up a context per token took a third of the time of an RS256 verification). Not
/// thread-safe: each nginx worker has its own.
final class VerifyContext: OpenSSLContexts {
    private let algorithm: SigningAlgorithm
    /// The key (a reference of its own; nil for an HMAC secret).
    private var pkey: OpaquePointer?
    /// The digest of the signing input, or its MAC (unchecked exclusivity: see `contexts`).
    @exclusivity(unchecked) private var hash = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))

    /// Nil when OpenSSL cannot set it up (the token is then not verified, as before).
    init?(key: VerificationKey, algorithm: SigningAlgorithm) {
        self.algorithm = algorithm
        if let pkey = key.pkey, EVP_PKEY_up_ref(pkey) == 1 { self.pkey = pkey }
        super.init()
        switch algorithm.family {
        case .none: return nil
        case .hmac: guard initMAC(key.secret) else { return nil }
        case .edDSA: guard initEdDSA() else { return nil }
        case .rsa, .rsaPSS, .ecdsa: guard initPKeyVerify() else { return nil }
        }
    }

    deinit {
        if let pkey { EVP_PKEY_free(pkey) }
        OPENSSL_cleanse(&hash, hash.count)
    }

    private func initMAC(_ secret: [UInt8]) -> Bool {
        guard let name = algorithm.digestName else { return false }
        mac = makeHMACContext(secret: secret, digestName: name)
        return mac != nil
    }

    private func initPKeyVerify() -> Bool {
        guard let pkey, let name = algorithm.digestName, let md = EVP_MD_fetch(nil, name, nil) else { return false }
        digest = md
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return false }
        pkeyContext = ctx
        guard EVP_PKEY_verify_init(ctx) == 1, EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 else { return false }
        switch algorithm.family {
        case .rsaPSS:
            return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1
        case .rsa: return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
        default: return true
        }
    }

    private func initEdDSA() -> Bool {
        guard let pkey, let template = EVP_MD_CTX_new(), let work = EVP_MD_CTX_new() else { return false }
        self.template = template
        self.work = work
        return EVP_DigestVerifyInit(template, nil, nil, nil, pkey) == 1  // EdDSA: no digest
    }

    /// Whether `signature` is the signature of `input`.
    func verifies(_ signature: [UInt8], of input: UnsafeBufferPointer<UInt8>) -> Bool {
        switch algorithm.family {
        case .none: return false
        case .hmac: return verifiesMAC(signature, of: input)
        case .ecdsa:
            guard let der = VerificationKey.derECDSA(signature, algorithm: algorithm) else { return false }
            return verifiesDigest(der, of: input)
        case .rsa, .rsaPSS: return verifiesDigest(signature, of: input)
        case .edDSA: return verifiesEdDSA(signature, of: input)
        }
    }

    private func verifiesMAC(_ signature: [UInt8], of input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard signature.count == algorithm.hashBytes else { return false }
        var length = 0
        let done = hash.withUnsafeMutableBufferPointer { out in
            EVP_MAC_init(mac, nil, 0, nil) == 1 && EVP_MAC_update(mac, input.baseAddress, input.count) == 1
                && EVP_MAC_final(mac, out.baseAddress, &length, out.count) == 1
        }
        defer { OPENSSL_cleanse(&hash, hash.count) }
        guard done, length == signature.count else { return false }
        return CRYPTO_memcmp(hash, signature, length) == 0
    }

    private func verifiesDigest(_ signature: [UInt8], of input: UnsafeBufferPointer<UInt8>) -> Bool {
        var length: UInt32 = 0
        return hash.withUnsafeMutableBufferPointer { h in
            EVP_Digest(input.baseAddress, input.count, h.baseAddress, &length, digest, nil) == 1
                && EVP_PKEY_verify(pkeyContext, signature, signature.count, h.baseAddress, Int(length)) == 1
        }
    }

    private func verifiesEdDSA(_ signature: [UInt8], of input: UnsafeBufferPointer<UInt8>) -> Bool {
        // A context that cannot be copied gets a fresh one (it has no parameters to lose).
        if EVP_MD_CTX_copy_ex(work, template) != 1 {
            ERR_clear_error()
            guard EVP_DigestVerifyInit(work, nil, nil, nil, pkey) == 1 else { return false }
        }
        return EVP_DigestVerify(work, signature, signature.count, input.baseAddress, input.count) == 1
    }
}
