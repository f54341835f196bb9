/// `backend_jwt_verify_cache size=N`: a bounded per-worker cache of tokens that verified, keyed
/// by the token's bytes (a hash picks the slot, then the bytes are compared in full), so a caller
/// who repeats its token costs one signature check, not one per request. What is kept is the
/// parsed token: a hit runs the claim checks again (`exp`, `nbf`, `iat`, `iss`, `aud`) on the kept
/// payload without parsing anything, so a cached token is never served past its `exp`.
///
/// Direct-mapped, like `TokenCache`: a token lives in the slot its hash picks and replaces what
/// was there, so the cache never holds more than `capacity` tokens whatever the requests, and
/// the slots are references (8 bytes each) until a token fills them.
public final class VerifiedTokenCache {
    /// The most tokens one cache holds (`size=` of `backend_jwt_verify_cache`).
    public static let maximumCapacity = 1_000_000

    /// One kept token. A class, so a slot is one reference and a hit copies nothing.
    final class Entry {
        let hash: Int
        let token: [UInt8]
        let verified: VerifiedToken
        /// The `generation` of the remote set whose key verified the token; nil for a key of
        /// the configuration, which cannot change while the worker lives.
        let remoteGeneration: Int64?

        init(hash: Int, token: [UInt8], verified: VerifiedToken, remoteGeneration: Int64?) {
            self.hash = hash
            self.token = token
            self.verified = verified
            self.remoteGeneration = remoteGeneration
        }
    }

    public let capacity: Int
    /// Lookups that found the token, and tokens stored (for tests and the module's debug log).
    public private(set) var hits = 0
    public private(set) var stores = 0
    private var slots: [Entry?]
    /// Where hits, misses and evictions are counted (`backend_jwt_status`); nil: nowhere.
    @exclusivity(unchecked) public var metrics: Counters?

    /// A cache of `capacity` tokens (1 to `maximumCapacity`).
    public init(capacity: Int) throws(BackendJWTError) {
        guard capacity >= 1, capacity <= Self.maximumCapacity else {
            throw BackendJWTError(
                .config, "a verified token cache of \(capacity) tokens; the size is 1 to \(Self.maximumCapacity)")
        }
        self.capacity = capacity
        slots = Array(repeating: nil, count: capacity)
    }

    /// How many tokens are kept now.
    public var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    private func slot(_ hash: Int) -> Int { Int(UInt(bitPattern: hash) % UInt(capacity)) }

    /// The entry for exactly these bytes, if kept.
    func lookup(hash: Int, token: UnsafeRawBufferPointer) -> Entry? {
        guard let entry = slots[slot(hash)], entry.hash == hash, entry.token.count == token.count,
            entry.token.withUnsafeBytes({ BytesHash.same($0, token) })
        else {
            metrics?.add(MetricSlot.verifyCacheMisses)
            return nil
        }
        hits += 1
        metrics?.add(MetricSlot.verifyCacheHits)
        return entry
    }

    /// Keeps a token that verified, replacing whatever its slot held.
    func store(hash: Int, token: [UInt8], verified: VerifiedToken, remoteGeneration: Int64?) {
        stores += 1
        let index = slot(hash)
        if slots[index] != nil { metrics?.add(MetricSlot.verifyCacheEvictions) }
        slots[index] = Entry(hash: hash, token: token, verified: verified, remoteGeneration: remoteGeneration)
    }

    /// Forgets the token in `hash`'s slot if it is `entry` (it expired, or its key went away).
    func remove(_ entry: Entry) {
        let index = slot(entry.hash)
        if slots[index] === entry { slots[index] = nil }
    }
}
