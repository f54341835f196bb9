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

/// A verdict as C reads it (`bjwt_verdict`).
private func write(_ verdict: Verdict, to out: UnsafeMutablePointer<bjwt_verdict>?) {
    out?.pointee = bjwt_verdict(
        status: Int32(verdict.status), reason: verdict.refusal?.rawValue ?? Int32(BJWT_VERIFIED),
        challenge: verdict.challenge?.rawValue ?? -1, refetch: verdict.refetch ? 1 : 0)
}

@_cdecl("bjwt_verify")
public func bjwtVerify(
    _ verifier: OpaquePointer?, _ now: Int64, _ source: Int32, _ text: UnsafePointer<UInt8>?, _ len: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ verdictOut: UnsafeMutablePointer<bjwt_verdict>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let verifier, let out = try? output(out), let source = TokenSource(rawValue: source), len >= 0 else {
            write(Verdict(refusing: .malformed), to: verdictOut)
            throw BackendJWTError(.config, "bjwt_verify: missing argument")
        }
        out.pointee = nil
        let found = source.token(in: text.map { UnsafeBufferPointer(start: $0, count: len) })
        guard let token = found.token else {
            write(Verdict(refusing: .missing), to: verdictOut)
            throw BackendJWTError(.token, "no token: " + found.why, refusal: .missing)
        }
        let jws = borrow(verifier, as: JWSVerifier.self)
        do throws(BackendJWTError) {
            out.pointee = retain(VerifiedHandle(try jws.verify(token, now: now)))
            write(.passed, to: verdictOut)
        } catch {
            write(Verdict(error, fetchesKeys: jws.remote != nil), to: verdictOut)
            // the error log's line, whole: the module prints it after "backend_jwt: "
            throw BackendJWTError(
                error.kind,
                error.kind == .unavailable
                    ? "no verification key: \(error.message); request not forwarded"
                    : "token refused: " + error.message, refusal: error.refusal)
        }
    }
}

@_cdecl("bjwt_verdict_of")
public func bjwtVerdictOf(_ refusal: Int32, _ out: UnsafeMutablePointer<bjwt_verdict>?) {
    // a reason that is none (or unknown) still refuses: this verdict is never a pass
    write(Verdict(refusing: Refusal(rawValue: refusal) ?? .malformed), to: out)
}

@_cdecl("bjwt_refusal_word")
public func bjwtRefusalWord(_ refusal: Int32, _ len: UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar> {
    let word: StaticString = Refusal(rawValue: refusal)?.word ?? ""
    len?.pointee = word.utf8CodeUnitCount
    return UnsafeRawPointer(word.utf8Start).assumingMemoryBound(to: CChar.self)
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

/// A member of the token's claims or header by a variable's name (`ClaimLookup.member`), for C.
private func member(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?,
    of part: (VerifiedToken) -> JSONValue
) -> Int32 {
    guard let verified else { return Int32(BJWT_CLAIM_ABSENT) }
    let handle = borrow(verified, as: VerifiedHandle.self)
    return found(ClaimLookup.member(bytes(name, len), in: part(handle.token)), in: handle, out, outLen)
}

@_cdecl("bjwt_verified_claim")
public func bjwtVerifiedClaim(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    member(verified, name, len, out, outLen, of: \.payload)
}

@_cdecl("bjwt_verified_header")
public func bjwtVerifiedHeader(
    _ verified: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ len: Int,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLen: UnsafeMutablePointer<Int>?
) -> Int32 {
    member(verified, name, len, out, outLen, of: \.header)
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
    _ valueLens: UnsafePointer<Int>?, _ count: Int, _ verdictOut: UnsafeMutablePointer<bjwt_verdict>?,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    // no verified caller meets nothing, whatever the rules (fail closed)
    guard let verified else {
        write(Verdict(rule: 401), to: verdictOut)
        write("bjwt_rules_check: no verified caller", to: err, cap: cap)
        return Int32(BJWT_ERR_TOKEN)
    }
    guard let rules else {
        write(.passed, to: verdictOut)
        return Int32(BJWT_OK)
    }
    let texts = (0..<max(count, 0)).map { i -> [UInt8] in
        guard let values, let valueLens, let p = values[i] else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: valueLens[i]))
    }
    let token = borrow(verified, as: VerifiedHandle.self).token
    guard let refusal = borrow(rules, as: ClaimRules.self).check(token, values: texts) else {
        write(.passed, to: verdictOut)
        return Int32(BJWT_OK)
    }
    write(Verdict(rule: refusal.status), to: verdictOut)
    write("token refused: " + refusal.why, to: err, cap: cap)
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
    let newer = shared.pointee.generation != set.generation
    take?.pointee = newer ? 1 : 0
    retryAfter?.pointee = shared.pointee.retryAfter(now: now)
    if miss != 0 {
        // another worker's fetch stored a set this worker has not verified with yet: verify
        // again with it (take) before a refetch is asked for, or refused within `refresh`
        if newer && shared.pointee.generation != 0 { return Int32(BJWT_JWKS_READY) }
        switch set.keyMiss(in: &shared.pointee, now: now, owner: owner, ownerAlive: ownerAlive != 0) {
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

// A request's wait for a fetch: the rules of KeyWait.swift.

@_cdecl("bjwt_jwks_wait_miss")
public func bjwtJWKSWaitMiss(_ wait: UnsafePointer<bjwt_jwks_wait>?, _ verdict: UnsafePointer<bjwt_verdict>?) -> Int32 {
    guard let wait, let verdict else { return -1 }
    return wait.pointee.miss(after: verdict.pointee) ?? -1
}

@_cdecl("bjwt_jwks_wait_start")
public func bjwtJWKSWaitStart(
    _ wait: UnsafeMutablePointer<bjwt_jwks_wait>?, _ decision: Int32, _ fetch: Int64, _ miss: Int32, _ now: Int64,
    _ limit: Int64
) -> Int32 {
    guard let wait else { return 0 }
    return wait.pointee.start(decision: decision, fetch: fetch, miss: miss, now: now, limit: limit) ? 1 : 0
}

@_cdecl("bjwt_jwks_wait_again")
public func bjwtJWKSWaitAgain(_ wait: UnsafeMutablePointer<bjwt_jwks_wait>?, _ running: Int32, _ now: Int64, _ limit: Int64)
    -> Int32
{
    guard let wait else { return 0 }
    return wait.pointee.again(running: running, now: now, limit: limit) ? 1 : 0
}
