import COpenSSL

/// Checking a JWS signature with each algorithm family (RFC 7518 section 3, RFC 8037).
extension VerificationKey {
    /// Whether `signature` is this key's signature of `input` (the JWS signing input) with
    /// `algorithm`. The caller has checked `canVerify(algorithm)`. HMAC compares in constant time;
    /// ECDSA takes the JOSE form (R and S, each the curve's size) and nothing else; RSASSA-PSS
    /// requires MGF1 with the same hash and a salt as long as the hash.
    func verifies(_ signature: [UInt8], of input: ArraySlice<UInt8>, algorithm: SigningAlgorithm) -> Bool {
        defer { ERR_clear_error() }  // nginx reads OpenSSL's error queue for its own TLS errors
        switch algorithm.family {
        case .none: return false
        case .hmac: return verifiesMAC(signature, of: input, algorithm: algorithm)
        case .ecdsa:
            guard let der = Self.derECDSA(signature, algorithm: algorithm) else { return false }
            return verifiesDigest(der, of: input, algorithm: algorithm)
        default: return verifiesDigest(signature, of: input, algorithm: algorithm)
        }
    }

    private func verifiesMAC(_ signature: [UInt8], of input: ArraySlice<UInt8>, algorithm: SigningAlgorithm) -> Bool {
        guard let digest = algorithm.digestName, signature.count == algorithm.hashBytes else { return false }
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        let done = input.withUnsafeBufferPointer { data in
            secret.withUnsafeBufferPointer { key in
                EVP_Q_mac(
                    nil, "HMAC", nil, digest, nil, key.baseAddress, key.count, data.baseAddress, data.count, &mac,
                    mac.count, &length) != nil
            }
        }
        defer { KeyFile.wipe(&mac) }
        guard done, length == signature.count else { return false }
        return CRYPTO_memcmp(mac, signature, length) == 0
    }

    private func verifiesDigest(_ signature: [UInt8], of input: ArraySlice<UInt8>, algorithm: SigningAlgorithm) -> Bool
    {
        guard let pkey, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var md: OpaquePointer?
        if let name = algorithm.digestName {
            guard let fetched = EVP_MD_fetch(nil, name, nil) else { return false }
            md = fetched
        }
        defer { if let md { EVP_MD_free(md) } }
        var pkeyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &pkeyContext, md, nil, pkey) == 1 else { return false }
        switch algorithm.family {
        case .rsaPSS:
            guard EVP_PKEY_CTX_set_rsa_padding(pkeyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(pkeyContext, md) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pkeyContext, RSA_PSS_SALTLEN_DIGEST) == 1
            else { return false }
        case .rsa:
            guard EVP_PKEY_CTX_set_rsa_padding(pkeyContext, RSA_PKCS1_PADDING) == 1 else { return false }
        default: break
        }
        return input.withUnsafeBufferPointer { data in
            EVP_DigestVerify(context, signature, signature.count, data.baseAddress, data.count) == 1
        }
    }

    /// The DER `ECDSA-Sig-Value` of a JOSE ECDSA signature (R then S, each exactly the curve's
    /// coordinate size, RFC 7518 3.4); nil for any other length.
    static func derECDSA(_ signature: [UInt8], algorithm: SigningAlgorithm) -> [UInt8]? {
        guard let size = algorithm.curve?.coordinateBytes, signature.count == 2 * size,
            let sig = ECDSA_SIG_new()
        else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = signature.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(size), nil) }
        let s = signature.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + size, Int32(size), nil) }
        guard let r, let s, ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_ECDSA_SIG(sig, &out)
        guard length > 0, let out else { return nil }
        defer { CRYPTO_free(out, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }
}
