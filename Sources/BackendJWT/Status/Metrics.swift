import CAtomics

/// Counters that every nginx worker adds to (`backend_jwt_status`): 64-bit slots, added to with
/// relaxed atomic adds, never a lock. They live in memory of their own until `attach` moves them
/// to memory the module shares between its processes (an nginx shared memory zone, zeroed when
/// new and kept across reloads), so a core used alone (tests, another host) counts all the same.
/// Counting is on every request's path: `base` and the `metrics` properties that hold a
/// `Counters` skip the dynamic exclusivity checks (set once, at configuration time).
public final class Counters {
    public let count: Int
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<UInt64>
    private let own: UnsafeMutablePointer<UInt64>

    init(count: Int) {
        self.count = count
        own = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        own.initialize(repeating: 0, count: count)
        base = own
    }

    deinit { own.deallocate() }

    /// Counts in `shared` from now on: `count` slots, 8-byte aligned, that outlive this object.
    public func attach(_ shared: UnsafeMutableRawPointer) {
        base = shared.bindMemory(to: UInt64.self, capacity: count)
    }

    @inline(__always)
    func add(_ slot: Int) { bjwt_atomic_add(base + slot, 1) }

    public subscript(slot: Int) -> UInt64 { bjwt_atomic_load(base + slot) }
}

/// The slots of an http block's counters. The first `verdicts` are the module's (one per
/// request, by `Refusal` raw value, 0 for a token that verified); the core counts the rest.
public enum MetricSlot {
    public static let verdicts = Refusal.allCases.count + 1
    public static let verifyCacheHits = verdicts
    public static let verifyCacheMisses = verdicts + 1
    public static let verifyCacheEvictions = verdicts + 2
    public static let mintCacheHits = verdicts + 3
    public static let mintCacheMisses = verdicts + 4
    /// Tokens handed out, by algorithm (a cached token counts as one).
    public static func mint(_ algorithm: SigningAlgorithm) -> Int { verdicts + 5 + Int(algorithm.rawValue) }
    /// Mints that failed, by `MintFailure`.
    public static func mintFailure(_ failure: MintFailure) -> Int {
        verdicts + 5 + SigningAlgorithm.allCases.count + failure.rawValue
    }
    public static let count = verdicts + 5 + SigningAlgorithm.allCases.count + MintFailure.allCases.count
}

/// The slots of one `backend_jwt_verify_jwks` URI's counters.
public enum JWKSMetricSlot {
    public static let fetchesOK = 0
    public static let fetchesFailed = 1
    /// Refetches granted to a token with an unknown `kid`.
    public static let refetches = 2
    public static let count = 3
}

/// Why a token could not be minted: the `reason` label of `backend_jwt_mint_failures_total`.
public enum MintFailure: Int, CaseIterable, Sendable {
    /// A request value does not convert to its claim type, or an `if_empty=fail` value is empty.
    case value
    /// The token is longer than backend_jwt_max_size (or does not fit the buffer it is written
    /// into).
    case size
    /// OpenSSL could not sign (or the clock overflows the token's times).
    case sign
    case other

    public var word: String {
        switch self {
        case .value: "value"
        case .size: "size"
        case .sign: "sign"
        case .other: "other"
        }
    }

    init(_ kind: BackendJWTError.Kind) {
        self = kind == .value ? .value : kind == .space ? .size : kind == .sign ? .sign : .other
    }
}
