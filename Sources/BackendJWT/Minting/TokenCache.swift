/// `backend_jwt_cache`: a bounded per-worker cache of tokens, keyed by everything that goes
/// into a token but its time claims and `jti` (the signer, so key, algorithm, header and claim
/// names; every request value; and what the caller's verified token adds: copied claims and the
/// `exp` that caps the token's). A token is reused only while at least `minimumRemaining`
/// seconds of its lifetime (up to its real `exp`) are left, so an almost-expired token is
/// never handed out.
public final class TokenCache {
    /// How the operator gives the least remaining lifetime of a reused token.
    public enum Remaining: Equatable, Sendable {
        case seconds(Int64)
        case percent(Int64)
    }

    private struct Entry {
        var hash: Int
        var key: [UInt8]
        var token: [UInt8]
        var issuedAt: Int64
        var expiresAt: Int64
    }

    let capacity: Int
    let minimumRemaining: Int64
    /// Direct-mapped: a token lives in the slot its hash picks and replaces what was there, so
    /// the cache never holds more than `capacity` tokens, whatever the requests.
    private var slots: [Entry?]

    init(capacity: Int, minimumRemaining: Int64) {
        self.capacity = capacity
        // A token whose exp is now is expired: one second is the least a reused token has left.
        self.minimumRemaining = max(minimumRemaining, 1)
        slots = Array(repeating: nil, count: capacity)
    }

    private func slot(_ hash: Int) -> Int { Int(UInt(bitPattern: hash) % UInt(capacity)) }

    /// The cached token for `key`, if one is still fresh enough at `now`.
    func lookup(hash: Int, key: [UInt8], now: Int64) -> [UInt8]? {
        guard let entry = slots[slot(hash)], entry.hash == hash, BytesHash.same(entry.key, key) else { return nil }
        // A clock stepped back would make the token issued in the future: mint anew. With
        // now >= issuedAt and now < expiresAt <= issuedAt + ttl, the subtraction cannot overflow.
        guard now >= entry.issuedAt, entry.expiresAt > now, entry.expiresAt - now >= minimumRemaining else {
            return nil
        }
        return entry.token
    }

    /// Keeps `token`, issued at `issuedAt`, whose `exp` is `expiresAt` (the TTL's end, or the
    /// caller's earlier `exp`).
    func store(hash: Int, key: [UInt8], token: [UInt8], issuedAt: Int64, expiresAt: Int64) {
        slots[slot(hash)] = Entry(hash: hash, key: key, token: token, issuedAt: issuedAt, expiresAt: expiresAt)
    }

    /// Parses `backend_jwt_cache size=N [min_remaining=TIME|P%]`, or `off` (nil).
    public static func parse(_ options: [[UInt8]]) throws(BackendJWTError) -> (size: Int, remaining: Remaining)? {
        if options.count == 1, options[0].equalsIgnoringCase("off") { return nil }
        var size: Int?
        var remaining = Remaining.percent(10)
        var seen: Set<String> = []
        for option in options {
            let text = String(decoding: option, as: UTF8.self)
            for name in ["size=", "min_remaining="] where text.hasPrefix(name) {
                guard seen.insert(name).inserted else {
                    throw BackendJWTError(.config, "option \(quoted(name)) is given twice")
                }
            }
            if text.hasPrefix("size="), let n = Int(text.dropFirst(5)), n >= 1, n <= 1_000_000 {
                size = n
            } else if text.hasPrefix("min_remaining=") {
                let value = Array(option.dropFirst("min_remaining=".count))
                if value.last == UInt8(ascii: "%"), let p = Int64(String(decoding: value.dropLast(), as: UTF8.self)),
                    p >= 0, p <= 100
                {
                    remaining = .percent(p)
                } else if let seconds = try? TokenTTL.seconds(value, what: "min_remaining") {
                    remaining = .seconds(seconds)
                } else {
                    throw BackendJWTError(
                        .config, "invalid min_remaining \(quoted(value)); use a time (30s, 5m) or a percentage (10%)")
                }
            } else {
                throw BackendJWTError(
                    .config, "invalid argument \(quoted(option)); use size=1..1000000 [min_remaining=TIME|PERCENT%], or off")
            }
        }
        guard let size else { throw BackendJWTError(.config, "size= is required (or off)") }
        return (size, remaining)
    }
}
