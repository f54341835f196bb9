import BackendJWT
import CBackendJWT

// The signer of a location: built when nginx merges the configuration, used by every worker.

@_cdecl("bjwt_signer_create")
public func bjwtSignerCreate(
    _ params: UnsafePointer<bjwt_signer_params>?, _ signer: UnsafeMutablePointer<OpaquePointer?>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let out = try output(signer)
        guard let p = params?.pointee else { throw BackendJWTError(.config, "bjwt_signer_create: no parameters") }
        guard let algorithm = SigningAlgorithm(rawValue: p.alg) else {
            throw BackendJWTError(.config, "unknown algorithm code \(p.alg)")
        }
        guard let encoding = TokenEncoding(rawValue: p.enc) else {
            throw BackendJWTError(.config, "unknown encoding code \(p.enc)")
        }
        let keyID: Signer.KeyIDSource
        switch Int(p.kid_mode) {
        case BJWT_KID_THUMBPRINT: keyID = .thumbprint
        case BJWT_KID_OFF: keyID = .off
        case BJWT_KID_CUSTOM:
            let text = bytes(p.kid, p.kid_len)
            try KeyOptions.checkKeyID(text)
            keyID = .custom(Array(text))
        default: throw BackendJWTError(.config, "unknown key id mode \(p.kid_mode)")
        }
        let made = try Signer(
            algorithm: algorithm, encoding: encoding, ttl: p.ttl,
            key: p.key.map { borrow($0, as: SigningKey.self) },
            certificate: p.cert.map { borrow($0, as: Certificate.self) }, keyID: keyID,
            registered: Signer.Registered(
                audienceCount: p.audiences, notBeforeLeeway: p.nbf_leeway < 0 ? nil : p.nbf_leeway, jti: p.jti != 0,
                required: Signer.RequiredClaims(rawValue: p.required)),
            cache: p.cache_size <= 0
                ? nil
                : (Int(p.cache_size), p.cache_min_seconds >= 0 ? .seconds(p.cache_min_seconds) : .percent(p.cache_min_percent)),
            claims: p.claims.map { borrow($0, as: ClaimList.self).claims } ?? [])
        out.pointee = retain(made)
    }
}

@_cdecl("bjwt_signer_free")
public func bjwtSignerFree(_ signer: OpaquePointer?) { release(signer) }

@_cdecl("bjwt_signer_token_bound")
public func bjwtSignerTokenBound(_ signer: OpaquePointer?, _ valueBytes: Int) -> Int {
    guard let signer else { return 0 }
    return borrow(signer, as: Signer.self).tokenBound(valueBytes: valueBytes)
}

@_cdecl("bjwt_signer_token_min")
public func bjwtSignerTokenMin(_ signer: OpaquePointer?) -> Int {
    guard let signer else { return 0 }
    return borrow(signer, as: Signer.self).minimumTokenLength
}

@_cdecl("bjwt_signer_mint")
public func bjwtSignerMint(
    _ signer: OpaquePointer?, _ now: Int64, _ values: UnsafePointer<UnsafePointer<UInt8>?>?,
    _ valueLens: UnsafePointer<Int>?, _ nvalues: Int, _ out: UnsafeMutablePointer<UInt8>?, _ outCap: Int,
    _ outLen: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let signer, let out, let outLen, let values, let valueLens, nvalues >= 0 else {
            throw BackendJWTError(.config, "bjwt_signer_mint: missing argument")
        }
        outLen.pointee = try borrow(signer, as: Signer.self).mint(
            now: now, values: RequestValues(pointers: values, lengths: valueLens, count: nvalues),
            into: UnsafeMutableBufferPointer(start: out, count: outCap))
    }
}
