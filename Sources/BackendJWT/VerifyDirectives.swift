/// The directives of the caller's token: `backend_jwt_verify` and its settings,
/// `backend_jwt_copy_claims` and `backend_jwt_caller_exp`. Errors read as Directives.swift's.
extension LevelSettings {
    /// Leeways longer than this are a mistake: a token an hour past its `exp` is expired.
    static let maximumLeeway: Int64 = 3600

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
            var status = 403
            if let last = values.last, last.starts(with: Array("error=".utf8)) {
                guard values.count > 1 else { throw BackendJWTError(.config, "no value to require before \(quoted(last))") }
                switch String(decoding: last.dropFirst(6), as: UTF8.self) {
                case "401": status = 401
                case "403": status = 403
                default: throw BackendJWTError(.config, "invalid option \(quoted(last)); use error=401 or error=403")
                }
                values.removeLast()
            }
            for value in values { try Self.requireVariable(value, "every value") }
            let requirement = Requirement(templates: values.map { config.template($0) }, status: status)
            verifyRequire.set((verifyRequire.value ?? []) + [requirement], at: verifyRequire.place ?? place)
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
        default: break
        }
    }

    /// A value read per request must name a variable: a constant is the same for every caller.
    private static func requireVariable(_ value: [UInt8], _ what: String) throws(BackendJWTError) {
        guard value.contains(UInt8(ascii: "$")) else {
            throw BackendJWTError(.config, "\(what) takes a variable ($name), not \(quoted(value))")
        }
    }
}
