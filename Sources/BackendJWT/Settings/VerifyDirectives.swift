/// The directives of the caller's token: `backend_jwt_verify` and its settings (keys from files
/// or fetched, `backend_jwt_verify_jwks*`, the verified token cache), `backend_jwt_copy_claims`
/// and `backend_jwt_caller_exp`. Errors read as Directives.swift's.
extension LevelSettings {
    /// Leeways longer than this are a mistake: a token an hour past its `exp` is expired.
    static let maximumLeeway: Int64 = 3600
    /// The range of `backend_jwt_verify_jwks_cache` (its upper end is `RemoteKeySet.maximumFreshness`).
    static let minimumJWKSCache: Int64 = 1
    /// The range of `backend_jwt_verify_jwks_refresh`.
    static let minimumJWKSRefresh: Int64 = 1
    static let maximumJWKSRefresh: Int64 = 3600
    /// The longest `backend_jwt_verify_jwks_wait`, in milliseconds.
    static let maximumJWKSWait: Int64 = 60_000
    /// The range of `backend_jwt_verify_jwks_zone` (nginx needs 8 pages at least).
    static let minimumJWKSZone = 32 * 1024
    static let maximumJWKSZone = 1024 * 1024 * 1024

    func applyVerify(_ directive: Directive, _ args: [[UInt8]], at place: Where, in config: Configuration)
        throws(BackendJWTError)
    {
        let first = args.first ?? []
        switch directive {
        case .verify:
            verify.set(try flag(verify, directive, first), at: place)
            guard args.count == 2 else { return verifyToken.set(nil, at: place) }
            let prefix = Array("token=".utf8)
            guard args[1].starts(with: prefix), args[1].count > prefix.count else {
                throw BackendJWTError(.config, "invalid option \(quoted(args[1])); use token=$variable")
            }
            let value = Array(args[1].dropFirst(prefix.count))
            try Self.requireVariable(value, "token=")
            verifyToken.set(config.template(value), at: place)
        case .verifyKey:
            // every key file of one level verifies; a level that names one replaces the inherited list
            let keys = try VerificationKey.load(path: config.fullPath(first))
            verifyKeys.set((verifyKeys.value ?? []) + keys, at: verifyKeys.place ?? place)
        case .verifyAlgorithms:
            try unique(verifyAlgorithms)
            var list: [SigningAlgorithm] = []
            for arg in args {
                let algorithm = try JWSVerifier.parseAlgorithm(arg)
                if !list.contains(algorithm) { list.append(algorithm) }
            }
            verifyAlgorithms.set(list, at: place)
        case .verifyIssuer, .verifyAudience:
            let setting = directive == .verifyIssuer ? verifyIssuers : verifyAudiences
            try unique(setting, " (give every value in one directive)")
            if let variable = args.first(where: { $0.contains(UInt8(ascii: "$")) }) {
                throw BackendJWTError(.config, "variables are not supported here: \(quoted(variable))")
            }
            if directive == .verifyIssuer { verifyIssuers.set(args, at: place) } else { verifyAudiences.set(args, at: place) }
        case .verifyLeeway:
            try unique(verifyLeeway)
            let seconds = try TokenTTL.seconds(first, what: "leeway")
            guard seconds <= Self.maximumLeeway else {
                throw BackendJWTError(.config, "leeway \(quoted(first)) is longer than 1h: tokens that long expired are expired")
            }
            verifyLeeway.set(seconds, at: place)
        case .verifyRequire:
            var values = args
            let status = try ClaimRequirement.status(&values)
            guard !values.isEmpty else { throw BackendJWTError(.config, "no value to require before \(quoted(args[0]))") }
            for value in values { try Self.requireVariable(value, "every value") }
            let requirement = Requirement(templates: values.map { config.template($0) }, status: status)
            verifyRequire.set((verifyRequire.value ?? []) + [requirement], at: verifyRequire.place ?? place)
        case .verifyRequireClaim:
            let requirement = try ClaimRequirement.parse(args, template: config.template)
            let all = (verifyRequireClaims.value ?? []) + [requirement]
            verifyRequireClaims.set(all, at: verifyRequireClaims.place ?? place)
        case .verifyClaimSet:
            guard first.count > 1, first[0] == UInt8(ascii: "$"),
                first.dropFirst().allSatisfy({ $0 == UInt8(ascii: "_") || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) })
            else {
                throw BackendJWTError(.config, "invalid variable name \(quoted(first)); use $name")
            }
            let name = first.dropFirst().map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            if let other = config.claimSets.first(where: { $0.variable == name }) {
                throw BackendJWTError(.config, "variable \(quoted(first)) is already set in \(other.place)")
            }
            config.claimSets.append(ClaimSet(variable: name, path: try ClaimPath.parse(args[1]), place: place))
        case .verifyRealm:
            try unique(verifyRealm)
            guard !first.contains(where: { $0 < 0x20 || $0 == 0x7F }), String(validating: first, as: UTF8.self) != nil
            else {
                throw BackendJWTError(.config, "realm \(quoted(first)) has a control character or is not UTF-8")
            }
            verifyRealm.set(first, at: place)
        case .verifyForward: verifyForward.set(try flag(verifyForward, directive, first), at: place)
        case .copyClaims:
            try unique(copies, " (give every claim in one directive)")
            copies.set(try ClaimCopies.parse(args), at: place)
        case .callerExp:
            try unique(capToCaller)
            if first.equalsIgnoringCase("cap") {
                capToCaller.set(true, at: place)
            } else if first.equalsIgnoringCase("ignore") {
                capToCaller.set(false, at: place)
            } else {
                throw BackendJWTError(.config, "invalid value \(quoted(first)); use cap or ignore")
            }
        case .verifyJWKS:
            try unique(verifyJWKS)
            if first.equalsIgnoringCase("off") { return verifyJWKS.set(nil, at: place) }
            try Self.checkJWKSURI(first)
            verifyJWKS.set(first, at: place)
        case .verifyJWKSCache:
            try unique(verifyJWKSCache)
            let range = Self.minimumJWKSCache...RemoteKeySet.maximumFreshness
            verifyJWKSCache.set(try Self.interval(first, "JWKS cache time", range, "24h"), at: place)
        case .verifyJWKSRefresh:
            try unique(verifyJWKSRefresh)
            let range = Self.minimumJWKSRefresh...Self.maximumJWKSRefresh
            verifyJWKSRefresh.set(try Self.interval(first, "JWKS refresh interval", range, "1h"), at: place)
        case .verifyJWKSWait:
            try unique(verifyJWKSWait)
            verifyJWKSWait.set(try Self.milliseconds(first), at: place)
        case .verifyJWKSZone:
            guard config.jwksZoneSize == nil else { throw BackendJWTError(.duplicate, "") }
            guard let size = Self.size(first), size >= Self.minimumJWKSZone, size <= Self.maximumJWKSZone else {
                throw BackendJWTError(
                    .config, "invalid size \(quoted(first)); use 32k to 1024m (nginx's size syntax: 512k, 2m)")
            }
            config.jwksZoneSize = size
        case .verifyCache:
            try unique(verifyCache)
            if first.equalsIgnoringCase("off") { return verifyCache.set(nil, at: place) }
            let prefix = Array("size=".utf8)
            guard first.starts(with: prefix), first.count > prefix.count, first.count <= prefix.count + 7,
                first.dropFirst(prefix.count).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let size = Int(String(decoding: first.dropFirst(prefix.count), as: UTF8.self)),
                size >= 1, size <= VerifiedTokenCache.maximumCapacity
            else {
                let most = VerifiedTokenCache.maximumCapacity
                throw BackendJWTError(.config, "invalid argument \(quoted(first)); use size=1..\(most) or off")
            }
            verifyCache.set(size, at: place)
        default: break
        }
    }

    /// The URI of `backend_jwt_verify_jwks`: a path of this server (the subrequest's), constant.
    private static func checkJWKSURI(_ uri: [UInt8]) throws(BackendJWTError) {
        if uri.contains(UInt8(ascii: "$")) {
            throw BackendJWTError(.config, "variables are not supported here: \(quoted(uri))")
        }
        guard uri.first == UInt8(ascii: "/") else {
            throw BackendJWTError(
                .config,
                "invalid URI \(quoted(uri)); give the path of a location of this server (/_idp_jwks) that proxies "
                    + "to the identity provider's JWK Set (proxy_pass https://idp/.../certs)")
        }
        guard !uri.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw BackendJWTError(.config, "invalid URI \(quoted(uri)): it has a space or a control character")
        }
    }

    /// A time (`TokenTTL.seconds`) within `range`; `longest` shows its upper end.
    private static func interval(_ text: [UInt8], _ what: String, _ range: ClosedRange<Int64>, _ longest: String)
        throws(BackendJWTError) -> Int64
    {
        let seconds = try TokenTTL.seconds(text, what: what)
        guard seconds >= range.lowerBound else {
            throw BackendJWTError(.config, "\(what) \(quoted(text)) is shorter than \(range.lowerBound)s")
        }
        guard seconds <= range.upperBound else {
            throw BackendJWTError(.config, "\(what) \(quoted(text)) is longer than \(longest)")
        }
        return seconds
    }

    /// `backend_jwt_verify_jwks_wait`: nginx time (`3s`, `1500ms`, `0`), at most a minute, in
    /// milliseconds.
    private static func milliseconds(_ text: [UInt8]) throws(BackendJWTError) -> Int64 {
        let what = "JWKS wait time"
        let ms = Array("ms".utf8)
        let milliseconds: Int64
        if text.count > 2, text.suffix(2).elementsEqual(ms), text.dropLast(2).count <= 6,
            text.dropLast(2).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        {
            milliseconds = Int64(String(decoding: text.dropLast(2), as: UTF8.self)) ?? 0
        } else {
            let seconds: Int64
            do {
                seconds = try TokenTTL.seconds(text, what: what)
            } catch {
                throw BackendJWTError(.config, "invalid \(what) \(quoted(text)); use nginx time (3s, 1500ms, 0)")
            }
            guard seconds <= maximumJWKSWait / 1000 else {
                throw BackendJWTError(.config, "\(what) \(quoted(text)) is longer than 60s")
            }
            milliseconds = seconds * 1000
        }
        guard milliseconds <= maximumJWKSWait else {
            throw BackendJWTError(.config, "\(what) \(quoted(text)) is longer than 60s")
        }
        return milliseconds
    }

    /// A value read per request must name a variable: a constant is the same for every caller.
    private static func requireVariable(_ value: [UInt8], _ what: String) throws(BackendJWTError) {
        guard value.contains(UInt8(ascii: "$")) else {
            throw BackendJWTError(.config, "\(what) takes a variable ($name), not \(quoted(value))")
        }
    }
}
