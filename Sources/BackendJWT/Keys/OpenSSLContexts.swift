import COpenSSL

/// The OpenSSL handles that `SigningContext` and `VerifyContext` prepare once per key and
/// algorithm and reuse for every token, freed with them: a keyed HMAC (re-initialised per token
/// with the same key); for RSA, PSS and ECDSA the digest and a key context, padding set, that
/// signs or verifies each token's digest, as `openssl speed` measures; for EdDSA, which takes the
/// message itself, an initialised context and the one each token works in (a copy of it).
class OpenSSLContexts {
    var mac: OpaquePointer?
    var digest: OpaquePointer?
    var pkeyContext: OpaquePointer?
    var template: OpaquePointer?
    var work: OpaquePointer?

    deinit {
        if let mac { EVP_MAC_CTX_free(mac) }
        if let digest { EVP_MD_free(digest) }
        if let pkeyContext { EVP_PKEY_CTX_free(pkeyContext) }
        if let template { EVP_MD_CTX_free(template) }
        if let work { EVP_MD_CTX_free(work) }
    }
}
