import COpenSSL

/// An X.509 certificate for the signing key (`backend_jwt_certificate`): its digests go into the
/// JOSE header (`x5t`, `x5t#S256`) and the certificate itself into the JWKS (`x5c`).
public final class Certificate {
    let x509: OpaquePointer
    public let path: String
    /// The DER encoding, which the digests and `x5c` are of.
    public let der: [UInt8]

    public init(path pathBytes: [UInt8]) throws(BackendJWTError) {
        let path = String(decoding: pathBytes, as: UTF8.self)
        var pem: [UInt8]
        do {
            pem = try KeyFile.load(pathBytes, noun: "certificate file")
        } catch {
            throw BackendJWTError(.certificate, error.message)
        }
        // The file may be a bundle with the private key in it.
        defer { KeyFile.wipe(&pem) }
        do {
            // Only the first certificate would be used (x5c publishes one): a chain is refused
            // rather than silently cut.
            try KeyFile.checkSinglePEMBlock(
                pem, noun: "certificate file", path: path, one: "one certificate, the signing key's (chains are not supported)",
                counts: KeyFile.isCertificateBlock)
        } catch {
            throw BackendJWTError(.certificate, error.message)
        }
        let parsed = pem.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
        ERR_clear_error()
        guard let x509 = parsed else {
            throw BackendJWTError(.certificate, "certificate file \(quotedPath(path)) holds no PEM certificate")
        }
        var derPointer: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(x509, &derPointer)
        guard length > 0, let derPointer else {
            X509_free(x509)
            throw SigningKey.openSSLError("i2d_X509")
        }
        der = Array(UnsafeBufferPointer(start: derPointer, count: Int(length)))
        CRYPTO_free(derPointer, #fileID, #line)
        self.x509 = x509
        self.path = path
    }

    deinit { X509_free(x509) }

    /// Checks that the certificate is for `key`.
    func check(matches key: SigningKey) throws(BackendJWTError) {
        guard let pkey = key.pkey, EVP_PKEY_eq(X509_get0_pubkey(x509), pkey) == 1 else {
            ERR_clear_error()
            throw BackendJWTError(
                .certificate, "certificate file \(quotedPath(path)) is not for the signing key in \(quotedPath(key.path))")
        }
    }

    /// `x5t`: base64url of the SHA-1 digest of the DER (RFC 7515 4.1.7).
    public var sha1Thumbprint: [UInt8] { TokenEncoding.base64url.encode(Digest.sha1(der)) }
    /// `x5t#S256`: base64url of the SHA-256 digest of the DER (RFC 7515 4.1.8).
    public var sha256Thumbprint: [UInt8] { TokenEncoding.base64url.encode(Digest.sha256(der)) }
}

/// One-shot digests.
enum Digest {
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha256()) }
    static func sha1(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha1()) }

    private static func digest(_ bytes: [UInt8], _ md: OpaquePointer?) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, md, nil) }
        }
        out.removeLast(out.count - Int(length))
        return out
    }
}
