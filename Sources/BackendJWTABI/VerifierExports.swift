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

/// Hands a claim (or header member) lookup to C: the text kept in the handle, or why there is none.
private func found(
    _ lookup: ClaimLookup, in handle: VerifiedHandle, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    out?.pointee = nil
    outLen?.pointee = 0
    switch lookup {
    case .absent: return Int32(BJWT_CLAIM_ABSENT)
    case .ambiguous: return Int32(BJWT_CLAIM_AMBIGUOUS)
    case .found(let value):
        guard let text = VerifiedToken.variableText(value) else { return Int32(BJWT_CLAIM_UNPRINTABLE) }
        out?.pointee = UnsafePointer(handle.keep(text).baseAddress)
        outLen?.pointee = text.count
        return Int32(BJWT_CLAIM_FOUND)
    }
}

@_cdecl("bjwt_verified_claim")
public func bjwtVerifiedClaim(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let verified else { return Int32(BJWT_CLAIM_ABSENT) }
    let handle = borrow(verified, as: VerifiedHandle.self)
    return found(ClaimLookup.member(bytes(name, len), in: handle.token.payload), in: handle, out, outLen)
}

@_cdecl("bjwt_verified_header")
public func bjwtVerifiedHeader(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let verified else { return Int32(BJWT_CLAIM_ABSENT) }
    let handle = borrow(verified, as: VerifiedHandle.self)
    return found(ClaimLookup.member(bytes(name, len), in: handle.token.header), in: handle, out, outLen)
}

@_cdecl("bjwt_verified_claim_set")
public func bjwtVerifiedClaimSet(
    _ verified: OpaquePointer?, _ config: OpaquePointer?, _ index: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let verified, let config else { return Int32(BJWT_CLAIM_ABSENT) }
    let sets = borrow(config, as: Configuration.self).claimSets
    guard index >= 0, index < sets.count else { return Int32(BJWT_CLAIM_ABSENT) }
    let handle = borrow(verified, as: VerifiedHandle.self)
    let value = sets[index].path.value(in: handle.token.payload)
    return found(value.map { .found($0) } ?? .absent, in: handle, out, outLen)
}

@_cdecl("bjwt_rules_check")
public func bjwtRulesCheck(
    _ rules: OpaquePointer?, _ verified: OpaquePointer?, _ values: UnsafePointer<UnsafePointer<UInt8>?>?,
    _ valueLens: UnsafePointer<Int>?, _ count: Int, _ statusOut: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    // no verified caller meets nothing, whatever the rules (fail closed)
    guard let verified else {
        statusOut?.pointee = 401
        write("bjwt_rules_check: no verified caller", to: err, cap: cap)
        return Int32(BJWT_ERR_TOKEN)
    }
    guard let rules else { return Int32(BJWT_OK) }
    let texts = (0..<max(count, 0)).map { i -> [UInt8] in
        guard let values, let valueLens, let p = values[i] else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: valueLens[i]))
    }
    let token = borrow(verified, as: VerifiedHandle.self).token
    guard let refusal = borrow(rules, as: ClaimRules.self).check(token, values: texts) else { return Int32(BJWT_OK) }
    statusOut?.pointee = Int32(refusal.status)
    write(refusal.why, to: err, cap: cap)
    return Int32(BJWT_ERR_TOKEN)
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

// The JWK Set of backend_jwt_verify_jwks, per worker: the core says when to fetch it, the module
// fetches it by a subrequest and hands the response over.

/// The remote set of a verifier handle, if it has one.
private func remote(_ verifier: OpaquePointer?) -> RemoteKeySet? {
    verifier.flatMap { borrow($0, as: JWSVerifier.self).remote }
}

@_cdecl("bjwt_verifier_jwks_state")
public func bjwtVerifierJWKSState(
    _ verifier: OpaquePointer?, _ now: Int64, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    guard let verifier, let set = remote(verifier) else { return Int32(BJWT_JWKS_READY) }
    switch set.state(now: now) {
    case .ready: return Int32(BJWT_JWKS_READY)
    case .fetch: return Int32(BJWT_JWKS_FETCH)
    case .unavailable:
        // key files still verify the tokens they signed; the verifier refuses the others
        if !borrow(verifier, as: JWSVerifier.self).keys.isEmpty { return Int32(BJWT_JWKS_READY) }
        write(set.unavailableReason(now: now), to: err, cap: cap)
        return Int32(BJWT_JWKS_UNAVAILABLE)
    }
}

@_cdecl("bjwt_verifier_jwks_fetching")
public func bjwtVerifierJWKSFetching(_ verifier: OpaquePointer?) -> Int32 {
    remote(verifier)?.fetching == true ? 1 : 0
}

@_cdecl("bjwt_verifier_jwks_begin")
public func bjwtVerifierJWKSBegin(_ verifier: OpaquePointer?, _ now: Int64) {
    remote(verifier)?.begin(now: now)
}

@_cdecl("bjwt_verifier_jwks_finish")
public func bjwtVerifierJWKSFinish(
    _ verifier: OpaquePointer?, _ httpStatus: Int32, _ cacheControl: UnsafePointer<UInt8>?, _ cacheControlLen: Int,
    _ body: UnsafePointer<UInt8>?, _ len: Int, _ now: Int64, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let set = remote(verifier) else { throw BackendJWTError(.config, "bjwt_verifier_jwks_finish: no JWK Set") }
        let control = cacheControl.map { Array(UnsafeBufferPointer(start: $0, count: max(cacheControlLen, 0))) }
        let bytes = body.map { Array(UnsafeBufferPointer(start: $0, count: max(len, 0))) } ?? []
        if let why = set.finish(status: Int(httpStatus), cacheControl: control, body: bytes, now: now) {
            throw BackendJWTError(.unavailable, why)
        }
    }
}

@_cdecl("bjwt_verifier_jwks_fail")
public func bjwtVerifierJWKSFail(_ verifier: OpaquePointer?, _ now: Int64, _ reason: UnsafePointer<CChar>?, _ len: Int) {
    guard let reason else { return remote(verifier)?.giveUp() ?? () }
    remote(verifier)?.fail(String(decoding: bytes(reason, len), as: UTF8.self), now: now)
}

@_cdecl("bjwt_jwks_max_body")
public func bjwtJWKSMaxBody() -> Int { RemoteKeySet.maximumBodySize }

@_cdecl("bjwt_verifier_key_miss")
public func bjwtVerifierKeyMiss(_ verifier: OpaquePointer?, _ now: Int64) -> Int32 {
    remote(verifier)?.keyMiss(now: now) == true ? 1 : 0
}
