import BackendJWT

// Directive parsing: called by nginx's master while it reads nginx.conf. Each returns 0 or a
// BJWT_ERR_* status with a message that the module prints with the directive's file and line.

@_cdecl("bjwt_parse_algorithm")
public func bjwtParseAlgorithm(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ alg: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in try output(alg).pointee = try SigningAlgorithm.parse(bytes(s, len)).rawValue }
}

@_cdecl("bjwt_parse_encoding")
public func bjwtParseEncoding(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ enc: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in try output(enc).pointee = try TokenEncoding.parse(bytes(s, len)).rawValue }
}

@_cdecl("bjwt_parse_ttl")
public func bjwtParseTTL(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ seconds: UnsafeMutablePointer<Int64>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in try output(seconds).pointee = try TokenTTL.parse(bytes(s, len)) }
}

@_cdecl("bjwt_check_header_name")
public func bjwtCheckHeaderName(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in try HeaderName.check(bytes(s, len)) }
}

@_cdecl("bjwt_key_load")
public func bjwtKeyLoad(
    _ path: UnsafePointer<CChar>?, _ len: Int, _ option: UnsafePointer<CChar>?, _ optionLen: Int,
    _ prefix: UnsafePointer<CChar>?, _ prefixLen: Int, _ key: UnsafeMutablePointer<OpaquePointer?>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let out = try output(key)
        let password = optionLen > 0 ? try KeyOptions.passwordFile(bytes(option, optionLen), prefix: bytes(prefix, prefixLen)) : nil
        out.pointee = retain(try SigningKey(path: Array(bytes(path, len)), passwordFile: password))
    }
}

@_cdecl("bjwt_secret_load")
public func bjwtSecretLoad(
    _ path: UnsafePointer<CChar>?, _ len: Int, _ option: UnsafePointer<CChar>?, _ optionLen: Int,
    _ key: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let out = try output(key)
        let encoding = optionLen > 0 ? try SecretEncoding.parseOption(bytes(option, optionLen)) : .raw
        out.pointee = retain(try SigningKey(secretPath: Array(bytes(path, len)), encoding: encoding))
    }
}

@_cdecl("bjwt_cert_load")
public func bjwtCertLoad(
    _ path: UnsafePointer<CChar>?, _ len: Int, _ cert: UnsafeMutablePointer<OpaquePointer?>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let out = try output(cert)
        out.pointee = retain(try Certificate(path: Array(bytes(path, len))))
    }
}

@_cdecl("bjwt_cert_free")
public func bjwtCertFree(_ cert: OpaquePointer?) { release(cert) }

@_cdecl("bjwt_check_key_id")
public func bjwtCheckKeyID(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in try KeyOptions.checkKeyID(bytes(s, len)) }
}

@_cdecl("bjwt_key_free")
public func bjwtKeyFree(_ key: OpaquePointer?) { release(key) }


@_cdecl("bjwt_parse_if_empty")
public func bjwtParseIfEmpty(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ fail: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        try output(fail).pointee = try Signer.RequiredClaims.parseIfEmpty(Array(bytes(s, len))) ? 1 : 0
    }
}

@_cdecl("bjwt_parse_not_before")
public func bjwtParseNotBefore(
    _ s: UnsafePointer<CChar>?, _ len: Int, _ leeway: UnsafeMutablePointer<Int64>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        try output(leeway).pointee = try TokenTTL.parseNotBefore(bytes(s, len)) ?? -1
    }
}
