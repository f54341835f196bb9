import COpenSSL

/// A keyed HMAC context for `digestName` (`SHA256`, ...), shared by the signer and the verifier:
/// made once per key and re-initialised per token with `EVP_MAC_init(ctx, nil, 0, nil)`, which
/// keeps the key. Nil when OpenSSL cannot make it; the caller frees it with `EVP_MAC_CTX_free`.
func makeHMACContext(secret: [UInt8], digestName: String) -> OpaquePointer? {
    guard let hmac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
    defer { EVP_MAC_free(hmac) }
    guard let mac = EVP_MAC_CTX_new(hmac) else { return nil }
    var digest = Array(digestName.utf8CString)
    var key = Array("digest".utf8CString)
    // An OSSL_PARAM keeps the pointers it is given: both strings must outlive EVP_MAC_init, not
    // only the construct call (a literal passed directly is valid only during that call).
    let ok = digest.withUnsafeMutableBufferPointer { name in key.withUnsafeMutableBufferPointer { key in
        var params = [
            OSSL_PARAM_construct_utf8_string(key.baseAddress, name.baseAddress, 0), OSSL_PARAM_construct_end(),
        ]
        return secret.withUnsafeBufferPointer { EVP_MAC_init(mac, $0.baseAddress, $0.count, &params) == 1 }
    } }
    guard ok else {
        EVP_MAC_CTX_free(mac)
        return nil
    }
    return mac
}
