import COpenSSL

/// Reads the one key of a PEM verification key file: `PUBLIC KEY`, `RSA PUBLIC KEY`,
/// `CERTIFICATE` (its subject public key; the certificate itself is not checked: no chain,
/// dates or usage), or an unencrypted private key (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `EC PRIVATE KEY`), of which only the public half is kept. `EC PARAMETERS` blocks are skipped.
/// A file with more than one key (a certificate chain) is refused: a CA's key is not a token
/// signer.
struct PEMKeyReader {
    let path: String

    private func error(_ what: String) -> BackendJWTError {
        BackendJWTError(.key, "verification key file \(quotedPath(path)) \(what)")
    }

    func key(from contents: [UInt8]) throws(BackendJWTError) -> VerificationKey {
        var blocks: [(name: String, encrypted: Bool, der: [UInt8])] = []
        contents.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return }
            defer { BIO_free(bio) }
            while true {
                var name: UnsafeMutablePointer<CChar>?
                var header: UnsafeMutablePointer<CChar>?
                var data: UnsafeMutablePointer<UInt8>?
                var length = 0
                guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { break }
                let label = name.map { String(cString: $0) } ?? ""
                let encrypted = header.map { String(cString: $0).contains("ENCRYPTED") } ?? false
                var der = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                blocks.append((label, encrypted, der))
                KeyFile.wipe(&der)
                if let data { OPENSSL_cleanse(data, length) }
                CRYPTO_free(name, #fileID, #line)
                CRYPTO_free(header, #fileID, #line)
                CRYPTO_free(data, #fileID, #line)
            }
        }
        ERR_clear_error()  // the end of the file leaves "no start line" in the queue
        let keyBlocks = blocks.filter { $0.name != "EC PARAMETERS" }
        guard let block = keyBlocks.first else {
            if KeyFile.contains(contents, "-----BEGIN ") { throw error("holds a damaged PEM block") }
            throw error("is neither JSON (a JWK or JWK Set) nor PEM")
        }
        guard keyBlocks.count == 1 else {
            throw error(
                "holds \(keyBlocks.count) PEM blocks; give one key or certificate per file (the CA certificates of a chain are not verification keys)"
            )
        }
        var der = block.der
        defer { KeyFile.wipe(&der) }
        let pkey = try decode(block.name, encrypted: block.encrypted, der: der)
        let (type, why) = VerificationKey.checkedType(of: pkey)
        guard let type else {
            EVP_PKEY_free(pkey)
            throw error("holds \(why)")
        }
        return VerificationKey(pkey: pkey, secret: [], type: type, path: path)
    }

    /// The public key of one PEM block.
    private func decode(_ label: String, encrypted: Bool, der: [UInt8]) throws(BackendJWTError) -> OpaquePointer {
        let decoded: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let length = buffer.count
            switch label {
            case "PUBLIC KEY": return d2i_PUBKEY(nil, &cursor, length)
            case "RSA PUBLIC KEY": return d2i_PublicKey(EVP_PKEY_RSA, nil, &cursor, length)
            case "CERTIFICATE":
                guard let x509 = d2i_X509(nil, &cursor, length) else { return nil }
                defer { X509_free(x509) }
                return X509_get_pubkey(x509)
            case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
                guard !encrypted, let full = d2i_AutoPrivateKey(nil, &cursor, length) else { return nil }
                defer { EVP_PKEY_free(full) }
                return Self.publicHalf(full)
            default: return nil
            }
        }
        ERR_clear_error()
        if let decoded { return decoded }
        switch label {
        case "ENCRYPTED PRIVATE KEY":
            throw error("holds an encrypted private key; give its public half (openssl pkey -in KEY -pubout)")
        case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
            throw error(
                encrypted
                    ? "holds an encrypted private key; give its public half (openssl pkey -in KEY -pubout)"
                    : "holds a private key OpenSSL cannot parse")
        case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
            throw error("holds a damaged \(label.lowercased())")
        default:
            throw error("holds a PEM block \(quoted(label)), not a key or certificate")
        }
    }

    /// A new key holding only the public part of `pkey`, through its SubjectPublicKeyInfo.
    private static func publicHalf(_ pkey: OpaquePointer) -> OpaquePointer? {
        var spki: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(pkey, &spki)
        guard length > 0, let spki else { return nil }
        defer { CRYPTO_free(spki, #fileID, #line) }
        var cursor: UnsafePointer<UInt8>? = UnsafePointer(spki)
        return d2i_PUBKEY(nil, &cursor, Int(length))
    }
}
