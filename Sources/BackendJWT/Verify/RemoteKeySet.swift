/// The JWK Set of an identity provider, fetched at run time (`backend_jwt_verify_jwks uri`): the
/// per-worker state of one URI, shared by every verifier of the http block that names it. The
/// module fetches the set through an nginx subrequest to `uri` (so TLS, timeouts, caching and
/// upstreams are ordinary nginx configuration); this object only decides when to fetch, keeps what
/// was fetched, and says which keys may be used. Nothing here blocks, allocates per request or
/// reads a clock: the module passes `now` (seconds since the epoch) to every call.
///
/// The cycle, one worker, one URI:
/// - `state(now:)` before verifying: `.fetch` means start a fetch now (`begin`, then the
///   subrequest, then `finish` or `abandon`); the request waits for it, as do the requests that
///   arrive while it runs (`fetching`). At most one fetch runs at a time.
/// - A set is fresh for `freshFor` seconds, or what the response's `Cache-Control: max-age` says
///   (clamped to `minimumFreshness...maximumFreshness`), else `defaultFreshness`. A stale set
///   still serves while it is refetched, and while refetches fail, up to `maximumStale` seconds
///   past its freshness; with no usable set at all, requests fail closed (`.unavailable`).
/// - A failed fetch (non-2xx status, a body over `maximumBodySize`, invalid JSON, no usable key,
///   or the request gone) is retried no sooner than `retryDelay` seconds later; the last good set
///   is kept.
/// - A token naming an unknown `kid` asks for a refetch (`keyMiss`), granted at most once per
///   `refresh` seconds, so random kids cannot make the worker hammer the identity provider. Only
///   such refetches count: a key published just after a scheduled fetch is fetched at once.
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
    /// A larger body is a failed fetch (a JWK Set of a few dozen keys is a few KiB).
    public static let maximumBodySize = 1024 * 1024
    /// A fetch that has neither finished nor been abandoned after this long is taken as lost, so
    /// a subrequest that never reports back cannot stop every later fetch.
    public static let lostFetch: Int64 = 300

    /// What a request should do before verifying.
    public enum State: Equatable, Sendable {
        /// Keys are usable and no fetch is to start: verify.
        case ready
        /// Start a fetch now (`begin`), and verify when it has finished.
        case fetch
        /// No usable key and no fetch can start now: one is running (wait for it when
        /// `fetching`), or the last attempt failed less than `retryDelay` seconds ago.
        case unavailable
    }

    /// The URI of the subrequest (a location of this server, usually internal).
    public let uri: [UInt8]
    /// `backend_jwt_verify_jwks_cache`: seconds a fetched set is fresh; nil: from `Cache-Control`.
    public internal(set) var freshFor: Int64?
    /// `backend_jwt_verify_jwks_refresh`: the least time between refetches asked by unknown kids.
    public internal(set) var refresh: Int64

    /// Whether a fetch has begun and neither finished nor been abandoned.
    public private(set) var fetching = false
    /// Fetches begun (for tests and the module's debug log).
    public private(set) var fetches = 0
    /// Why the last fetch failed, for the error log of requests that find no usable key; nil
    /// after a success (and before any fetch).
    public private(set) var lastError: String?
    /// Changes whenever the fetched keys do (a response equal to the last one keeps it), so a
    /// cache of verified tokens can tell whether the key that verified one may have gone.
    public private(set) var generation = 0

    /// Fetches that succeeded and failed, refetches for unknown kids (`JWKSMetricSlot`).
    public let metrics = Counters(count: JWKSMetricSlot.count)
    /// When the last good set was fetched and until when it is fresh; when the last fetch failed.
    public var fetchTime: Int64? { hasSet ? fetchedAt : nil }
    public var freshTime: Int64? { hasSet ? freshUntil : nil }
    public var lastErrorTime: Int64? { lastError == nil ? nil : lastFailure }
    /// The usable keys of the last good set, whatever their age (for the status report).
    public var currentKeys: [VerificationKey] { current }

    /// The usable keys of the last good set.
    private var current: [VerificationKey] = []
    /// The body of the last good set, to tell a changed set from the same one refetched.
    private var currentBody: [UInt8] = []
    private var hasSet = false
    private var fetchedAt: Int64 = 0
    private var freshUntil: Int64 = 0
    private var fetchStartedAt: Int64 = 0
    private var lastFailure: Int64?
    /// The last refetch granted to an unknown kid, from which `refresh` counts.
    private var lastRefresh: Int64?
    /// An unknown kid was granted a refetch that has not started yet.
    private var missRequested = false
    /// The running fetch is one granted to an unknown kid.
    private var fetchForMiss = false

    /// The set of `uri`; `freshFor` nil takes the freshness from each response's headers.
    public init(uri: [UInt8], freshFor: Int64? = nil, refresh: Int64 = RemoteKeySet.defaultRefresh) {
        self.uri = uri
        self.freshFor = freshFor
        self.refresh = refresh
    }

    /// What a request should do now; see `State`.
    public func state(now: Int64) -> State {
        if !isFetching(now) && wantsFetch(now) && retryAllowed(now) { return .fetch }
        return hasKeys(now: now) ? .ready : .unavailable
    }

    /// A fetch starts now (the module then makes the subrequest).
    public func begin(now: Int64) {
        fetching = true
        fetchStartedAt = now
        fetchForMiss = missRequested
        missRequested = false
        fetches += 1
    }

    /// The fetch ended with this response: its status, its `Cache-Control` header (nil when
    /// absent; several headers joined with commas) and its body. Returns nil when the set was
    /// taken, else why not (for the error log: it names no key material); the last good set is
    /// then kept.
    public func finish(status: Int, cacheControl: [UInt8]?, body: [UInt8], now: Int64) -> String? {
        fetching = false
        if let why = Self.problem(status: status, body: body) { return failed(why, now: now) }
        if !hasSet || body != currentBody {
            let keys: [VerificationKey]
            do {
                keys = try Self.parse(body, uri: uri)
            } catch {
                return failed(error.message, now: now)
            }
            current = keys
            currentBody = body
            generation &+= 1
        }
        hasSet = true
        fetchedAt = now
        freshUntil = now + (freshFor ?? Self.freshness(cacheControl: cacheControl))
        lastFailure = nil
        lastError = nil
        metrics.add(JWKSMetricSlot.fetchesOK)
        return nil
    }

    /// The fetching request went away before an answer: a failed attempt.
    public func abandon(now: Int64) {
        fail("the request for the JWK Set ended before its response", now: now)
    }

    /// The fetch failed for a reason the module found (a body too large to keep): a failed
    /// attempt, as `finish` with a bad response.
    public func fail(_ why: String, now: Int64) {
        fetching = false
        _ = failed(why, now: now)
    }

    /// The fetch ended without a verdict on the identity provider: the client whose request
    /// ran it went away. Not a failed attempt (a client must not cost the others their keys):
    /// the next request that needs the set fetches it.
    public func giveUp() {
        fetching = false
        missRequested = missRequested || fetchForMiss  // a refetch granted to a kid is still due
    }

    /// A token named a key no key has: whether to refetch the set for it now. True (and the next
    /// `state` is `.fetch`) at most once per `refresh` seconds, counted from the last refresh
    /// granted to an unknown kid; false while a fetch runs (its result may have the key: the module lets
    /// the request wait for it) and while a failed fetch's `retryDelay` lasts.
    public func keyMiss(now: Int64) -> Bool {
        guard !isFetching(now), retryAllowed(now) else { return false }
        if let last = lastRefresh, now >= last, now - last < refresh { return false }
        lastRefresh = now
        missRequested = true
        metrics.add(JWKSMetricSlot.refetches)
        return true
    }

    /// The usable keys of the fetched set: fresh, or stale within `maximumStale`; empty when
    /// there are none.
    public func keys(now: Int64) -> [VerificationKey] { hasKeys(now: now) ? current : [] }

    /// Whether fetched keys can be used at `now`.
    public func hasKeys(now: Int64) -> Bool { hasSet && now < freshUntil &+ Self.maximumStale }

    /// Why no fetched key can be used, for the error log: names the URI and the last failure.
    public func unavailableReason(now: Int64) -> String {
        let what = "no key of the JWK Set from \(quoted(uri, limit: 256)) can be used"
        if let lastError {
            let past = hasSet ? "the last good set expired and " : ""
            return "\(what): \(past)the last fetch failed: \(lastError)"
        }
        if isFetching(now) { return "\(what): it is being fetched" }
        return hasSet ? "\(what): the last good set expired" : "\(what): it has not been fetched yet"
    }

    // MARK: - The rules

    private func isFetching(_ now: Int64) -> Bool {
        fetching && now >= fetchStartedAt && now - fetchStartedAt < Self.lostFetch
    }

    /// Never fetched, stale, or asked for by an unknown kid; a clock set back before the fetch
    /// also refetches.
    private func wantsFetch(_ now: Int64) -> Bool {
        !hasSet || now >= freshUntil || now < fetchedAt || missRequested
    }

    private func retryAllowed(_ now: Int64) -> Bool {
        guard let lastFailure else { return true }
        return now < lastFailure || now - lastFailure >= Self.retryDelay
    }

    private func failed(_ why: String, now: Int64) -> String {
        lastFailure = now
        lastError = why
        metrics.add(JWKSMetricSlot.fetchesFailed)
        return why
    }

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
