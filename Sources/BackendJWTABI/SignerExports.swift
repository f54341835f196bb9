import BackendJWT
import CBackendJWT

// Per request: the signer of a location (built when nginx merges the configuration, read with
// bjwt_level_location) mints each token.

@_cdecl("bjwt_signer_token_bound")
public func bjwtSignerTokenBound(_ signer: OpaquePointer?, _ valueBytes: Int, _ verified: OpaquePointer?) -> Int {
    guard let signer else { return 0 }
    return borrow(signer, as: Signer.self).tokenBound(valueBytes: valueBytes, caller: caller(verified))
}

@_cdecl("bjwt_signer_mint")
public func bjwtSignerMint(
    _ signer: OpaquePointer?, _ now: Int64, _ verified: OpaquePointer?, _ values: UnsafePointer<UnsafePointer<UInt8>?>?,
    _ valueLens: UnsafePointer<Int>?, _ nvalues: Int, _ out: UnsafeMutablePointer<UInt8>?, _ outCap: Int,
    _ outLen: UnsafeMutablePointer<Int>?, _ maxSize: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let signer, let out, let outLen, let values, let valueLens, nvalues >= 0 else {
            throw BackendJWTError(.config, "bjwt_signer_mint: missing argument")
        }
        // a size_t past Int.max arrives negative: no limit
        outLen.pointee = try borrow(signer, as: Signer.self).mint(
            now: now, values: RequestValues(pointers: values, lengths: valueLens, count: nvalues),
            caller: caller(verified), into: UnsafeMutableBufferPointer(start: out, count: outCap),
            limit: maxSize < 0 ? Int.max : maxSize)
    }
}
