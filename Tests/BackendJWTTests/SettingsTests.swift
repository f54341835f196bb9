import BackendJWT
import Testing

/// The settings model without nginx: directives applied by name to levels, levels merged as nginx
/// merges them (http → server → location → if), every rule the C merge had before.
struct Levels {
    let config = Configuration(prefix: Array("/etc/nginx/".utf8))
    let http = LevelSettings()
    var line = 0

    /// Applies `directive args...` to `level`, at the next line of "nginx.conf".
    @discardableResult
    mutating func apply(_ level: LevelSettings, _ text: String, handler: ContentHandler = .none) throws(BackendJWTError)
        -> Where
    {
        line += 1
        let words = text.split(separator: " ").map { Array($0.utf8) }
        let place = Where(file: "nginx.conf", line: line)
        _ = try level.apply(String(decoding: words[0], as: UTF8.self), Array(words.dropFirst()), at: place, in: config,
                            contentHandler: handler)
        return place
    }

    func merge(_ parent: LevelSettings, _ child: LevelSettings, _ facts: LevelFacts = LevelFacts()) throws(BackendJWTError) {
        try LevelSettings.merge(parent, into: child, facts: facts, config: config)
    }

    /// A server under `http` and a location under it, merged.
    func chain(_ server: LevelSettings, _ location: LevelSettings, _ facts: LevelFacts = LevelFacts())
        throws(BackendJWTError)
    {
        try merge(http, server)
        try merge(server, location, facts)
    }
}

let rsaKey = Fixture.path("rsa2048-pkcs8.pem")
let otherRSAKey = Fixture.path("rsa4096-pkcs8.pem")

@Suite("Settings: defaults and inheritance")
struct SettingsInheritanceTests {
    @Test("a level no directive reaches gets every default")
    func defaults() throws {
        let levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.chain(server, location)
        #expect(location.enabled.value == false)
        #expect(location.algorithm.value == .rs256)
        #expect(location.encoding.value == .base64url)
        #expect(location.ttl.value == 3600)
        #expect(location.header.value == Array("X-JWT-Assertion".utf8))
        #expect(location.keyID.value == .thumbprint)
        #expect(location.jti.value == true)
        #expect(location.notBefore.value == .some(nil))
        #expect(location.maxSize.value == 8192)
        #expect(location.enforce.value == false)
        #expect(location.cache.value.map { $0 == nil } == true)
        #expect(location.key.value == nil && location.issuer.value == nil && location.claims.value == nil)
        #expect(location.signer == nil)
    }

    @Test("a level that sets nothing inherits the value and the place that set it")
    func inherits() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        let ttl = try levels.apply(levels.http, "backend_jwt_token_ttl 90")
        let on = try levels.apply(server, "backend_jwt on")
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        try levels.chain(server, location)
        #expect(location.ttl.value == 90 && location.ttl.place == ttl)
        #expect(location.enabled.value == true && location.enabled.place == on)
        #expect(location.signer != nil)
    }

    @Test("a level's own setting wins over the enclosing one")
    func ownWins() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt_encoding base64")
        try levels.apply(location, "backend_jwt_encoding base64url")
        try levels.apply(server, "backend_jwt_not_before 30s")
        try levels.apply(location, "backend_jwt_not_before off")
        try levels.chain(server, location)
        #expect(server.encoding.value == .base64 && location.encoding.value == .base64url)
        #expect(server.notBefore.value == .some(30) && location.notBefore.value == .some(nil))
    }

    @Test("claims: a level that declares any replaces the inherited list")
    func claimsReplace() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings(), other = LevelSettings()
        try levels.apply(server, "backend_jwt_claim a $arg_a")
        try levels.apply(server, "backend_jwt_claim b $arg_b")
        try levels.apply(location, "backend_jwt_claim c $arg_c")
        try levels.chain(server, location)
        try levels.merge(server, other)
        #expect(location.claims.value?.list.claims.map(\.name) == ["c"])
        #expect(other.claims.value?.list.claims.map(\.name) == ["a", "b"])
        #expect(levels.config.templates.map { String(decoding: $0, as: UTF8.self) } == ["$arg_a", "$arg_b", "$arg_c"])
        #expect(location.valueTemplates == [nil, nil, 2])
        #expect(other.valueTemplates == [nil, nil, 0, 1])
    }

    @Test("values reach the signer in its order: issuer, subject, audiences, claims")
    func valueOrder() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(location, "backend_jwt_claim c $arg_c")
        try levels.apply(location, "backend_jwt_audience $arg_a1 $arg_a2")
        try levels.apply(server, "backend_jwt_subject $remote_user")
        try levels.apply(levels.http, "backend_jwt_issuer https://gw")
        try levels.chain(server, location)
        let texts = location.valueTemplates.map { $0.map { String(decoding: levels.config.templates[$0], as: UTF8.self) } }
        #expect(texts == ["https://gw", "$remote_user", "$arg_a1", "$arg_a2", "$arg_c"])
    }

    @Test("if_empty goes with the value it is given with")
    func requiredFollowsItsValue() throws {
        var levels = Levels()
        let server = LevelSettings(), inherits = LevelSettings(), own = LevelSettings()
        try levels.apply(server, "backend_jwt_subject $remote_user if_empty=fail")
        try levels.apply(own, "backend_jwt_subject $http_x_user")
        try levels.chain(server, inherits)
        try levels.merge(server, own)
        #expect(inherits.subject.value?.required == true)
        #expect(own.subject.value?.required == false)
    }

    @Test("an if block is part of its location: one origin, one signer")
    func ifBlockSharesTheLocation() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings(), ifBlock = LevelSettings()
        try levels.apply(location, "backend_jwt on")
        try levels.apply(location, "backend_jwt_signing_key \(rsaKey)")
        try levels.chain(server, location)
        try levels.merge(location, ifBlock, LevelFacts(isBlockInLocation: true))
        #expect(ifBlock.origin === location)
        #expect(location.origin == nil)  // its own origin
        #expect(ifBlock.signer === location.signer)
        let nested = LevelSettings()
        try levels.merge(location, nested)
        #expect(nested.origin == nil)  // a nested location mints its own token
    }
}

@Suite("Settings: signers")
struct SettingsSignerTests {
    @Test("a level that changes nothing that signs shares its parent's signer")
    func sharesSigner() throws {
        var levels = Levels()
        let server = LevelSettings(), same = LevelSettings(), header = LevelSettings(), ttl = LevelSettings()
        let claims = LevelSettings()
        try levels.apply(server, "backend_jwt on")
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        try levels.apply(header, "backend_jwt_header X-Other")  // not part of the token
        try levels.apply(ttl, "backend_jwt_token_ttl 60")
        try levels.apply(claims, "backend_jwt_claim a 1")
        try levels.merge(levels.http, server)
        for level in [same, header, ttl, claims] { try levels.merge(server, level) }
        #expect(same.signer === server.signer)
        #expect(header.signer === server.signer)
        #expect(ttl.signer !== server.signer && ttl.signer?.ttl == 60)
        #expect(claims.signer !== server.signer && claims.signer?.claims.map(\.name) == ["a"])
    }

    @Test("a disabled level has no signer, and a level under it builds its own")
    func disabledHasNoSigner() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        try levels.apply(location, "backend_jwt on")
        try levels.chain(server, location)
        #expect(server.signer == nil && location.signer != nil)
        #expect(levels.config.jwks.json().count > 100)
    }

    @Test("no key: the error points at backend_jwt on")
    func noKeyPointsAtOn() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        let on = try levels.apply(location, "backend_jwt on")
        let error = #expect(throws: BackendJWTError.self) { try levels.chain(server, location) }
        #expect(error?.message == "backend_jwt: no signing key: RS256 needs backend_jwt_signing_key in \(on)")
    }

    @Test("a key that cannot sign the algorithm: the error points at the key")
    func wrongKeyPointsAtKey() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        let key = try levels.apply(levels.http, "backend_jwt_signing_key \(Fixture.path("ec-p256.pem"))")
        try levels.apply(location, "backend_jwt on")
        let error = #expect(throws: BackendJWTError.self) { try levels.chain(server, location) }
        #expect(error?.message.hasPrefix("backend_jwt: key file ") == true)
        #expect(error?.message.hasSuffix("cannot sign RS256; RS256 needs an RSA key in \(key)") == true)
    }

    @Test("a certificate not for the key: the error points at the certificate")
    func wrongCertificatePointsAtCertificate() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        let certificate = try levels.apply(server, "backend_jwt_certificate \(Fixture.path("certificate-ec-p256.pem"))")
        try levels.apply(location, "backend_jwt on")
        let error = #expect(throws: BackendJWTError.self) { try levels.chain(server, location) }
        #expect(error?.message.hasSuffix(" in \(certificate)") == true)
    }

    @Test("backend_jwt_max_size below the shortest token fails at the max_size line, inherited or not")
    func maxSizeBelowShortestToken() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        let size = try levels.apply(levels.http, "backend_jwt_max_size 300")
        try levels.apply(location, "backend_jwt on")
        try levels.apply(location, "backend_jwt_signing_key \(rsaKey)")
        let error = #expect(throws: BackendJWTError.self) { try levels.chain(server, location) }
        #expect(error?.message.hasPrefix("backend_jwt: backend_jwt_max_size 300 is less than the shortest token") == true)
        #expect(error?.message.hasSuffix(" in \(size)") == true)
    }
}

@Suite("Settings: backend_jwt_enforce")
struct SettingsEnforceTests {
    @Test(
        "a level below an enforcing one may set nothing but claims",
        arguments: [
            "backend_jwt off", "backend_jwt_signing_algorithm ES256", "backend_jwt_header X-Other",
            "backend_jwt_token_ttl 60", "backend_jwt_issuer x", "backend_jwt_max_size 16k", "backend_jwt_cache off",
            "backend_jwt_key_id off", "backend_jwt_not_before on", "backend_jwt_jti off", "backend_jwt_enforce off",
        ])
    func violations(directive: String) throws {
        var levels = Levels()
        let server = LevelSettings()
        let enforce = try levels.apply(levels.http, "backend_jwt_enforce on")
        let own = try levels.apply(server, directive)
        let error = #expect(throws: BackendJWTError.self) { try levels.merge(levels.http, server) }
        let name = directive.split(separator: " ")[0]
        #expect(
            error?.message
                == "\"\(name)\" cannot be set here: \"backend_jwt_enforce on\" in \(enforce) keeps the enclosing level's "
                + "settings (only claims can be added) in \(own)")
    }

    @Test("the first directive in the command table's order is the one reported")
    func firstInTableOrder() throws {
        var levels = Levels()
        let server = LevelSettings()
        try levels.apply(levels.http, "backend_jwt_enforce on")
        try levels.apply(server, "backend_jwt_token_ttl 60")
        let encoding = try levels.apply(server, "backend_jwt_encoding base64")
        let error = #expect(throws: BackendJWTError.self) { try levels.merge(levels.http, server) }
        #expect(error?.message.hasPrefix("\"backend_jwt_encoding\" cannot be set here") == true)
        #expect(error?.message.hasSuffix(" in \(encoding)") == true)
    }

    @Test("enforce holds for every level below, not only the next")
    func inheritedEnforce() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(levels.http, "backend_jwt_enforce on")
        try levels.apply(location, "backend_jwt_jti off")
        try levels.merge(levels.http, server)
        #expect(throws: BackendJWTError.self) { try levels.merge(server, location) }
    }

    @Test("claims below an enforcing level are added after the enforced ones")
    func claimsAppend() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(levels.http, "backend_jwt_enforce on")
        try levels.apply(levels.http, "backend_jwt_claim tenant acme")
        try levels.apply(location, "backend_jwt_claim user $remote_user")
        try levels.apply(location, "backend_jwt_jwks", handler: .none)
        try levels.chain(server, location, LevelFacts(contentHandler: .jwks))
        #expect(location.claims.value?.list.claims.map(\.name) == ["tenant", "user"])
        #expect(location.valueTemplates == [nil, nil, 0, 1])
    }

    @Test("a claim below that reuses an enforced name fails at its own line")
    func claimCollision() throws {
        var levels = Levels()
        let server = LevelSettings()
        try levels.apply(levels.http, "backend_jwt_enforce on")
        try levels.apply(levels.http, "backend_jwt_claim tenant acme")
        try levels.apply(server, "backend_jwt_claim other 1")
        let own = try levels.apply(server, "backend_jwt_claim tenant evil")
        let error = #expect(throws: BackendJWTError.self) { try levels.merge(levels.http, server) }
        #expect(
            error?.message == "backend_jwt: claim \"tenant\" is declared twice, which backend_jwt_enforce keeps in \(own)")
    }

    @Test("*_pass_request_headers off under enforce fails; without enforce, or with no header, it is the operator's choice")
    func droppedHeaders() throws {
        for (enforce, header, fails) in [(true, "X-JWT-Assertion", true), (false, "X-JWT-Assertion", false), (true, "off", false)] {
            var levels = Levels()
            let server = LevelSettings(), location = LevelSettings()
            let place = try levels.apply(levels.http, "backend_jwt_enforce \(enforce ? "on" : "off")")
            try levels.apply(levels.http, "backend_jwt on")
            try levels.apply(levels.http, "backend_jwt_signing_key \(rsaKey)")
            try levels.apply(levels.http, "backend_jwt_header \(header)")
            let facts = LevelFacts(location: "/api/", droppedHeaders: "proxy_pass_request_headers")
            if fails {
                let error = #expect(throws: BackendJWTError.self) { try levels.chain(server, location, facts) }
                #expect(
                    error?.message == "backend_jwt: \"proxy_pass_request_headers off\" in location \"/api/\" would not "
                        + "send the token that \"backend_jwt_enforce on\" requires in \(place)")
            } else {
                try levels.chain(server, location, facts)
            }
        }
    }
}

@Suite("Settings: JWKS locations")
struct SettingsJWKSTests {
    @Test("a JWKS location never mints, even under an enabled level")
    func neverMints() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt on")
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        #expect(try location.apply("backend_jwt_jwks", [], at: Where(file: "f", line: 1), in: levels.config) == .jwks)
        try levels.chain(server, location, LevelFacts(contentHandler: .jwks))
        #expect(location.enabled.value == false && location.signer == nil)
    }

    @Test("backend_jwt on beside backend_jwt_jwks fails at its line")
    func explicitOn() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(location, "backend_jwt_jwks")
        let on = try levels.apply(location, "backend_jwt on")
        let error = #expect(throws: BackendJWTError.self) {
            try levels.chain(server, location, LevelFacts(contentHandler: .jwks))
        }
        #expect(
            error?.message == "\"backend_jwt on\" in a location that serves the JWK Set (backend_jwt_jwks): it never "
                + "mints a token, remove it in \(on)")
    }

    @Test("another content handler, before or after")
    func otherHandler() throws {
        var levels = Levels()
        let before = LevelSettings(), after = LevelSettings()
        let error = #expect(throws: BackendJWTError.self) {
            try levels.apply(before, "backend_jwt_jwks", handler: .other)
        }
        #expect(
            error?.message == "\"backend_jwt_jwks\" directive cannot share a location with another content handler "
                + "(proxy_pass, fastcgi_pass, ...)")
        let place = try levels.apply(after, "backend_jwt_jwks")
        let late = #expect(throws: BackendJWTError.self) {
            try levels.merge(levels.http, after, LevelFacts(contentHandler: .other))
        }
        #expect(late?.message.hasSuffix("(proxy_pass, fastcgi_pass, ...) in \(place)") == true)
    }
}

@Suite("Settings: directives by name")
struct SettingsDirectiveTests {
    @Test("nginx's own wording for duplicates and flags")
    func nginxWording() throws {
        var levels = Levels()
        let level = LevelSettings()
        try levels.apply(level, "backend_jwt_jti on")
        let duplicate = #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_jti off") }
        #expect(duplicate?.message == "\"backend_jwt_jti\" directive is duplicate")
        let flag = #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt sometimes") }
        #expect(flag?.message == "invalid value \"sometimes\" in \"backend_jwt\" directive, it must be \"on\" or \"off\"")
        let size = #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_max_size 8q") }
        #expect(size?.message == "\"backend_jwt_max_size\" directive invalid value")
        let parsed = #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_encoding base32") }
        #expect(parsed?.message.hasPrefix("\"backend_jwt_encoding\" directive: ") == true)
        try levels.apply(level, "backend_jwt_signing_key \(rsaKey)")
        let key = #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_signing_secret \(rsaKey)") }
        #expect(key?.message == "\"backend_jwt_signing_secret\" directive is duplicate (a level signs with one key or secret)")
    }

    @Test("sizes as nginx reads them", arguments: [("8k", 8192), ("1m", 1 << 20), ("300", 300), ("16K", 16384)])
    func sizes(text: String, size: Int) throws {
        var levels = Levels()
        let level = LevelSettings()
        try levels.apply(level, "backend_jwt_max_size \(text)")
        #expect(level.maxSize.value == size)
    }

    @Test("relative key files are taken from nginx's configuration prefix")
    func relativePaths() throws {
        let config = Configuration(prefix: Array((Fixture.directory + "/").utf8))
        let level = LevelSettings()
        _ = try level.apply("backend_jwt_signing_key", [Array("rsa2048-pkcs8.pem".utf8)], at: Where(file: "f", line: 1),
                            in: config)
        #expect(level.key.value?.path == Fixture.path("rsa2048-pkcs8.pem"))
    }

    @Test("an unknown name is refused")
    func unknown() {
        let level = LevelSettings()
        #expect(throws: BackendJWTError.self) {
            try level.apply("backend_jwt_nonsense", [], at: Where(file: "f", line: 1), in: Configuration(prefix: []))
        }
    }

    @Test("backend_jwt_header off: no header name at all")
    func headerOff() throws {
        var levels = Levels()
        let level = LevelSettings()
        try levels.apply(level, "backend_jwt_header off")
        #expect(level.header.value == [])
    }

    @Test("a refused claim leaves the level's claims as they were")
    func refusedClaimIsNotKept() throws {
        var levels = Levels()
        let level = LevelSettings()
        try levels.apply(level, "backend_jwt_claim a $a")
        #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_claim n x type=int") }
        #expect(throws: BackendJWTError.self) { try levels.apply(level, "backend_jwt_wso2_claims apiname=A version=1 bogus=1") }
        #expect(level.claims.value?.list.claims.map(\.name) == ["a"])
        #expect(level.claims.value?.templates.count == 1)
    }

    @Test("argument counts are checked by the core too, in nginx's words")
    func argumentCounts() throws {
        let level = LevelSettings()
        let config = Configuration(prefix: [])
        for (name, count) in [("backend_jwt_claim", 1), ("backend_jwt", 2), ("backend_jwt_jwks", 1), ("backend_jwt_audience", 0)] {
            let error = #expect(throws: BackendJWTError.self) {
                try level.apply(name, Array(repeating: Array("x".utf8), count: count), at: Where(file: "f", line: 1), in: config)
            }
            #expect(error?.message == "invalid number of arguments in \"\(name)\" directive")
        }
    }
}
