import BackendJWT

// The JWK Set of an http block, assembled while nginx merges the configuration.

@_cdecl("bjwt_jwks_create")
public func bjwtJWKSCreate() -> OpaquePointer { retain(JWKSet()) }

@_cdecl("bjwt_jwks_free")
public func bjwtJWKSFree(_ jwks: OpaquePointer?) { release(jwks) }

@_cdecl("bjwt_jwks_add_signer")
public func bjwtJWKSAddSigner(
    _ jwks: OpaquePointer?, _ signer: OpaquePointer?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let jwks, let signer else { throw BackendJWTError(.config, "bjwt_jwks_add_signer: missing argument") }
        try borrow(jwks, as: JWKSet.self).add(borrow(signer, as: Signer.self))
    }
}

@_cdecl("bjwt_jwks_add_key_file")
public func bjwtJWKSAddKeyFile(
    _ jwks: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ len: Int, _ option: UnsafePointer<CChar>?,
    _ optionLen: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let jwks else { throw BackendJWTError(.config, "bjwt_jwks_add_key_file: no JWKS") }
        let algorithm = optionLen > 0 ? try KeyOptions.algorithm(bytes(option, optionLen)) : nil
        let key = try SigningKey(publicPath: Array(bytes(path, len)))
        try borrow(jwks, as: JWKSet.self).add(key: key, algorithm: algorithm)
    }
}

@_cdecl("bjwt_jwks_json")
public func bjwtJWKSJSON(_ jwks: OpaquePointer?, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    guard let jwks else { return 0 }
    return copyOut(borrow(jwks, as: JWKSet.self).json(), out, cap)
}

@_cdecl("bjwt_jwks_etag")
public func bjwtJWKSETag(_ jwks: OpaquePointer?, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    guard let jwks else { return 0 }
    return copyOut(JWKSet.etag(of: borrow(jwks, as: JWKSet.self).json()), out, cap)
}

/// Copies `bytes` into the caller's buffer if they fit; returns their length either way.
private func copyOut(_ bytes: [UInt8], _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    if let out, bytes.count <= cap {
        out.update(from: bytes, count: bytes.count)
    }
    return bytes.count
}
