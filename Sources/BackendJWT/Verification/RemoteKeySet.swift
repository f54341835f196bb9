import CBackendJWT

/// The JWK Set of an identity provider, fetched at run time (`backend_jwt_verify_jwks uri`),
/// shared by every verifier of the http block that names `uri`. The module fetches the set
/// through an nginx subrequest to `uri` (so TLS, timeouts, caching and upstreams are ordinary
/// nginx configuration) and keeps its bytes and `shared` in a shared memory zone, one record per
/// URI for every worker, kept across reloads. This object decides, on a copy of that record made
/// under the zone's lock, when to fetch and which keys may be used, and holds the keys this
/// worker parsed from the stored bytes (`take`, once per `generation`). Nothing here blocks,
/// allocates per request or reads a clock: the module passes `now` (seconds since the epoch).
///
/// The cycle, one URI, every worker:
/// - `state(now:owner:)` before verifying: `.fetch` means this request starts a fetch now (the
///   fetch is marked as running in `shared`, so no other worker starts one), and verifies with
///   what there is meanwhile: a stale set keeps serving while it is refetched. `.wait`: no usable
///   key, but a fetch runs: a request whose token found no key may wait for it (the module bounds
///   the wait). At most one fetch runs at a time.
/// - The fetch ends with `finished` (its bytes stored, or why not) or `giveUp` (no verdict).
/// - A set is fresh for `freshFor` seconds, or what the response's `Cache-Control: max-age` says
///   (clamped to `minimumFreshness...maximumFreshness`), else `defaultFreshness`. A stale set
///   still serves while it is refetched, and while refetches fail, up to `maximumStale` seconds
///   past its freshness; with no usable set at all, requests fail closed (`.unavailable`).
/// - A failed fetch (non-2xx status, a body over `maximumBodySize`, invalid JSON, no usable key,
///   a set that does not fit the zone) is retried no sooner than `retryDelay` seconds later; the
///   last good set is kept.
/// - A token naming an unknown `kid` asks for a refetch (`keyMiss`), granted at most once per
///   `refresh` seconds for the whole nginx, so random kids cannot make it hammer the identity
///   provider. Only such refetches count: a key published just after a scheduled fetch is
///   fetched at once.
public final class RemoteKeySet {
    /// The shortest and longest freshness taken from `Cache-Control`, and the one used when the
    /// response gives none.
    public static let minimumFreshness: Int64 = 30
    public static let maximumFreshness: Int64 = 24 * 3600
    public static let defaultFreshness: Int64 = 600
    /// How long past its freshness a set keeps serving while refetches fail.
    public static let maximumStale: Int64 = 24 * 3600
    /// The least time between a failed fetch and the next attempt.
    public static let retryDelay: Int64 = 5
    /// The default of `backend_jwt_verify_jwks_refresh`.
    public static let defaultRefresh: Int64 = 30
    /// The default of `backend_jwt_verify_jwks_wait`, in milliseconds.
    public static let defaultWait: Int64 = 5000
    /// A larger body is a failed fetch (a JWK Set of a few dozen keys is a few KiB).
    public static let maximumBodySize = 1024 * 1024
    /// A fetch that has neither finished nor been given up after this long is taken as lost, so
    /// a subrequest that never reports back cannot stop every later fetch (a fetch whose worker
    /// died is lost at once).
    public static let lostFetch: Int64 = 60

    /// What a request should do before verifying.
    public enum State: Equatable, Sendable {
        /// Verify with the keys there are.
        case ready
        /// Start the fetch `fetchID` now, and verify with the keys there are meanwhile.
        case fetch
        /// No usable key, and a fetch runs: its result may bring one.
        case wait
        /// No usable key and no fetch can start now (the last attempt failed less than
        /// `retryDelay` seconds ago).
        case unavailable
    }

    /// What a token naming an unknown kid gets (`keyMiss`).
    public enum Miss: Equatable, Sendable {
        /// A refetch, `fetchID`, to start now.
        case fetch
        /// A fetch runs: its result may have the key.
        case wait
        /// No refetch now (one was granted less than `refresh` seconds ago, or a failed fetch's
        /// `retryDelay` lasts): the token is refused.
        case refuse
    }

    /// The URI of the subrequest (a location of this server, usually internal).
    public let uri: [UInt8]
    /// `backend_jwt_verify_jwks_cache`: seconds a fetched set is fresh; nil: from `Cache-Control`.
    public internal(set) var freshFor: Int64?
    /// `backend_jwt_verify_jwks_refresh`: the least time between refetches asked by unknown kids.
    public internal(set) var refresh: Int64

    // Read on every request, in one thread per worker, never reentered: no exclusivity checks.

    /// The state every worker shares: this worker's copy of the module's zone record, made under
    /// the zone's lock at each decision. In a test, one worker's own.
    @exclusivity(unchecked) public var shared = bjwt_jwks_shared()
    /// Why the last fetch failed (the zone keeps the text), for the error log of requests that
    /// find no usable key; used only while `shared` records a failure.
    @exclusivity(unchecked) public var lastError: String?

    /// The generation of the keys this worker parsed (`take`); 0: none. A cache of verified
    /// tokens tells by it whether the key that verified one may have gone.
    @exclusivity(unchecked) public private(set) var generation: Int64 = 0
    /// The usable keys of that set.
    @exclusivity(unchecked) private var current: [VerificationKey] = []

    /// Fetches that succeeded and failed, refetches for unknown kids (`JWKSMetricSlot`): counted
    /// by the worker that finished or was granted one, in the module's status zone.
    public let metrics = Counters(count: JWKSMetricSlot.count)
    /// For the status report, as this worker last saw the shared record: when the stored set was
    /// fetched and until when it is fresh, when the last fetch failed, the keys it parsed.
    public var fetchTime: Int64? { shared.generation != 0 ? shared.fetched_at : nil }
    public var freshTime: Int64? { shared.generation != 0 ? shared.fresh_until : nil }
    public var lastErrorTime: Int64? { shared.last_error_at != 0 ? shared.last_error_at : nil }
    public var currentKeys: [VerificationKey] { current }

    /// The set of `uri`; `freshFor` nil takes the freshness from each response's headers.
    public init(uri: [UInt8], freshFor: Int64? = nil, refresh: Int64 = RemoteKeySet.defaultRefresh) {
        self.uri = uri
        self.freshFor = freshFor
        self.refresh = refresh
    }

    /// Whether a fetch runs (in any worker).
    public var fetching: Bool { shared.fetch_id != 0 }
    /// The running fetch, 0: none.
    public var fetchID: Int64 { shared.fetch_id }
    /// Fetches begun, by every worker.
    public var fetches: Int64 { shared.fetches }

    /// What a request should do now; see `State`. `owner` is this worker (its pid);
    /// `ownerAlive` false when the worker running the fetch is gone.
    public func state(now: Int64, owner: Int64 = 0, ownerAlive: Bool = true) -> State {
        shared.state(now: now, owner: owner, ownerAlive: ownerAlive)
    }

    /// A token named a key no key has: whether to refetch the set for it; see `Miss`. A refetch
    /// is granted at most once per `refresh` seconds, counted from the last one granted.
    public func keyMiss(now: Int64, owner: Int64 = 0, ownerAlive: Bool = true) -> Miss {
        keyMiss(in: &shared, now: now, owner: owner, ownerAlive: ownerAlive)
    }

    /// The same, decided on the module's record in place (under the zone's lock); a refetch
    /// granted is counted (`backend_jwt_status`).
    public func keyMiss(in record: inout bjwt_jwks_shared, now: Int64, owner: Int64, ownerAlive: Bool) -> Miss {
        let miss = record.keyMiss(now: now, owner: owner, ownerAlive: ownerAlive, refresh: refresh)
        if miss == .fetch { metrics.add(JWKSMetricSlot.refetches) }
        return miss
    }

    /// The fetch `fetch` ended: its set was stored (`failure` nil; the module set
    /// `shared.generation` when the bytes changed) or not used, for that reason. A fetch that is
    /// no longer the running one (it was taken as lost) changes nothing.
    public func finished(fetch: Int64, failure: String?, cacheControl: [UInt8]?, now: Int64) {
        let freshness = freshFor ?? Self.freshness(cacheControl: cacheControl)
        guard shared.finished(fetch: fetch, failed: failure != nil, freshFor: freshness, now: now) else { return }
        lastError = failure
        metrics.add(failure == nil ? JWKSMetricSlot.fetchesOK : JWKSMetricSlot.fetchesFailed)
    }

    /// The fetch `fetch` ended without a verdict on the identity provider: the client whose
    /// request ran it went away. Not a failed attempt (a client must not cost the others their
    /// keys): the next request that needs the set fetches it.
    public func giveUp(fetch: Int64) { shared.giveUp(fetch: fetch) }

    /// Parses a stored set's bytes as this worker's keys of `generation`. They were checked
    /// (`check`) when fetched; a failure here keeps the keys there were.
    public func take(generation: Int64, body: [UInt8]) throws(BackendJWTError) {
        current = try Self.parse(body, uri: uri)
        self.generation = generation
    }

    /// A fetch's response: its keys when it is a usable JWK Set, else why not (for the error log:
    /// it names no key material).
    public func check(status: Int, body: [UInt8]) throws(BackendJWTError) -> [VerificationKey] {
        if let why = Self.problem(status: status, body: body) { throw BackendJWTError(.unavailable, why) }
        return try Self.parse(body, uri: uri)
    }

    /// The usable keys of the fetched set: fresh, or stale within `maximumStale`; empty when
    /// there are none.
    public func keys(now: Int64) -> [VerificationKey] { hasKeys(now: now) ? current : [] }

    /// Whether this worker's fetched keys can be used at `now`.
    public func hasKeys(now: Int64) -> Bool { generation != 0 && shared.storedKeys(now: now) }

    /// The seconds a client should wait before it tries again when no key is usable: until a
    /// failed fetch's `retryDelay` is over, else 1.
    public func retryAfter(now: Int64) -> Int64 { shared.retryAfter(now: now) }

    /// Why no fetched key can be used, for the error log: names the URI and the last failure.
    public func unavailableReason(now: Int64) -> String {
        let what = "no key of the JWK Set from \(quoted(uri, limit: 256)) can be used"
        let hasSet = shared.generation != 0
        if shared.last_failure != 0, let lastError {
            let past = hasSet ? "the last good set expired and " : ""
            return "\(what): \(past)the last fetch failed: \(lastError)"
        }
        if fetching { return "\(what): it is being fetched" }
        return hasSet ? "\(what): the last good set expired" : "\(what): it has not been fetched yet"
    }

    /// Marks a fetch as running, owned by `owner`.
    func begin(now: Int64, owner: Int64 = 0) { shared.begin(now: now, owner: owner) }

    /// A response that cannot be a JWK Set, before its body is read.
    static func problem(status: Int, body: [UInt8]) -> String? {
        guard status != 0 else { return "no response (the subrequest failed: see the error before)" }
        guard (200...299).contains(status) else { return "the response status is \(status), not 2xx" }
        guard body.count <= maximumBodySize else {
            return "the response is \(body.count) bytes, over the limit of \(maximumBodySize)"
        }
        return nil
    }

    /// The keys of a fetched set that can verify some signature: members that cannot be used are
    /// skipped (`JWKReader.fetched`), keys for encryption (`use`, `key_ops`) left out.
    static func parse(_ body: [UInt8], uri: [UInt8]) throws(BackendJWTError) -> [VerificationKey] {
        let first = body.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        guard first == UInt8(ascii: "{") else {
            throw BackendJWTError(.key, "the response is not a JWK Set: it is not a JSON object")
        }
        let all = try JWKReader(path: String(decoding: uri, as: UTF8.self), fetched: true).keys(fromJSON: body)
        let usable = all.filter { key in SigningAlgorithm.allCases.contains { $0 != .none && key.canVerify($0) } }
        guard !usable.isEmpty else {
            throw BackendJWTError(
                .key, "the JWK Set has no key that may verify signatures (their \"use\" or \"key_ops\" says otherwise)")
        }
        return usable
    }

    // MARK: - Cache-Control

    /// The freshness a response's `Cache-Control` gives (RFC 9111 5.2): `max-age=N` clamped to
    /// `minimumFreshness...maximumFreshness`; `no-store` or `no-cache` the minimum; neither (or no
    /// header, or no valid `max-age`) `defaultFreshness`.
    public static func freshness(cacheControl: [UInt8]?) -> Int64 {
        guard let cacheControl else { return defaultFreshness }
        let directives = parseCacheControl(cacheControl)
        if directives.noCache { return minimumFreshness }
        guard let maxAge = directives.maxAge else { return defaultFreshness }
        return min(max(maxAge, minimumFreshness), maximumFreshness)
    }

    /// The directives that matter here: the first valid `max-age` (digits, or digits in quotes;
    /// a huge value saturates) and whether `no-store` or `no-cache` is present. Names are
    /// case-insensitive; directives are separated by commas, with optional white space.
    static func parseCacheControl(_ text: [UInt8]) -> (maxAge: Int64?, noCache: Bool) {
        var maxAge: Int64?
        var noCache = false
        for part in text.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
            let directive = trimmed(part)
            let equals = directive.firstIndex(of: UInt8(ascii: "="))
            let name = trimmed(directive[..<(equals ?? directive.endIndex)])
            if name.equalsIgnoringCase("no-store") || name.equalsIgnoringCase("no-cache") {
                noCache = true
            } else if name.equalsIgnoringCase("max-age"), maxAge == nil, let equals {
                maxAge = deltaSeconds(trimmed(directive[(equals + 1)...]))
            }
        }
        return (maxAge, noCache)
    }

    /// `delta-seconds` (RFC 9111 1.2.2): digits only, optionally quoted; nil otherwise.
    private static func deltaSeconds(_ value: ArraySlice<UInt8>) -> Int64? {
        var digits = value
        if digits.count >= 2, digits.first == UInt8(ascii: "\""), digits.last == UInt8(ascii: "\"") {
            digits = digits.dropFirst().dropLast()
        }
        guard !digits.isEmpty else { return nil }
        var seconds: Int64 = 0
        for c in digits {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            seconds = min(seconds * 10 + Int64(c - UInt8(ascii: "0")), Int64(Int32.max))
        }
        return seconds
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let c = slice.first, c == 0x20 || c == 0x09 { slice = slice.dropFirst() }
        while let c = slice.last, c == 0x20 || c == 0x09 { slice = slice.dropLast() }
        return slice
    }
}

/// The rules, on the record every worker shares (zeroed: never fetched). Methods of the record
/// itself, so that the module's copy in shared memory is decided on in place, and the class's own
/// copy with one access.
extension bjwt_jwks_shared {
    /// See `RemoteKeySet.state`.
    public mutating func state(now: Int64, owner: Int64, ownerAlive: Bool) -> RemoteKeySet.State {
        dropLostFetch(now: now, ownerAlive: ownerAlive)
        if fetch_id == 0 && wantsFetch(now) && retryAllowed(now) {
            begin(now: now, owner: owner)
            return .fetch
        }
        if storedKeys(now: now) { return .ready }
        return fetch_id != 0 ? .wait : .unavailable
    }

    /// See `RemoteKeySet.keyMiss`.
    public mutating func keyMiss(now: Int64, owner: Int64, ownerAlive: Bool, refresh: Int64) -> RemoteKeySet.Miss {
        dropLostFetch(now: now, ownerAlive: ownerAlive)
        if fetch_id != 0 { return .wait }
        guard retryAllowed(now) else { return .refuse }
        if last_refresh != 0, now >= last_refresh, now - last_refresh < refresh { return .refuse }
        last_refresh = now
        refetches &+= 1
        miss_requested = 1
        begin(now: now, owner: owner)
        return .fetch
    }

    /// Fetch `fetch` ended, fresh for `freshFor` seconds unless it `failed`; false when it is no
    /// longer the running one (nothing changes).
    mutating func finished(fetch: Int64, failed: Bool, freshFor: Int64, now: Int64) -> Bool {
        guard fetch != 0, fetch == fetch_id else { return false }
        fetch_id = 0
        if failed {
            last_failure = now
            last_error_at = now
            failures &+= 1
        } else {
            fetched_at = now
            fresh_until = now &+ freshFor
            last_failure = 0
        }
        return true
    }

    /// See `RemoteKeySet.giveUp`.
    public mutating func giveUp(fetch: Int64) {
        guard fetch != 0, fetch == fetch_id else { return }
        fetch_id = 0
        if fetch_for_miss != 0 { miss_requested = 1 }  // a refetch granted to a kid is still due
    }

    /// See `RemoteKeySet.retryAfter`.
    public func retryAfter(now: Int64) -> Int64 {
        guard last_failure != 0, now >= last_failure, now - last_failure < RemoteKeySet.retryDelay else { return 1 }
        return RemoteKeySet.retryDelay - (now - last_failure)
    }

    /// Whether the stored set (whichever worker parsed it) is usable at `now`.
    func storedKeys(now: Int64) -> Bool {
        generation != 0 && now < fresh_until &+ RemoteKeySet.maximumStale
    }

    /// Marks a fetch as running, owned by `owner`.
    mutating func begin(now: Int64, owner: Int64) {
        last_fetch_id &+= 1
        fetch_id = last_fetch_id
        fetch_owner = owner
        fetch_started = now
        fetch_for_miss = miss_requested
        miss_requested = 0
        fetches &+= 1
    }

    /// A fetch whose worker is gone, or that has run for `lostFetch` (or began in the future: the
    /// clock was set back), is given up.
    private mutating func dropLostFetch(now: Int64, ownerAlive: Bool) {
        guard fetch_id != 0,
            !ownerAlive || now < fetch_started || now - fetch_started >= RemoteKeySet.lostFetch
        else { return }
        giveUp(fetch: fetch_id)
    }

    /// Never fetched, stale, or asked for by an unknown kid; a clock set back before the fetch
    /// also refetches.
    private func wantsFetch(_ now: Int64) -> Bool {
        generation == 0 || now >= fresh_until || now < fetched_at || miss_requested != 0
    }

    private func retryAllowed(_ now: Int64) -> Bool {
        last_failure == 0 || now < last_failure || now - last_failure >= RemoteKeySet.retryDelay
    }
}
