import BackendJWT
import Testing

/// The settings of the caller's token without nginx: `backend_jwt_verify*`,
/// `backend_jwt_caller_exp`, the header's scheme; their defaults, inheritance, verifier sharing
/// and the errors `nginx -t` shows.
@Suite("Settings: the caller's token")
struct VerifySettingsTests {
    let rsaPublic = Fixture.path("rsa2048-public.pem")
    let ecPublic = Fixture.path("ec-p256-public.pem")

    /// The message of the error `body` throws ("" when it throws none).
    func failure(_ body: () throws(BackendJWTError) -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return error.message
        }
    }

    @Test("defaults: no verification, Authorization not forwarded, exp capped, no scheme")
    func defaults() throws {
        let levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.chain(server, location)
        #expect(location.verify.value == false && location.verifier == nil)
        #expect(location.verifyForward.value == false)
        #expect(location.capToCaller.value == true)
        #expect(location.verifyToken.value == .some(nil))
        #expect(location.headerScheme.value == [])
        #expect(location.verifyLeeway.value == 0)
    }

    @Test("a location inherits the server's verifier; different checks make their own")
    func sharing() throws {
        var levels = Levels()
        let server = LevelSettings(), same = LevelSettings(), other = LevelSettings()
        try levels.apply(server, "backend_jwt_verify on")
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(other, "backend_jwt_verify_issuer https://idp.example.com")
        try levels.chain(server, same)
        try levels.merge(server, other)
        #expect(server.verifier != nil)
        #expect(same.verifier === server.verifier)
        #expect(other.verifier !== server.verifier && other.verifier?.issuers == [Array("https://idp.example.com".utf8)])
    }

    @Test("key files of one level add up; a level that names one replaces the inherited list")
    func keyLists() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(server, "backend_jwt_verify_key \(ecPublic)")
        try levels.apply(location, "backend_jwt_verify on")
        try levels.apply(location, "backend_jwt_verify_key \(ecPublic)")
        try levels.chain(server, location)
        #expect(server.verifyKeys.value?.count == 2)
        #expect(location.verifier?.keys.count == 1)
        #expect(location.verifier?.usableAlgorithms == [.es256])
    }

    @Test("verify on with no key fails at its line")
    func noKey() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        let on = try levels.apply(location, "backend_jwt_verify on")
        let message = failure { () throws(BackendJWTError) in try levels.chain(server, location) }
        #expect(message == "\"backend_jwt_verify on\" needs a key: add backend_jwt_verify_key or backend_jwt_verify_jwks in \(on)")
    }

    @Test("an allow-list no key can serve fails at the algorithms' line")
    func unusableAlgorithms() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(location, "backend_jwt_verify on")
        try levels.apply(location, "backend_jwt_verify_key \(rsaPublic)")
        let list = try levels.apply(location, "backend_jwt_verify_algorithms HS256 ES256")
        let message = failure { () throws(BackendJWTError) in try levels.chain(server, location) }
        #expect(message.hasPrefix("backend_jwt: no verification key can verify any allowed algorithm (HS256 ES256)"))
        #expect(message.hasSuffix(" in \(list)"))
    }

    @Test("directive values refused as nginx -t shows them", arguments: [
        ("backend_jwt_verify_algorithms RS256 none", "\"none\" can never be a verification algorithm"),
        ("backend_jwt_verify_algorithms RS257", "unknown verification algorithm \"RS257\""),
        ("backend_jwt_verify_leeway 2h", "leeway \"2h\" is longer than 1h"),
        ("backend_jwt_verify_leeway soon", "invalid leeway \"soon\""),
        ("backend_jwt_verify_require 1", "every value takes a variable ($name), not \"1\""),
        ("backend_jwt_verify_require $a error=402", "invalid option \"error=402\"; use error=401 or error=403"),
        ("backend_jwt_verify_require error=401", "no value to require before \"error=401\""),
        ("backend_jwt_verify on token=abc", "token= takes a variable ($name), not \"abc\""),
        ("backend_jwt_verify on cookie=$a", "invalid option \"cookie=$a\"; use token=$variable"),
        ("backend_jwt_verify maybe", "invalid value \"maybe\" in \"backend_jwt_verify\" directive, it must be \"on\" or \"off\""),
        ("backend_jwt_verify_issuer $host", "variables are not supported here: \"$host\""),
        ("backend_jwt_caller_exp later", "invalid value \"later\"; use cap or ignore"),
        ("backend_jwt_header X-Token scheme=a/b", "invalid scheme \"a/b\""),
        ("backend_jwt_header X-Token bearer", "invalid option \"bearer\"; use scheme=WORD or scheme=off"),
        ("backend_jwt_header off scheme=Bearer", "\"off\" takes no scheme"),
    ])
    func refused(_ directive: String, _ expected: String) throws {
        var levels = Levels()
        let message = failure { () throws(BackendJWTError) in try levels.apply(LevelSettings(), directive) }
        #expect(message.contains(expected), "\(message)")
    }

    @Test("a key file that cannot be read fails at its line, naming it")
    func unreadableKey() throws {
        var levels = Levels()
        let message = failure { () throws(BackendJWTError) in
            try levels.apply(LevelSettings(), "backend_jwt_verify_key /nonexistent/idp.jwks")
        }
        #expect(message.hasPrefix("\"backend_jwt_verify_key\" directive: "))
        #expect(message.contains("/nonexistent/idp.jwks"))
    }

    @Test("repeated settings are nginx's duplicates; require and keys may repeat")
    func duplicates() throws {
        var levels = Levels()
        let location = LevelSettings()
        try levels.apply(location, "backend_jwt_verify on")
        try levels.apply(location, "backend_jwt_verify_require $a")
        try levels.apply(location, "backend_jwt_verify_require $b $c error=401")
        #expect(location.verifyRequire.value?.map(\.status) == [403, 401])
        #expect(location.verifyRequire.value?.map(\.templates.count) == [1, 2])
        let message = failure { () throws(BackendJWTError) in try levels.apply(location, "backend_jwt_verify off") }
        #expect(message == "\"backend_jwt_verify\" directive is duplicate")
    }

    @Test("token= is a template the module compiles")
    func tokenSource() throws {
        var levels = Levels()
        let location = LevelSettings()
        try levels.apply(location, "backend_jwt_verify on token=$cookie_at")
        let index = try #require(location.verifyToken.value ?? nil)
        #expect(levels.config.templates[index] == Array("$cookie_at".utf8))
    }

    @Test("Authorization carries a Bearer scheme by default; scheme= sets or removes it")
    func schemes() throws {
        var levels = Levels()
        let cases: [(String, String)] = [
            ("backend_jwt_header Authorization", "Bearer"), ("backend_jwt_header authorization scheme=off", ""),
            ("backend_jwt_header X-Token", ""), ("backend_jwt_header X-Token scheme=Token", "Token"),
        ]
        for (directive, scheme) in cases {
            let location = LevelSettings()
            try levels.apply(location, directive)
            #expect(location.headerScheme.value == Array(scheme.utf8), "\(directive)")
        }
    }

    @Test("copies need a verified token where a level mints, and may not collide with a declared claim")
    func copies() throws {
        var levels = Levels()
        let server = LevelSettings(), alone = LevelSettings(), clash = LevelSettings()
        try levels.apply(server, "backend_jwt on")
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        let copy = try levels.apply(alone, "backend_jwt_copy_claims email")
        try levels.merge(levels.http, server)
        let message = failure { () throws(BackendJWTError) in try levels.merge(server, alone) }
        #expect(message.hasPrefix("\"backend_jwt_copy_claims\" needs \"backend_jwt_verify on\""))
        #expect(message.hasSuffix(" in \(copy)"))

        try levels.apply(clash, "backend_jwt_verify on")
        try levels.apply(clash, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(clash, "backend_jwt_claim email $http_x_email")
        let clashing = try levels.apply(clash, "backend_jwt_copy_claims email")
        let collision = failure { () throws(BackendJWTError) in try levels.merge(server, clash) }
        #expect(collision.contains("email") && collision.hasSuffix(" in \(clashing)"), "\(collision)")
    }

    @Test("a location that sets a verify directive but does not verify fails at the directive; a server may hold them for its locations")
    func verifySettingsWhereVerificationIsOff() throws {
        var levels = Levels()
        let server = LevelSettings(), open = LevelSettings(), off = LevelSettings(), inherits = LevelSettings()
        let protected = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(server, "backend_jwt_verify_require $is_admin")
        try levels.merge(levels.http, server)
        let require = try levels.apply(open, "backend_jwt_verify_require $is_admin")
        let message = failure { () throws(BackendJWTError) in try levels.merge(server, open, LevelFacts(location: "/admin/")) }
        #expect(message == "\"backend_jwt_verify_require\" has no effect: \"backend_jwt_verify\" is off in location "
            + "\"/admin/\" (turn it on there or above, or remove the directive) in \(require)")

        try levels.apply(off, "backend_jwt_verify off")
        let issuer = try levels.apply(off, "backend_jwt_verify_issuer https://idp.example.com")
        let offMessage = failure { () throws(BackendJWTError) in try levels.merge(server, off, LevelFacts(location: "/public/")) }
        #expect(offMessage.hasPrefix("\"backend_jwt_verify_issuer\" has no effect") && offMessage.hasSuffix(" in \(issuer)"))

        try levels.merge(server, inherits, LevelFacts(location: "/public/"))  // settings inherited, not set here
        try levels.apply(protected, "backend_jwt_verify on")
        try levels.apply(protected, "backend_jwt_verify_require $is_admin")
        try levels.merge(server, protected, LevelFacts(location: "/admin/"))
        #expect(protected.verifier != nil)
    }

    @Test("copies and the cap decide the signer: a level that changes them gets its own")
    func copiesMakeSigners() throws {
        var levels = Levels()
        let server = LevelSettings(), same = LevelSettings(), other = LevelSettings()
        try levels.apply(server, "backend_jwt on")
        try levels.apply(server, "backend_jwt_signing_key \(rsaKey)")
        try levels.apply(server, "backend_jwt_verify on")
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(other, "backend_jwt_caller_exp ignore")
        try levels.chain(server, same)
        try levels.merge(server, other)
        #expect(same.signer === server.signer)
        #expect(other.signer !== server.signer && other.signer?.capToCaller == false)
    }

    @Test("under backend_jwt_enforce a location cannot change verification")
    func enforced() throws {
        var levels = Levels()
        let server = LevelSettings(), location = LevelSettings()
        try levels.apply(server, "backend_jwt_enforce on")
        let own = try levels.apply(location, "backend_jwt_verify_leeway 30s")
        let message = failure { () throws(BackendJWTError) in try levels.chain(server, location) }
        #expect(message.hasPrefix("\"backend_jwt_verify_leeway\" cannot be set here"))
        #expect(message.hasSuffix(" in \(own)"))
    }
}
