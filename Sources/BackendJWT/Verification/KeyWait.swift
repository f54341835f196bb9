import CBackendJWT

/// One request's wait for a JWK Set fetch after its token found no key (`bjwt_jwks_wait`, kept
/// per request by the module, which paces it with its timers). The rules are here: an unknown
/// kid gets one refetch per request, another only when that fetch was lost with its worker; a
/// request waits at most `limit` milliseconds in all, counted from its first wait.
extension bjwt_jwks_wait {
    /// The `miss` for `bjwt_jwks_decide` of a token refused with `verdict`: 1 an unknown kid, 0
    /// no usable set (503); nil when the verdict stands (its refetch was had).
    public func miss(after verdict: bjwt_verdict) -> Int32? {
        let unknownKid = verdict.status != 503
        if unknownKid && refetched != 0 { return nil }
        return unknownKid ? 1 : 0
    }

    /// After `bjwt_jwks_decide` said `decision` with `fetch` running: whether the request
    /// waits (for that fetch, or to verify again with a set that came meanwhile).
    public mutating func start(decision: Int32, fetch: Int64, miss: Int32, now: Int64, limit: Int64) -> Bool {
        let awaited: Int64
        switch Int(decision) {
        case BJWT_JWKS_FETCH, BJWT_JWKS_WAIT: awaited = fetch
        case BJWT_JWKS_READY: awaited = 0
        default: return false
        }
        if waited == 0 {
            waited = 1
            since = now
        }
        guard now - since < limit else { return false }
        if miss != 0 { refetched = 1 }
        waiting = 1
        self.fetch = awaited
        return true
    }

    /// Looked again while waiting, the fetch `running` (BJWT_FETCH_*): whether it waits on;
    /// else its token is verified again with what the fetch brought.
    public mutating func again(running: Int32, now: Int64, limit: Int64) -> Bool {
        if running == Int32(BJWT_FETCH_RUNNING) && now - since < limit { return true }
        if running == Int32(BJWT_FETCH_LOST) { refetched = 0 }  // the refetch never came: one may replace it
        waiting = 0
        return false
    }
}
