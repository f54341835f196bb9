import Foundation
import BackendJWT
import Testing

/// The settings of keys fetched at run time and of the verified token cache, without nginx:
/// `backend_jwt_verify_jwks`, `_jwks_cache`, `_jwks_refresh`, `backend_jwt_verify_cache`; their
/// defaults, inheritance, the one set per URI, and the errors `nginx -t` shows.
@Suite("Settings: fetched keys and the verified token cache")
struct JWKSSettingsTests {
    let rsaPublic = Fixture.path("rsa2048-public.pem")
    let uri = Array("/_idp_jwks".utf8)

    /// The message of the error `body` throws ("" when it throws none).
    func failure(_ body: () throws(BackendJWTError) -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return error.message
        }
    }

    @Test("the directives are the module's command table, in its order")
    func order() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("nginx-module/ngx_http_backend_jwt_module.c")
        let table = try String(contentsOf: source, encoding: .utf8)
            .components(separatedBy: "NGX_HTTP_BJWT_COMMAND(\"").dropFirst()
            .map { String($0.prefix { $0 != "\"" }) }
        #expect(table == Directive.allCases.map(\.rawValue))
    }

    @Test("defaults: no fetched set, freshness from Cache-Control, refresh 30s, no cache")
    func defaults() throws {
        let levels = Levels()
        let server = LevelSettings()
        let location = LevelSettings()
        try levels.chain(server, location)
        #expect(location.verifyJWKS.value == .some(nil))
        #expect(location.verifyJWKSCache.value == nil)
        #expect(location.verifyJWKSRefresh.value == 30)
        #expect(location.verifyJWKSWait.value == 5000)
        #expect(location.verifyCache.value == .some(nil))
        #expect(levels.config.jwksZoneSize == nil && Configuration.defaultJWKSZoneSize == 1024 * 1024)
    }

    @Test("verify on with only a fetched set: a verifier with no configured key")
    func jwksAlone() throws {
        var levels = Levels()
        let server = LevelSettings()
        let location = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        try levels.apply(location, "backend_jwt_verify on")
        try levels.chain(server, location)
        let verifier = try #require(location.verifier)
        #expect(verifier.keys.isEmpty && verifier.cache == nil)
        let remote = try #require(verifier.remote)
        #expect(remote.uri == uri && remote.freshFor == nil && remote.refresh == 30)
        #expect(remote === levels.config.remoteKeySet(uri: uri))
    }

    @Test("key files and a fetched set combine; the settings reach the set")
    func combined() throws {
        var levels = Levels()
        let server = LevelSettings()
        let location = LevelSettings()
        try levels.apply(levels.http, "backend_jwt_verify_jwks_cache 5m")
        try levels.apply(levels.http, "backend_jwt_verify_jwks_refresh 10s")
        try levels.apply(server, "backend_jwt_verify on")
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        try levels.apply(server, "backend_jwt_verify_cache size=1000")
        try levels.chain(server, location)
        let verifier = try #require(location.verifier)
        #expect(verifier === server.verifier)
        #expect(verifier.keys.count == 1 && verifier.cache?.capacity == 1000)
        #expect(verifier.remote?.freshFor == 300 && verifier.remote?.refresh == 10)
    }

    @Test("every verifier that names one URI shares one set; another URI is another set")
    func oneSetPerURI() throws {
        var levels = Levels()
        let server = LevelSettings()
        let a = LevelSettings()
        let b = LevelSettings()
        let c = LevelSettings()
        try levels.apply(server, "backend_jwt_verify on")
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        try levels.apply(a, "backend_jwt_verify_issuer https://a.example.com")
        try levels.apply(b, "backend_jwt_verify_issuer https://b.example.com")
        try levels.apply(c, "backend_jwt_verify_jwks /_other_jwks")
        try levels.merge(levels.http, server)
        for location in [a, b, c] { try levels.merge(server, location) }
        #expect(a.verifier !== b.verifier)
        #expect(a.verifier?.remote === b.verifier?.remote && a.verifier?.remote != nil)
        #expect(a.verifier?.remote === server.verifier?.remote)
        #expect(c.verifier?.remote !== a.verifier?.remote && c.verifier?.remote?.uri == Array("/_other_jwks".utf8))
    }

    @Test("a level that sets the URI replaces the inherited one; off clears it")
    func replaceAndOff() throws {
        var levels = Levels()
        let server = LevelSettings()
        let location = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(location, "backend_jwt_verify on")
        try levels.apply(location, "backend_jwt_verify_jwks off")
        try levels.chain(server, location)
        #expect(location.verifyJWKS.value == .some(nil))
        #expect(location.verifier?.remote == nil && location.verifier?.keys.count == 1)
    }

    @Test("verify on with the set turned off and no key file fails at its line")
    func offWithoutKey() throws {
        var levels = Levels()
        let server = LevelSettings()
        let location = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        let on = try levels.apply(location, "backend_jwt_verify on")
        try levels.apply(location, "backend_jwt_verify_jwks off")
        let message = failure { () throws(BackendJWTError) in try levels.chain(server, location) }
        #expect(
            message
                == "\"backend_jwt_verify on\" needs a key: add backend_jwt_verify_key or backend_jwt_verify_jwks in \(on)"
        )
    }

    @Test("a cache size of its own makes a verifier of its own; off turns the cache off")
    func cacheSizes() throws {
        var levels = Levels()
        let server = LevelSettings()
        let bigger = LevelSettings()
        let none = LevelSettings()
        try levels.apply(server, "backend_jwt_verify on")
        try levels.apply(server, "backend_jwt_verify_key \(rsaPublic)")
        try levels.apply(server, "backend_jwt_verify_cache size=10")
        try levels.apply(bigger, "backend_jwt_verify_cache size=10000")
        try levels.apply(none, "backend_jwt_verify_cache off")
        try levels.merge(levels.http, server)
        try levels.merge(server, bigger)
        try levels.merge(server, none)
        #expect(server.verifier?.cache?.capacity == 10)
        #expect(bigger.verifier !== server.verifier && bigger.verifier?.cache?.capacity == 10000)
        #expect(none.verifier !== server.verifier && none.verifier?.cache == nil)
        #expect(none.verifyCache.value == .some(nil))
    }

    @Test("one URI with two freshness settings fails where the second is, naming the first")
    func conflictingFreshness() throws {
        var levels = Levels()
        let server = LevelSettings()
        let a = LevelSettings()
        let b = LevelSettings()
        let jwks = try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        try levels.apply(a, "backend_jwt_verify on")
        try levels.apply(b, "backend_jwt_verify on")
        let cache = try levels.apply(b, "backend_jwt_verify_jwks_cache 5m")
        try levels.merge(levels.http, server)
        try levels.merge(server, a)
        let message = failure { () throws(BackendJWTError) in try levels.merge(server, b) }
        #expect(
            message
                == "backend_jwt: backend_jwt_verify_jwks_cache 300s conflicts with the response's Cache-Control in "
                + "\(jwks) for the same JWK Set \"/_idp_jwks\": a URI is one key set per worker, so every level that "
                + "verifies with it needs the same value (set it where they all inherit it) in \(cache)")
    }

    @Test("one URI with two refresh intervals fails too; equal settings at two levels do not")
    func conflictingRefresh() throws {
        var levels = Levels()
        let server = LevelSettings()
        let a = LevelSettings()
        let b = LevelSettings()
        let same = LevelSettings()
        try levels.apply(server, "backend_jwt_verify_jwks /_idp_jwks")
        for location in [a, b, same] { try levels.apply(location, "backend_jwt_verify on") }
        let first = try levels.apply(a, "backend_jwt_verify_jwks_refresh 1m")
        try levels.apply(same, "backend_jwt_verify_jwks_refresh 60")
        try levels.apply(same, "backend_jwt_verify_issuer https://idp.example.com")
        let second = try levels.apply(b, "backend_jwt_verify_jwks_refresh 2m")
        try levels.merge(levels.http, server)
        try levels.merge(server, a)
        try levels.merge(server, same)
        #expect(same.verifier?.remote === a.verifier?.remote)
        let message = failure { () throws(BackendJWTError) in try levels.merge(server, b) }
        #expect(message.hasPrefix("backend_jwt: backend_jwt_verify_jwks_refresh 120s conflicts with 60s in \(first)"))
        #expect(message.hasSuffix(" in \(second)"))
    }

    @Test(
        "directive values refused as nginx -t shows them",
        arguments: [
            (
                "backend_jwt_verify_jwks https://idp.example.com/certs",
                "invalid URI \"https://idp.example.com/certs\"; give the path of a location"
            ),
            (
                "backend_jwt_verify_jwks /jwks?realm=$arg_realm",
                "variables are not supported here: \"/jwks?realm=$arg_realm\""
            ),
            ("backend_jwt_verify_jwks _idp_jwks", "invalid URI \"_idp_jwks\""),
            ("backend_jwt_verify_jwks /a\u{7F}b", "invalid URI \"/a\\x7fb\": it has a space or a control character"),
            ("backend_jwt_verify_jwks_cache 0", "JWKS cache time \"0\" is shorter than 1s"),
            ("backend_jwt_verify_jwks_cache 2d", "JWKS cache time \"2d\" is longer than 24h"),
            ("backend_jwt_verify_jwks_cache 86401", "JWKS cache time \"86401\" is longer than 24h"),
            (
                "backend_jwt_verify_jwks_cache soon",
                "invalid JWKS cache time \"soon\"; use seconds (3600) or nginx time"
            ),
            ("backend_jwt_verify_jwks_refresh 0s", "JWKS refresh interval \"0s\" is shorter than 1s"),
            ("backend_jwt_verify_jwks_refresh 61m", "JWKS refresh interval \"61m\" is longer than 1h"),
            ("backend_jwt_verify_jwks_refresh 5ms", "invalid JWKS refresh interval \"5ms\""),
            ("backend_jwt_verify_cache size=0", "invalid argument \"size=0\"; use size=1..1000000 or off"),
            ("backend_jwt_verify_cache size=1000001", "invalid argument \"size=1000001\""),
            ("backend_jwt_verify_cache size=+5", "invalid argument \"size=+5\""),
            ("backend_jwt_verify_cache size=", "invalid argument \"size=\""),
            ("backend_jwt_verify_cache 100", "invalid argument \"100\""),
            ("backend_jwt_verify_cache on", "invalid argument \"on\""),
            ("backend_jwt_verify_jwks_wait 61s", "JWKS wait time \"61s\" is longer than 60s"),
            ("backend_jwt_verify_jwks_wait 60001ms", "JWKS wait time \"60001ms\" is longer than 60s"),
            ("backend_jwt_verify_jwks_wait 2m", "JWKS wait time \"2m\" is longer than 60s"),
            ("backend_jwt_verify_jwks_wait soon", "invalid JWKS wait time \"soon\"; use nginx time (3s, 1500ms, 0)"),
            ("backend_jwt_verify_jwks_wait -1", "invalid JWKS wait time \"-1\""),
            ("backend_jwt_verify_jwks_zone 16k", "invalid size \"16k\"; use 32k to 1024m"),
            ("backend_jwt_verify_jwks_zone 2g", "invalid size \"2g\""),
            ("backend_jwt_verify_jwks_zone 1025m", "invalid size \"1025m\""),
            ("backend_jwt_verify_jwks_zone big", "invalid size \"big\""),
        ])
    func refused(_ directive: String, _ expected: String) throws {
        var levels = Levels()
        let message = failure { () throws(BackendJWTError) in try levels.apply(LevelSettings(), directive) }
        let name = String(directive.prefix { $0 != " " })
        #expect(message.hasPrefix("\"\(name)\" directive: "), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test(
        "accepted values",
        arguments: [
            ("backend_jwt_verify_jwks_cache 1", 1), ("backend_jwt_verify_jwks_cache 24h", 86400),
            ("backend_jwt_verify_jwks_cache 1h 30m", 5400), ("backend_jwt_verify_jwks_refresh 1h", 3600),
            ("backend_jwt_verify_jwks_refresh 45", 45),
        ] as [(String, Int64)])
    func accepted(_ directive: String, _ seconds: Int64) throws {
        let levels = Levels()
        let level = LevelSettings()
        // the Levels helper splits at spaces: "1h 30m" is given as one argument here
        let words = directive.split(separator: " ", maxSplits: 1).map(String.init)
        _ = try level.apply(
            words[0], [Array(words[1].utf8)], at: Where(file: "nginx.conf", line: 1), in: levels.config)
        let value = directive.contains("refresh") ? level.verifyJWKSRefresh.value : level.verifyJWKSCache.value
        #expect(value == seconds)
    }

    @Test(
        "wait times in milliseconds",
        arguments: [
            ("0", 0), ("1500ms", 1500), ("3s", 3000), ("60", 60000), ("1m", 60000), ("0ms", 0),
        ] as [(String, Int64)])
    func waits(_ value: String, _ milliseconds: Int64) throws {
        var levels = Levels()
        let level = LevelSettings()
        try levels.apply(level, "backend_jwt_verify_jwks_wait \(value)")
        #expect(level.verifyJWKSWait.value == milliseconds)
    }

    @Test("the zone's size is the http block's, given once")
    func zoneSize() throws {
        var levels = Levels()
        try levels.apply(LevelSettings(), "backend_jwt_verify_jwks_zone 256k")
        #expect(levels.config.jwksZoneSize == 256 * 1024)
        let message = failure { () throws(BackendJWTError) in
            try levels.apply(LevelSettings(), "backend_jwt_verify_jwks_zone 2m")
        }
        #expect(message == "\"backend_jwt_verify_jwks_zone\" directive is duplicate")
    }

    @Test("the URI may carry a query; the cache may be off or a million tokens")
    func acceptedOthers() throws {
        var levels = Levels()
        let level = LevelSettings()
        let other = LevelSettings()
        try levels.apply(level, "backend_jwt_verify_jwks /_idp_jwks?realm=acme")
        try levels.apply(level, "backend_jwt_verify_cache size=1000000")
        try levels.apply(other, "backend_jwt_verify_cache off")
        #expect(level.verifyJWKS.value == .some(Array("/_idp_jwks?realm=acme".utf8)))
        #expect(level.verifyCache.value == .some(1_000_000))
        #expect(other.verifyCache.value == .some(nil))
    }

    @Test("each directive once per level")
    func duplicates() throws {
        for directive in [
            "backend_jwt_verify_jwks /a", "backend_jwt_verify_jwks_cache 1m", "backend_jwt_verify_jwks_refresh 1m",
            "backend_jwt_verify_cache size=5", "backend_jwt_verify_jwks_wait 1s",
        ] {
            var levels = Levels()
            let level = LevelSettings()
            try levels.apply(level, directive)
            let message = failure { () throws(BackendJWTError) in try levels.apply(level, directive) }
            let name = String(directive.prefix { $0 != " " })
            #expect(message == "\"\(name)\" directive is duplicate")
        }
    }

    @Test("under backend_jwt_enforce a location cannot change the fetched set or the cache")
    func enforced() throws {
        for directive in ["backend_jwt_verify_jwks /other", "backend_jwt_verify_cache size=5"] {
            var levels = Levels()
            let server = LevelSettings()
            let location = LevelSettings()
            try levels.apply(server, "backend_jwt_enforce on")
            let own = try levels.apply(location, directive)
            let message = failure { () throws(BackendJWTError) in try levels.chain(server, location) }
            #expect(message.hasPrefix("\"\(directive.prefix { $0 != " " })\" cannot be set here"))
            #expect(message.hasSuffix(" in \(own)"))
        }
    }
}
