import BackendJWT
import CBackendJWT

// Per request: the verifier of a location (built when nginx merges the configuration, read with
// bjwt_level_location) checks the caller's token; what verified serves variables and minting.

/// A verified token and the C copies of the claims read from it, which stay put while it lives.
final class VerifiedHandle {
    let token: VerifiedToken
    /// The first copy (most requests read one claim, such as `sub`), then any others.
    private var first: UnsafeMutableBufferPointer<UInt8>?
    private var more: [UnsafeMutableBufferPointer<UInt8>] = []

    init(_ token: VerifiedToken) { self.token = token }

    /// `bytes` in memory of their own, valid until the handle is freed.
    func keep(_ bytes: [UInt8]) -> UnsafeMutableBufferPointer<UInt8> {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = buffer.initialize(from: bytes)
        if first == nil { first = buffer } else { more.append(buffer) }
        return buffer
    }

    deinit {
        first?.deallocate()
        for text in more { text.deallocate() }
    }
}

@_cdecl("bjwt_verify")
public func bjwtVerify(
    _ verifier: OpaquePointer?, _ now: Int64, _ token: UnsafePointer<UInt8>?, _ len: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let verifier, let out, len >= 0 else { throw BackendJWTError(.config, "bjwt_verify: missing argument") }
        out.pointee = nil
        let verified = try borrow(verifier, as: JWSVerifier.self).verify(
            UnsafeBufferPointer(start: token, count: token == nil ? 0 : len), now: now)
        out.pointee = retain(VerifiedHandle(verified))
    }
}

@_cdecl("bjwt_verified_free")
public func bjwtVerifiedFree(_ verified: OpaquePointer?) { release(verified) }

@_cdecl("bjwt_verified_claim")
public func bjwtVerifiedClaim(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int, _ outLen: UnsafeMutablePointer<Int>?
) -> UnsafePointer<UInt8>? {
    guard let verified else { return nil }
    let handle = borrow(verified, as: VerifiedHandle.self)
    // A string with CR, LF or another control character (tab aside) could split a header line
    // where the variable is sent (proxy_set_header): it is no value at all.
    guard let text = handle.token.payload[member: bytes(name, len)]?.text,
        !text.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F })
    else { return nil }
    let kept = handle.keep(text)
    outLen?.pointee = text.count
    return UnsafePointer(kept.baseAddress)
}

@_cdecl("bjwt_verified_payload")
public func bjwtVerifiedPayload(_ verified: OpaquePointer?, _ outLen: UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? {
    guard let verified else { return nil }
    let handle = borrow(verified, as: VerifiedHandle.self)
    let json = handle.token.payloadJSON
    outLen?.pointee = json.count
    return UnsafePointer(handle.keep(json).baseAddress)
}

/// The verified token behind a handle from bjwt_verify, or nil.
func caller(_ verified: OpaquePointer?) -> VerifiedToken? {
    verified.map { borrow($0, as: VerifiedHandle.self).token }
}

// The JWK Set of backend_jwt_verify_jwks: the module keeps its bytes and state in shared memory
// and calls these under the zone's lock (decide, finished, give up) or after it (take, check).

/// The remote set of a verifier handle, if it has one.
private func remote(_ verifier: OpaquePointer?) -> RemoteKeySet? {
    verifier.flatMap { borrow($0, as: JWSVerifier.self).remote }
}

@_cdecl("bjwt_jwks_decide")
public func bjwtJWKSDecide(
    _ verifier: OpaquePointer?, _ shared: UnsafeMutablePointer<bjwt_jwks_shared>?, _ error: UnsafePointer<CChar>?,
    _ errorLen: Int, _ now: Int64, _ owner: Int64, _ ownerAlive: Int32, _ miss: Int32,
    _ retryAfter: UnsafeMutablePointer<Int64>?, _ take: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let set = remote(verifier), let shared else { return Int32(miss != 0 ? BJWT_JWKS_REFUSE : BJWT_JWKS_READY) }
    // decided on the record in place; the worker's copy serves the verifier's reasons
    defer { set.shared = shared.pointee }
    if shared.pointee.last_failure != 0 {
        set.lastError = String(decoding: bytes(error, errorLen), as: UTF8.self)
    }
    take?.pointee = shared.pointee.generation != set.generation ? 1 : 0
    retryAfter?.pointee = shared.pointee.retryAfter(now: now)
    if miss != 0 {
        switch shared.pointee.keyMiss(now: now, owner: owner, ownerAlive: ownerAlive != 0, refresh: set.refresh) {
        case .fetch: return Int32(BJWT_JWKS_FETCH)
        case .wait: return Int32(BJWT_JWKS_WAIT)
        case .refuse: return Int32(BJWT_JWKS_REFUSE)
        }
    }
    switch shared.pointee.state(now: now, owner: owner, ownerAlive: ownerAlive != 0) {
    case .ready: return Int32(BJWT_JWKS_READY)
    case .fetch: return Int32(BJWT_JWKS_FETCH)
    case .wait: return Int32(BJWT_JWKS_WAIT)
    case .unavailable: return Int32(BJWT_JWKS_UNAVAILABLE)
    }
}

@_cdecl("bjwt_jwks_take")
public func bjwtJWKSTake(
    _ verifier: OpaquePointer?, _ generation: Int64, _ body: UnsafePointer<UInt8>?, _ len: Int,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let set = remote(verifier), len >= 0 else { throw BackendJWTError(.config, "bjwt_jwks_take: no JWK Set") }
        try set.take(generation: generation, body: Array(UnsafeBufferPointer(start: body, count: body == nil ? 0 : len)))
    }
}

@_cdecl("bjwt_jwks_check")
public func bjwtJWKSCheck(
    _ verifier: OpaquePointer?, _ httpStatus: Int32, _ body: UnsafePointer<UInt8>?, _ len: Int,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let set = remote(verifier), len >= 0 else { throw BackendJWTError(.config, "bjwt_jwks_check: no JWK Set") }
        let bytes = Array(UnsafeBufferPointer(start: body, count: body == nil ? 0 : len))
        _ = try set.check(status: Int(httpStatus), body: bytes)
    }
}

@_cdecl("bjwt_jwks_finished")
public func bjwtJWKSFinished(
    _ verifier: OpaquePointer?, _ shared: UnsafeMutablePointer<bjwt_jwks_shared>?, _ fetch: Int64,
    _ failure: UnsafePointer<CChar>?, _ failureLen: Int, _ cacheControl: UnsafePointer<UInt8>?,
    _ cacheControlLen: Int, _ now: Int64
) {
    guard let set = remote(verifier), let shared else { return }
    let why = failure.map { String(decoding: bytes($0, failureLen), as: UTF8.self) }
    let control = cacheControl.map { Array(UnsafeBufferPointer(start: $0, count: max(cacheControlLen, 0))) }
    set.shared = shared.pointee
    set.finished(fetch: fetch, failure: why, cacheControl: control, now: now)
    shared.pointee = set.shared
}

@_cdecl("bjwt_jwks_give_up")
public func bjwtJWKSGiveUp(_ verifier: OpaquePointer?, _ shared: UnsafeMutablePointer<bjwt_jwks_shared>?, _ fetch: Int64) {
    guard remote(verifier) != nil, let shared else { return }
    shared.pointee.giveUp(fetch: fetch)
}

@_cdecl("bjwt_jwks_max_body")
public func bjwtJWKSMaxBody() -> Int { RemoteKeySet.maximumBodySize }

@_cdecl("bjwt_config_jwks_zone_size")
public func bjwtConfigJWKSZoneSize(_ config: OpaquePointer?) -> Int {
    guard let config else { return Configuration.defaultJWKSZoneSize }
    return borrow(config, as: Configuration.self).jwksZoneSize ?? Configuration.defaultJWKSZoneSize
}
