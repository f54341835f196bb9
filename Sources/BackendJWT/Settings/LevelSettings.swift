/// Where a directive stood in nginx.conf, for errors found after it was read.
public struct Where: Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One setting of one configuration level: unset, or a value and the directive that gave it
/// (no place for a default). A level that sets nothing inherits the enclosing level's setting,
/// place included, as nginx's own merge does.
public struct Setting<Value> {
    public private(set) var value: Value?
    public private(set) var place: Where?

    public init() {}

    mutating func set(_ value: Value, at place: Where?) {
        self.value = value
        self.place = place
    }

    /// Keeps this level's value, else takes the enclosing level's.
    mutating func inherit(_ parent: Setting<Value>) {
        if value == nil { self = parent }
    }

    /// As `inherit`, and `fallback` where no level sets it.
    mutating func inherit(_ parent: Setting<Value>, default fallback: Value) {
        inherit(parent)
        if value == nil { value = fallback }
    }
}

/// `backend_jwt_issuer`, `_subject` and `_audience`: the value templates (one per audience) and
/// whether an empty value fails the request (`if_empty=fail`).
public struct RegisteredValue: Equatable, Sendable {
    public var templates: [Int]
    public var required: Bool
}

/// The custom claims a level declares (or inherits): names and types, each value's template and
/// the place of its directive.
public struct DeclaredClaims {
    public var list = ClaimList()
    public var templates: [Int] = []
    public var places: [Where] = []
}

/// The settings of one configuration level (http, server, location, and the `if` and
/// `limit_except` blocks inside a location), in one place: APK's `backendJwtToken` (`enabled`,
/// `encoding`, `signingAlgorithm`, `header`, `tokenTTL`, `customClaims`) and what this module adds.
/// Directives are applied by name (`apply`, Directives.swift); `merge` gives a level what it
/// inherits and checks what needs both levels (Merge.swift); `location` is what a request there
/// gets. Values with nginx variables are templates the module compiles, kept by index in the
/// `Configuration`.
public final class LevelSettings {
    // APK's backendJwtToken
    public internal(set) var enabled = Setting<Bool>()
    public internal(set) var encoding = Setting<TokenEncoding>()
    public internal(set) var algorithm = Setting<SigningAlgorithm>()
    /// The header's name as written; empty for `backend_jwt_header off`.
    public internal(set) var header = Setting<[UInt8]>()
    /// The scheme before the token in the header's value (`Bearer`); empty: none. Set with `header`.
    public internal(set) var headerScheme = Setting<[UInt8]>()
    public internal(set) var ttl = Setting<Int64>()
    public internal(set) var claims = Setting<DeclaredClaims>()

    // what this module adds
    public internal(set) var issuer = Setting<RegisteredValue>()
    public internal(set) var subject = Setting<RegisteredValue>()
    public internal(set) var audience = Setting<RegisteredValue>()
    /// `nbf` lies `leeway` before `iat`; nil: no `nbf`.
    public internal(set) var notBefore = Setting<Int64?>()
    public internal(set) var jti = Setting<Bool>()
    public internal(set) var key = Setting<SigningKey>()
    public internal(set) var certificate = Setting<Certificate>()
    public internal(set) var keyID = Setting<Signer.KeyIDSource>()
    /// nil: no cache.
    public internal(set) var cache = Setting<(size: Int, remaining: TokenCache.Remaining)?>()
    public internal(set) var maxSize = Setting<Int>()
    public internal(set) var enforce = Setting<Bool>()
    // the caller's token (`backend_jwt_verify*`, VerifyDirectives.swift, VerifyMerge.swift)
    public internal(set) var verify = Setting<Bool>()
    /// The template of `token=`; nil: the credentials of `Authorization: Bearer`.
    public internal(set) var verifyToken = Setting<Int?>()
    /// Every `backend_jwt_verify_key` of one level, in order (the place of the first).
    public internal(set) var verifyKeys = Setting<[VerificationKey]>()
    public internal(set) var verifyAlgorithms = Setting<[SigningAlgorithm]>()
    public internal(set) var verifyIssuers = Setting<[[UInt8]]>()
    public internal(set) var verifyAudiences = Setting<[[UInt8]]>()
    public internal(set) var verifyLeeway = Setting<Int64>()
    public internal(set) var verifyRequire = Setting<[Requirement]>()
    /// Every `backend_jwt_verify_require_claim` of one level, in order.
    public internal(set) var verifyRequireClaims = Setting<[ClaimRequirement]>()
    /// `backend_jwt_verify_realm`: the challenge's `realm`; empty: none.
    public internal(set) var verifyRealm = Setting<[UInt8]>()
    public internal(set) var verifyForward = Setting<Bool>()
    /// `backend_jwt_copy_claims`; nil: `off`.
    public internal(set) var copies = Setting<ClaimCopies?>()
    /// `backend_jwt_caller_exp cap`: the minted `exp` never outlives the caller's.
    public internal(set) var capToCaller = Setting<Bool>()
    /// `backend_jwt_verify_jwks`: the URI of the location that serves the JWK Set; nil: `off`.
    public internal(set) var verifyJWKS = Setting<[UInt8]?>()
    /// `backend_jwt_verify_jwks_cache`: seconds a fetched set is fresh; unset: from the
    /// response's `Cache-Control`.
    public internal(set) var verifyJWKSCache = Setting<Int64>()
    /// `backend_jwt_verify_jwks_refresh`: the least seconds between refetches for unknown kids.
    public internal(set) var verifyJWKSRefresh = Setting<Int64>()
    /// `backend_jwt_verify_jwks_wait`: the longest a request whose token finds no key waits for a
    /// running fetch, in milliseconds.
    public internal(set) var verifyJWKSWait = Setting<Int64>()
    /// `backend_jwt_verify_cache size=N`: how many verified tokens are kept; nil: `off`.
    public internal(set) var verifyCache = Setting<Int?>()

    /// This location serves the JWK Set (`backend_jwt_jwks`): it never mints.
    public internal(set) var servesJWKS = false
    /// This location answers 204 once the caller's token verified (`backend_jwt_verify_answer`).
    public internal(set) var answersVerified = false

    /// Where this level itself set each directive (the first time), for `backend_jwt_enforce`.
    var own: [Directive: Where] = [:]

    /// After `merge`: the signer of an enabled level, shared with the enclosing level when
    /// nothing that signs differs.
    public internal(set) var signer: Signer?
    /// After `merge`: the verifier where `backend_jwt_verify on`, shared like the signer.
    public internal(set) var verifier: JWSVerifier?
    /// After `merge`: what a verified caller must meet here; nil: nothing more.
    public internal(set) var rules: ClaimRules?
    /// The level whose token a request here sends: itself, or for an `if` or `limit_except`
    /// block its location (one request, one token).
    public internal(set) weak var origin: LevelSettings?

    public init() {}

    /// The values `Signer.mint` takes, as template indexes in its order: the issuer, the
    /// subject, each audience, each custom claim; nil where the issuer or subject is unset.
    public var valueTemplates: [Int?] {
        [issuer.value?.templates.first, subject.value?.templates.first]
            + (audience.value?.templates ?? []).map { $0 } + (claims.value?.templates ?? []).map { $0 }
    }
}

/// One `backend_jwt_verify_require`: values that must all be non-empty and not `0`, and the
/// status a request gets when one is not (403, or 401 with `error=401`).
public struct Requirement: Equatable, Sendable {
    public var templates: [Int]
    public var status: Int
}

/// `backend_jwt_verify_claim_set $variable PATH`: a variable of the http block from any claim.
public struct ClaimSet: Equatable, Sendable {
    /// The variable's name without `$`, in lowercase as nginx keeps it.
    public let variable: [UInt8]
    public let path: ClaimPath
    public let place: Where
}

/// The settings of one http block that are not per level: the value templates the module
/// compiles (by index), the JWK Set and nginx's configuration prefix, against which relative file
/// names are taken (as nginx does for `ssl_certificate_key`).
public final class Configuration {
    public let prefix: [UInt8]
    public let jwks = JWKSet()
    public private(set) var templates: [[UInt8]] = []
    /// `backend_jwt_verify_claim_set`, in order: the module defines each variable.
    public internal(set) var claimSets: [ClaimSet] = []
    /// The fetched JWK Sets by URI (`remoteKeySet(uri:)`), and where each got its settings.
    var remoteKeySets: [[UInt8]: (set: RemoteKeySet, settings: RemoteKeySetSettings?)] = [:]
    /// What every verifier and signer of this http block counts (`MetricSlot`).
    public let metrics = Counters(count: MetricSlot.count)
    /// `backend_jwt_verify_jwks_zone`: the size of the shared memory zone that holds the fetched
    /// sets (`RemoteKeySet`); nil: `defaultJWKSZoneSize`.
    public internal(set) var jwksZoneSize: Int?

    /// The zone's size when none is given: 1 MiB holds dozens of typical sets (a JWK of an RSA
    /// key is about 0.5 KiB, 2 to 3 KiB with its certificate in `x5c`).
    public static let defaultJWKSZoneSize = 1024 * 1024

    public init(prefix: [UInt8]) { self.prefix = prefix }

    /// Adds a value (text that may contain nginx variables); returns its index.
    func template(_ text: [UInt8]) -> Int {
        templates.append(text)
        return templates.count - 1
    }

    /// `path` made absolute against the configuration prefix.
    func fullPath(_ path: [UInt8]) -> [UInt8] {
        path.first == UInt8(ascii: "/") ? path : prefix + path
    }
}
