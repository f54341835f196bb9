import COpenSSL

/// Signing with each algorithm family, as RFC 7518 and RFC 8037 define the JWS signature.
extension SigningKey {
    /// Signs `message` (the JWS signing input) and returns the signature bytes.
    func sign(_ message: UnsafeRawBufferPointer, algorithm: SigningAlgorithm) throws(BackendJWTError) -> [UInt8] {
        switch algorithm.family {
        case .none: return []
        case .hmac: return try hmac(message, algorithm)
        case .rsa, .rsaPSS, .edDSA: return try digestSign(message, algorithm)
        case .ecdsa: return try joseECDSA(derSignature: digestSign(message, algorithm), algorithm)
        }
    }

    /// The most bytes a signature can take.
    var maximumSignatureLength: Int {
        pkey.map { Int(EVP_PKEY_get_size($0)) } ?? Int(EVP_MAX_MD_SIZE)
    }

    private func hmac(_ message: UnsafeRawBufferPointer, _ algorithm: SigningAlgorithm) throws(BackendJWTError)
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = secret.withUnsafeBytes { key in
            out.withUnsafeMutableBufferPointer { buffer in
                HMAC(
                    algorithm.digest, key.baseAddress, Int32(key.count),
                    message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, buffer.baseAddress,
                    &length) != nil
            }
        }
        guard ok else { throw Self.openSSLError("HMAC") }
        out.removeLast(out.count - Int(length))
        return out
    }

    /// RSASSA-PKCS1-v1_5, RSASSA-PSS (MGF1 with the same hash, salt as long as the hash: RFC
    /// 7518 3.5), EdDSA, and ECDSA in OpenSSL's DER form.
    private func digestSign(_ message: UnsafeRawBufferPointer, _ algorithm: SigningAlgorithm) throws(BackendJWTError)
        -> [UInt8]
    {
        guard let pkey else { throw BackendJWTError(.sign, "no private key") }
        guard let ctx = EVP_MD_CTX_new() else { throw Self.openSSLError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        var pctx: OpaquePointer?
        guard EVP_DigestSignInit(ctx, &pctx, algorithm.digest, nil, pkey) == 1 else {
            throw Self.openSSLError("EVP_DigestSignInit")
        }
        if algorithm.family == .rsaPSS {
            guard EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, algorithm.digest) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1
            else { throw Self.openSSLError("EVP_PKEY_CTX_set_rsa_padding") }
        }
        var length = Int(EVP_PKEY_get_size(pkey))
        var signature = [UInt8](repeating: 0, count: length)
        let rc = signature.withUnsafeMutableBufferPointer { out in
            EVP_DigestSign(
                ctx, out.baseAddress, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        }
        guard rc == 1 else { throw Self.openSSLError("EVP_DigestSign") }
        signature.removeLast(signature.count - length)
        return signature
    }

    /// ECDSA as JWS wants it (RFC 7518 3.4): R and S, each left-padded to the curve's size.
    private func joseECDSA(derSignature der: [UInt8], _ algorithm: SigningAlgorithm) throws(BackendJWTError)
        -> [UInt8]
    {
        guard let size = algorithm.curve?.coordinateBytes else { throw BackendJWTError(.sign, "not ECDSA") }
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let sig = parsed else { throw Self.openSSLError("d2i_ECDSA_SIG") }
        defer { ECDSA_SIG_free(sig) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(sig, &r, &s)
        var out = [UInt8](repeating: 0, count: 2 * size)
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            BN_bn2binpad(r, buffer.baseAddress, Int32(size)) == Int32(size)
                && BN_bn2binpad(s, buffer.baseAddress! + size, Int32(size)) == Int32(size)
        }
        guard ok else { throw Self.openSSLError("BN_bn2binpad") }
        return out
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
