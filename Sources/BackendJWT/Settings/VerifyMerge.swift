/// What decides a verifier: two levels with equal parameters share one.
struct VerifierParameters: Equatable {
    var keys: [ObjectIdentifier]
    var algorithms: [SigningAlgorithm]?
    var issuers: [[UInt8]]
    var audiences: [[UInt8]]
    var leeway: Int64
    /// The fetched set, by its URI (one set per URI in a configuration), and its settings.
    var jwksURI: [UInt8]?
    var jwksCache: Int64?
    var jwksRefresh: Int64
    var cacheSize: Int?
}

/// The settings a level gives a fetched JWK Set, and where: every level that verifies with one
/// URI shares its set, so they must agree.
struct RemoteKeySetSettings {
    var freshFor: Int64?
    var refresh: Int64
    /// The `backend_jwt_verify_jwks`, `_cache` and `_refresh` directives they come from.
    var uriPlace: Where?
    var freshForPlace: Where?
    var refreshPlace: Where?
}

extension Configuration {
    /// The fetched JWK Set of `uri`: one per URI in this configuration (one http block), so
    /// every verifier that names the URI shares it: one fetch and one key set per worker.
    public func remoteKeySet(uri: [UInt8]) -> RemoteKeySet {
        if let known = remoteKeySets[uri] { return known.set }
        let set = RemoteKeySet(uri: uri)
        remoteKeySets[uri] = (set, nil)
        return set
    }

    /// The set of `uri` with a level's settings: the first level to use it gives them, and every
    /// later one must give the same (the error points at the directive that differs).
    func remoteKeySet(uri: [UInt8], settings: RemoteKeySetSettings) throws(BackendJWTError) -> RemoteKeySet {
        let set = remoteKeySet(uri: uri)
        guard let first = remoteKeySets[uri]?.settings else {
            set.freshFor = settings.freshFor
            set.refresh = settings.refresh
            remoteKeySets[uri] = (set, settings)
            return set
        }
        let conflict: (name: String, mine: String, theirs: String, myPlace: Where?, theirPlace: Where?)
        if first.freshFor != settings.freshFor {
            func shown(_ seconds: Int64?) -> String { seconds.map { "\($0)s" } ?? "the response's Cache-Control" }
            conflict = (
                "backend_jwt_verify_jwks_cache", shown(settings.freshFor), shown(first.freshFor),
                settings.freshForPlace ?? settings.uriPlace, first.freshForPlace ?? first.uriPlace
            )
        } else if first.refresh != settings.refresh {
            conflict = (
                "backend_jwt_verify_jwks_refresh", "\(settings.refresh)s", "\(first.refresh)s",
                settings.refreshPlace ?? settings.uriPlace, first.refreshPlace ?? first.uriPlace
            )
        } else {
            return set
        }
        throw BackendJWTError(
            .config,
            "backend_jwt: \(conflict.name) \(conflict.mine) conflicts with \(conflict.theirs)\(at(conflict.theirPlace)) "
                + "for the same JWK Set \(quoted(uri, limit: 256)): a URI is one key set per worker, so every level "
                + "that verifies with it needs the same value (set it where they all inherit it)"
                + at(conflict.myPlace))
    }
}

/// The merge of the caller's token settings (Merge.swift calls these in order).
extension LevelSettings {
    func inheritVerify(_ parent: LevelSettings) {
        verify.inherit(parent.verify, default: false)
        verifyToken.inherit(parent.verifyToken, default: nil)
        verifyKeys.inherit(parent.verifyKeys)
        verifyAlgorithms.inherit(parent.verifyAlgorithms)
        verifyIssuers.inherit(parent.verifyIssuers, default: [])
        verifyAudiences.inherit(parent.verifyAudiences, default: [])
        verifyLeeway.inherit(parent.verifyLeeway, default: 0)
        verifyRequire.inherit(parent.verifyRequire, default: [])
        verifyRequireClaims.inherit(parent.verifyRequireClaims, default: [])
        verifyRealm.inherit(parent.verifyRealm, default: [])
        verifyForward.inherit(parent.verifyForward, default: false)
        copies.inherit(parent.copies, default: nil)
        capToCaller.inherit(parent.capToCaller, default: true)
        verifyJWKS.inherit(parent.verifyJWKS, default: nil)
        verifyJWKSCache.inherit(parent.verifyJWKSCache)  // unset: from Cache-Control
        verifyJWKSRefresh.inherit(parent.verifyJWKSRefresh, default: RemoteKeySet.defaultRefresh)
        verifyJWKSWait.inherit(parent.verifyJWKSWait, default: RemoteKeySet.defaultWait)
        verifyCache.inherit(parent.verifyCache, default: nil)
    }

    /// The rules a verified caller must meet here (`merge` keeps them in `rules`).
    func makeRules(config: Configuration) {
        let rules = ClaimRules(
            require: verifyRequire.value ?? [], claims: verifyRequireClaims.value ?? [], config: config)
        self.rules = verify.value == true && !rules.isEmpty ? rules : nil
    }

    /// RFC 6750's `WWW-Authenticate` of a refusal, by `BJWT_CHALLENGE_*`: no token, an invalid
    /// one, one that lacks what a rule requires; with `realm` first where one is set (RFC 6750
    /// section 3: a quoted-string, `"` and `\` escaped).
    public var challenges: [[UInt8]] {
        var scheme = Array("Bearer".utf8)
        if let realm = verifyRealm.value, !realm.isEmpty {
            scheme += Array(" realm=\"".utf8)
            for byte in realm {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { scheme.append(UInt8(ascii: "\\")) }
                scheme.append(byte)
            }
            scheme.append(UInt8(ascii: "\""))
        }
        let separator = scheme.count > 6 ? Array(", ".utf8) : Array(" ".utf8)
        return [
            scheme, scheme + separator + Array("error=\"invalid_token\"".utf8),
            scheme + separator + Array("error=\"insufficient_scope\"".utf8),
        ]
    }

    var verifierParameters: VerifierParameters {
        VerifierParameters(
            keys: (verifyKeys.value ?? []).map(ObjectIdentifier.init), algorithms: verifyAlgorithms.value,
            issuers: verifyIssuers.value ?? [], audiences: verifyAudiences.value ?? [], leeway: verifyLeeway.value ?? 0,
            jwksURI: verifyJWKS.value ?? nil, jwksCache: verifyJWKSCache.value,
            jwksRefresh: verifyJWKSRefresh.value ?? RemoteKeySet.defaultRefresh, cacheSize: verifyCache.value ?? nil)
    }

    /// The verifier of a level with `backend_jwt_verify on`: the enclosing level's when nothing
    /// that verifies differs. Its keys are the key files' and those of the fetched set, which it
    /// shares with every verifier of the same URI. An error names the directive it is about.
    func makeVerifier(sharingWith parent: LevelSettings, config: Configuration) throws(BackendJWTError) {
        guard verify.value == true else { return }
        let keys = verifyKeys.value ?? []
        let parameters = verifierParameters
        guard !keys.isEmpty || parameters.jwksURI != nil else {
            throw BackendJWTError(
                .config,
                "\"backend_jwt_verify on\" needs a key: add backend_jwt_verify_key or backend_jwt_verify_jwks"
                    + at(verify.place))
        }
        if let shared = parent.verifier, parent.verifierParameters == parameters {
            verifier = shared
            return
        }
        let remote = try parameters.jwksURI.map { (uri) throws(BackendJWTError) in
            try config.remoteKeySet(
                uri: uri,
                settings: RemoteKeySetSettings(
                    freshFor: parameters.jwksCache, refresh: parameters.jwksRefresh, uriPlace: verifyJWKS.place,
                    freshForPlace: verifyJWKSCache.place, refreshPlace: verifyJWKSRefresh.place))
        }
        do {
            verifier = try JWSVerifier(
                keys: keys, algorithms: parameters.algorithms, issuers: parameters.issuers,
                audiences: parameters.audiences, leeway: parameters.leeway, remote: remote,
                cacheSize: parameters.cacheSize)
            verifier?.cache?.metrics = config.metrics
        } catch {
            let place = verifyAlgorithms.place ?? verifyKeys.place ?? verifyJWKS.place
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(place))")
        }
    }

    /// A location that sets a `backend_jwt_verify_*` directive but does not verify: the directive
    /// can never take effect, and a `_verify_require` or `_verify_key` written where `backend_jwt_verify
    /// on` was forgotten would leave the location open while it looks protected. (A server or http
    /// level may hold such settings for the locations below it.)
    func checkVerifySettingsUsed(_ facts: LevelFacts) throws(BackendJWTError) {
        guard !facts.location.isEmpty, verify.value != true,
            let directive = Directive.allCases.first(where: { $0.isVerifySetting && own[$0] != nil })
        else { return }
        throw BackendJWTError(
            .config,
            "\"\(directive.rawValue)\" has no effect: \"backend_jwt_verify\" is off in location \"\(facts.location)\" "
                + "(turn it on there or above, or remove the directive)\(at(own[directive]))")
    }

    /// Claims copied from the caller's token need one: where a level mints, copies without
    /// verification could never copy anything, and a copy may not collide with a declared claim.
    /// A location that turns verification off names itself and its line.
    func checkCopies(_ facts: LevelFacts) throws(BackendJWTError) {
        guard let copies = copies.value ?? nil else { return }
        guard verify.value == true else {
            // reported where this level made it so: its `backend_jwt_verify off` or `backend_jwt on`
            let cause = own[.copyClaims] == nil ? own[.verify] ?? own[.enable] : nil
            let copy = cause == nil || facts.location.isEmpty ? "" : " (\(at(self.copies.place).dropFirst()))"
            let here = cause == nil || facts.location.isEmpty ? "" : " in location \"\(facts.location)\""
            throw BackendJWTError(
                .config,
                "\"backend_jwt_copy_claims\"\(copy) needs \"backend_jwt_verify on\" where \"backend_jwt on\" is\(here): "
                    + "without a verified token there is nothing to copy\(at(cause ?? self.copies.place))")
        }
        do {
            try copies.checkConflicts(with: claims.value?.list.claims ?? [])
        } catch {
            throw BackendJWTError(error.kind, "backend_jwt: \(error.message)\(at(self.copies.place))")
        }
    }

    /// `backend_jwt_verify_answer` answers for the verification: it shares its location with no
    /// other content handler.
    func checkAnswer(_ facts: LevelFacts) throws(BackendJWTError) {
        guard answersVerified, facts.contentHandler != .answer else { return }
        throw BackendJWTError(
            .config,
            "\"backend_jwt_verify_answer\" cannot share a location with another content handler (proxy_pass, "
                + "fastcgi_pass, ...)\(at(own[.verifyAnswer]))")
    }
}
