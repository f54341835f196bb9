/// The `backend_jwt_*` directives, in the order of the module's command table (which
/// `backend_jwt_enforce` reports the first of). nginx checks each one's context and argument
/// count from that table; everything else about a directive is here.
public enum Directive: String, CaseIterable, Sendable {
    case enable = "backend_jwt"
    case signingKey = "backend_jwt_signing_key"
    case signingSecret = "backend_jwt_signing_secret"
    case certificate = "backend_jwt_certificate"
    case keyID = "backend_jwt_key_id"
    case jwks = "backend_jwt_jwks"
    case jwksKey = "backend_jwt_jwks_key"
    case algorithm = "backend_jwt_signing_algorithm"
    case encoding = "backend_jwt_encoding"
    case header = "backend_jwt_header"
    case ttl = "backend_jwt_token_ttl"
    case issuer = "backend_jwt_issuer"
    case subject = "backend_jwt_subject"
    case claim = "backend_jwt_claim"
    case wso2Claims = "backend_jwt_wso2_claims"
    case audience = "backend_jwt_audience"
    case notBefore = "backend_jwt_not_before"
    case jti = "backend_jwt_jti"
    case maxSize = "backend_jwt_max_size"
    case cache = "backend_jwt_cache"
    case enforce = "backend_jwt_enforce"
    case verify = "backend_jwt_verify"
    case verifyKey = "backend_jwt_verify_key"
    case verifyAlgorithms = "backend_jwt_verify_algorithms"
    case verifyIssuer = "backend_jwt_verify_issuer"
    case verifyAudience = "backend_jwt_verify_audience"
    case verifyLeeway = "backend_jwt_verify_leeway"
    case verifyRequire = "backend_jwt_verify_require"
    case verifyForward = "backend_jwt_verify_forward"
    case copyClaims = "backend_jwt_copy_claims"
    case callerExp = "backend_jwt_caller_exp"
    case verifyJWKS = "backend_jwt_verify_jwks"
    case verifyJWKSCache = "backend_jwt_verify_jwks_cache"
    case verifyJWKSRefresh = "backend_jwt_verify_jwks_refresh"
    case verifyJWKSWait = "backend_jwt_verify_jwks_wait"
    case verifyJWKSZone = "backend_jwt_verify_jwks_zone"
    case verifyCache = "backend_jwt_verify_cache"
    case verifyRequireClaim = "backend_jwt_verify_require_claim"
    case verifyClaimSet = "backend_jwt_verify_claim_set"
    case verifyRealm = "backend_jwt_verify_realm"
    case verifyAnswer = "backend_jwt_verify_answer"

    /// What a level below `backend_jwt_enforce on` may still set: its own claims, and the JWK
    /// Set, which mints nothing.
    var allowedUnderEnforce: Bool { self == .claim || self == .wso2Claims || self == .jwks }

    /// The settings of `backend_jwt_verify`, which do nothing where it is off.
    var isVerifySetting: Bool {
        switch self {
        case .verifyKey, .verifyAlgorithms, .verifyIssuer, .verifyAudience, .verifyLeeway, .verifyRequire,
            .verifyForward, .verifyJWKS, .verifyJWKSCache, .verifyJWKSRefresh, .verifyJWKSWait, .verifyCache,
            .verifyRequireClaim, .verifyRealm, .verifyAnswer:
            true
        default: false
        }
    }

    /// How many arguments it takes, as the module's command table tells nginx (which checks
    /// them first); checked again here, since the ABI may be called otherwise.
    var arguments: ClosedRange<Int> {
        switch self {
        case .jwks, .verifyAnswer: 0...0
        case .signingKey, .signingSecret, .jwksKey, .issuer, .subject, .header, .verify: 1...2
        case .verifyClaimSet: 2...2
        case .verifyRequireClaim: 2...Int.max
        case .claim: 2...Int.max
        case .wso2Claims, .audience, .cache, .verifyAlgorithms, .verifyIssuer, .verifyAudience, .verifyRequire,
            .copyClaims:
            1...Int.max
        default: 1...1
        }
    }
}

/// What the location a directive stands in already has as its content handler.
public enum ContentHandler: Int32, Sendable {
    case none = 0
    case jwks = 1
    case other = 2
    /// `backend_jwt_verify_answer`: 204 once the token verified.
    case answer = 3
}

extension LevelSettings {
    /// Applies one directive, as nginx hands it over: its name, its arguments (after the name)
    /// and where it stands. Values are added to `config` as templates. Returns whether the
    /// location now has a content handler of the module's (`.jwks`, `.answer`; the module then
    /// makes it the location's), or `.none`. Errors
    /// read as nginx's own: `"name" directive is duplicate`, `"name" directive: <why>`.
    public func apply(
        _ name: String, _ args: [[UInt8]], at place: Where, in config: Configuration,
        contentHandler: ContentHandler = .none
    ) throws(BackendJWTError) -> ContentHandler {
        guard let directive = Directive(rawValue: name) else {
            throw BackendJWTError(.config, "unknown directive \(quoted(name))")
        }
        guard directive.arguments.contains(args.count) else {
            throw BackendJWTError(.config, "invalid number of arguments in \"\(name)\" directive")
        }
        if own[directive] == nil { own[directive] = place }
        do {
            try apply(directive, args, at: place, in: config, contentHandler: contentHandler)
        } catch let error where error.kind == .duplicate {
            throw BackendJWTError(.config, "\"\(name)\" directive is duplicate\(error.message)")
        } catch let error where error.kind == .nginx {
            throw BackendJWTError(.config, error.message)
        } catch {
            throw BackendJWTError(error.kind, "\"\(name)\" directive: \(error.message)")
        }
        return directive == .jwks ? .jwks : directive == .verifyAnswer ? .answer : .none
    }

    private func apply(
        _ directive: Directive, _ args: [[UInt8]], at place: Where, in config: Configuration,
        contentHandler: ContentHandler
    ) throws(BackendJWTError) {
        let first = args.first ?? []
        let option = args.count > 1 ? args[1] : nil
        switch directive {
        case .enable: enabled.set(try flag(enabled, directive, first), at: place)
        case .enforce: enforce.set(try flag(enforce, directive, first), at: place)
        case .jti: jti.set(try flag(jti, directive, first), at: place)
        case .signingKey, .signingSecret:
            try unique(key, " (a level signs with one key or secret)")
            let path = config.fullPath(first)
            if directive == .signingSecret {
                let encoding = try option.map { (o) throws(BackendJWTError) in try SecretEncoding.parseOption(o) } ?? .raw
                key.set(try SigningKey(secretPath: path, encoding: encoding), at: place)
            } else {
                let password = try option.map { (o) throws(BackendJWTError) in
                    try KeyOptions.passwordFile(o, prefix: config.prefix)
                }
                key.set(try SigningKey(path: path, passwordFile: password), at: place)
            }
        case .certificate:
            try unique(certificate)
            certificate.set(try Certificate(path: config.fullPath(first)), at: place)
        case .keyID:
            try unique(keyID)
            if first.equalsIgnoringCase("off") {
                keyID.set(.off, at: place)
            } else {
                try KeyOptions.checkKeyID(first)
                keyID.set(.custom(first), at: place)
            }
        case .jwks:
            guard !servesJWKS else { throw BackendJWTError(.duplicate, "") }
            guard contentHandler == .none else {
                throw BackendJWTError(
                    .nginx, "\"\(directive.rawValue)\" directive cannot share a location with another content "
                        + "handler (proxy_pass, fastcgi_pass, ...)")
            }
            servesJWKS = true
        case .verifyAnswer:
            guard !answersVerified else { throw BackendJWTError(.duplicate, "") }
            guard contentHandler == .none else {
                throw BackendJWTError(
                    .nginx, "\"\(directive.rawValue)\" directive cannot share a location with another content "
                        + "handler (proxy_pass, fastcgi_pass, ...)")
            }
            answersVerified = true
        case .jwksKey:
            let algorithm = try option.map { (o) throws(BackendJWTError) in try KeyOptions.algorithm(o) }
            try config.jwks.add(key: SigningKey(publicPath: config.fullPath(first)), algorithm: algorithm)
        case .algorithm:
            try unique(algorithm)
            algorithm.set(try SigningAlgorithm.parse(first), at: place)
        case .encoding:
            try unique(encoding)
            encoding.set(try TokenEncoding.parse(first), at: place)
        case .ttl:
            try unique(ttl)
            ttl.set(try TokenTTL.parse(first), at: place)
        case .header:
            try unique(header)
            if first.equalsIgnoringCase("off") {
                guard option == nil else { throw BackendJWTError(.config, "\"off\" takes no scheme") }
                header.set([], at: place)  // no header: the token only in $backend_jwt
            } else {
                try HeaderName.check(first)
                header.set(first, at: place)
            }
            headerScheme.set(try HeaderName.scheme(option, header: first), at: place)
        case .issuer, .subject:
            let setting = directive == .issuer ? issuer : subject
            try unique(setting)
            let required = try option.map { (o) throws(BackendJWTError) in try Signer.RequiredClaims.parseIfEmpty(o) }
            let value = RegisteredValue(templates: [config.template(first)], required: required ?? false)
            if directive == .issuer { issuer.set(value, at: place) } else { subject.set(value, at: place) }
        case .audience:
            try unique(audience, " (give every audience in one directive)")
            var values = args
            var required = false
            // a last argument if_empty=... is the option, not an audience
            if values.count > 1, let last = values.last, last.starts(with: Array("if_empty=".utf8)), last.count > 9 {
                required = try Signer.RequiredClaims.parseIfEmpty(values.removeLast())
            }
            audience.set(RegisteredValue(templates: values.map { config.template($0) }, required: required), at: place)
        case .notBefore:
            try unique(notBefore)
            notBefore.set(try TokenTTL.parseNotBefore(first), at: place)
        case .maxSize:
            try unique(maxSize)
            guard let size = Self.size(first) else { throw BackendJWTError(.nginx, "\"\(directive.rawValue)\" directive invalid value") }
            guard size > 0 else {
                throw BackendJWTError(
                    .nginx, "\"\(directive.rawValue)\" directive must be more than 0 (it is the longest token sent)")
            }
            maxSize.set(size, at: place)
        case .cache:
            try unique(cache)
            cache.set(try TokenCache.parse(args), at: place)
        case .claim:
            var declared = claims.value ?? DeclaredClaims()
            declared.list = ClaimList(copying: declared.list)  // all or nothing: a refused claim is not kept
            try declared.list.add(name: first, options: Array(args.dropFirst(2)))
            try declare(&declared, value: args[1], at: place, in: config)
            claims.set(declared, at: claims.place ?? place)
        case .verify, .verifyKey, .verifyAlgorithms, .verifyIssuer, .verifyAudience, .verifyLeeway, .verifyRequire,
            .verifyForward, .copyClaims, .callerExp, .verifyJWKS, .verifyJWKSCache, .verifyJWKSRefresh, .verifyJWKSWait,
            .verifyJWKSZone, .verifyCache, .verifyRequireClaim, .verifyClaimSet, .verifyRealm:
            try applyVerify(directive, args, at: place, in: config)
        case .wso2Claims:
            var declared = claims.value ?? DeclaredClaims()
            declared.list = ClaimList(copying: declared.list)
            let before = declared.list.claims.count
            try WSO2Claims.add(to: declared.list, options: args)
            // the recipe gives each claim's value as text that may hold variables
            for claim in declared.list.claims[before...] {
                try declare(&declared, value: claim.template ?? [], at: place, in: config)
            }
            claims.set(declared, at: claims.place ?? place)
        }
    }

    /// Records the value of the claim just declared; a constant one (no variable: nginx's rule
    /// is no `$`) that could never make a token fails here rather than in every request.
    private func declare(_ declared: inout DeclaredClaims, value: [UInt8], at place: Where, in config: Configuration)
        throws(BackendJWTError)
    {
        if !value.contains(UInt8(ascii: "$")) {
            try declared.list.claims[declared.list.claims.count - 1].checkConstant(value)
        }
        declared.templates.append(config.template(value))
        declared.places.append(place)
    }

    func unique<Value>(_ setting: Setting<Value>, _ why: String = "") throws(BackendJWTError) {
        guard setting.value == nil else { throw BackendJWTError(.duplicate, why) }
    }

    /// nginx's `on | off` directives, with nginx's own messages.
    func flag(_ setting: Setting<Bool>, _ directive: Directive, _ value: [UInt8]) throws(BackendJWTError) -> Bool {
        try unique(setting)
        if value.equalsIgnoringCase("on") { return true }
        if value.equalsIgnoringCase("off") { return false }
        throw BackendJWTError(
            .nginx,
            "invalid value \"\(String(decoding: value, as: UTF8.self))\" in \"\(directive.rawValue)\" directive, it must be \"on\" or \"off\"")
    }

    /// nginx's size syntax (`ngx_parse_size`): a number, optionally with `k` or `m`.
    static func size(_ text: [UInt8]) -> Int? {
        var digits = text
        var scale = 1
        switch digits.last {
        case UInt8(ascii: "k"), UInt8(ascii: "K"): scale = 1024
        case UInt8(ascii: "m"), UInt8(ascii: "M"): scale = 1024 * 1024
        default: break
        }
        if scale > 1 { digits.removeLast() }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let n = Int(String(decoding: digits, as: UTF8.self))
        else { return nil }
        let (size, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : size
    }
}
