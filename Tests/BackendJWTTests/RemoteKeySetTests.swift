import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Keys fetched at run time (`backend_jwt_verify_jwks`): the rules on the state of one JWK Set URI
/// that every worker shares (when to fetch, one fetch at a time, freshness from Cache-Control, the
/// last good set kept while the IdP fails, the rate limit of refetches for unknown kids), and the
/// verifier's errors with such a set. Here one object holds `shared` itself, and `finish` does
/// what the module does with a response (`ZoneStandIn`).
@Suite("Remote key set: the fetched JWK Set")
struct RemoteKeySetTests {
    typealias F = VerifyFixture
    static let uri = Array("/_idp_jwks".utf8)
    static let t0 = F.now

    /// A JWK Set body of the given JWKs.
    static func body(_ jwks: [String]) -> [UInt8] { Array(F.jwks(jwks).utf8) }

    /// The EC P-256 key under `kid` (it verifies ES256 tokens of `F.token(.es256, kid:)`).
    static func ecSet(_ kid: String = "e1") throws -> [UInt8] { body([try F.jwk(.es256, ["kid": "\"\(kid)\""])]) }

    /// The RSA key under `kid`.
    static func rsaSet(_ kid: String = "r1") throws -> [UInt8] { body([try F.jwk(.rs256, ["kid": "\"\(kid)\""])]) }

    /// A set that fetched `body` at `now` (with `cacheControl`).
    static func fetched(
        _ body: [UInt8], cacheControl: String? = nil, now: Int64 = t0, freshFor: Int64? = nil, refresh: Int64 = 30
    ) throws -> RemoteKeySet {
        let set = RemoteKeySet(uri: uri, freshFor: freshFor, refresh: refresh)
        #expect(set.state(now: now) == .fetch)
        let failure = set.finish(status: 200, cacheControl: cacheControl.map { Array($0.utf8) }, body: body, now: now)
        #expect(failure == nil)
        return set
    }

    /// A verifier of the usual checks with `remote` and optional configured keys.
    static func verifier(_ remote: RemoteKeySet, keys: [VerificationKey] = [], cacheSize: Int? = nil) throws
        -> JWSVerifier
    {
        try JWSVerifier(
            keys: keys, issuers: [Array("https://idp.example.com".utf8)], audiences: [Array("orders-api".utf8)],
            remote: remote, cacheSize: cacheSize)
    }

    /// An RS256 token under `kid` signed by another RSA key (4096 bits) than the fixtures' one.
    static func forged(kid: String?) async throws -> [UInt8] {
        let keys = JWTKeyCollection()
        let id = kid.map { JWKIdentifier(string: $0) }
        _ = await keys.add(
            rsa: try Insecure.RSA.PrivateKey(pem: Fixture.text("rsa4096-pkcs8.pem")), digestAlgorithm: .sha256, kid: id)
        return Array(try await keys.sign(F.Claims(), kid: id).utf8)
    }

    /// The error `verify` throws for `token` (nil when it verifies).
    static func error(_ verifier: JWSVerifier, _ token: [UInt8], now: Int64 = F.now) -> BackendJWTError? {
        do {
            _ = try verifier.verify(token, now: now)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - The state machine

    @Test("a new set asks for a fetch; requests during it wait; a good response makes it ready")
    func firstFetch() throws {
        let set = RemoteKeySet(uri: Self.uri)
        #expect(set.state(now: Self.t0) == .fetch)
        #expect(set.keys(now: Self.t0).isEmpty && !set.hasKeys(now: Self.t0))
        #expect(set.fetching && set.fetches == 1)
        #expect(set.state(now: Self.t0) == .wait)  // tokens that find no key may wait for the fetch
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: Self.t0 + 1) == nil)
        #expect(!set.fetching && set.lastError == nil)
        #expect(set.state(now: Self.t0 + 1) == .ready)
        #expect(set.keys(now: Self.t0 + 1).map(\.keyID) == [Array("e1".utf8)])
    }

    @Test("fresh for the default 10 minutes; then stale: refetched, and served meanwhile")
    func staleRefetch() throws {
        let set = try Self.fetched(try Self.ecSet())
        #expect(set.state(now: Self.t0 + 599) == .ready)
        #expect(set.state(now: Self.t0 + 600) == .fetch)
        #expect(set.state(now: Self.t0 + 601) == .ready)  // the stale keys serve while the fetch runs
        #expect(set.keys(now: Self.t0 + 601).count == 1)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: Self.t0 + 602) == nil)
        #expect(set.state(now: Self.t0 + 602 + 599) == .ready)
        #expect(set.fetches == 2)
    }

    @Test("an IdP that fails: the last good set serves until 24h past its freshness, retried every 5s")
    func maximumStale() throws {
        let set = try Self.fetched(try Self.ecSet(), cacheControl: "max-age=60")
        var now = Self.t0 + 60
        var attempts = 0
        // every retry fails; the keys stay usable up to the maximum staleness
        while now < Self.t0 + 60 + RemoteKeySet.maximumStale {
            if set.state(now: now) == .fetch {
                #expect(set.finish(status: 502, cacheControl: nil, body: [], now: now) != nil)
                attempts += 1
            }
            #expect(set.hasKeys(now: now))
            now += 1800
        }
        #expect(attempts > 1)
        let end = Self.t0 + 60 + RemoteKeySet.maximumStale
        #expect(set.keys(now: end - 1).count == 1)
        #expect(set.keys(now: end).isEmpty)
        #expect(set.state(now: end) == .fetch)
        _ = set.finish(status: 503, cacheControl: nil, body: [], now: end)
        #expect(set.state(now: end + 1) == .unavailable)
        #expect(set.unavailableReason(now: end + 1).contains("\"/_idp_jwks\""))
        #expect(set.unavailableReason(now: end + 1).contains("the response status is 503"))
    }

    @Test("a failed fetch is retried no sooner than 5s later; requests in between are unavailable")
    func backoff() throws {
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        let reason = set.finish(status: 404, cacheControl: nil, body: Array("not found".utf8), now: Self.t0)
        #expect(reason == "the response status is 404, not 2xx")
        #expect(set.lastError == reason)
        for second in 0..<RemoteKeySet.retryDelay {
            #expect(set.state(now: Self.t0 + second) == .unavailable)
        }
        #expect(set.state(now: Self.t0 + RemoteKeySet.retryDelay) == .fetch)
        #expect(set.unavailableReason(now: Self.t0 + 1).hasSuffix("it has not been fetched yet") == false)
        #expect(RemoteKeySet(uri: Self.uri).unavailableReason(now: Self.t0).hasSuffix("it has not been fetched yet"))
    }

    @Test("one fetch at a time for every worker; a fetch whose worker is gone is lost at once")
    func oneFetch() throws {
        let set = RemoteKeySet(uri: Self.uri)
        #expect(set.state(now: Self.t0, owner: 101) == .fetch)
        let first = set.fetchID
        #expect(set.shared.fetch_owner == 101 && first != 0)
        #expect(set.state(now: Self.t0, owner: 102) == .wait)
        #expect(set.keyMiss(now: Self.t0, owner: 102) == .wait)
        // worker 101 was killed: the next request's worker fetches
        #expect(set.state(now: Self.t0 + 1, owner: 102, ownerAlive: false) == .fetch)
        #expect(set.fetchID != first && set.shared.fetch_owner == 102 && set.fetches == 2)
        // the lost fetch reports back after all: it changes nothing
        set.finished(fetch: first, failure: "late", cacheControl: nil, now: Self.t0 + 2)
        #expect(set.fetching && set.lastError == nil && set.shared.failures == 0)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: Self.t0 + 2) == nil)
        #expect(set.state(now: Self.t0 + 2, owner: 101) == .ready)
    }

    @Test("a fetch that never reports back is taken as lost after a minute")
    func lostFetch() {
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        #expect(set.state(now: Self.t0 + RemoteKeySet.lostFetch - 1) == .wait)
        #expect(set.state(now: Self.t0 + RemoteKeySet.lostFetch) == .fetch)
    }

    @Test("the seconds of Retry-After: until the backoff of a failed fetch is over, else 1")
    func retryAfter() throws {
        let set = RemoteKeySet(uri: Self.uri)
        #expect(set.retryAfter(now: Self.t0) == 1)
        set.begin(now: Self.t0)
        _ = set.finish(status: 502, cacheControl: nil, body: [], now: Self.t0)
        #expect(set.retryAfter(now: Self.t0) == 5 && set.retryAfter(now: Self.t0 + 4) == 1)
        #expect(set.retryAfter(now: Self.t0 + 3) == 2 && set.retryAfter(now: Self.t0 + 9) == 1)
        #expect(set.shared.failures == 1 && set.shared.last_error_at == Self.t0)
    }

    @Test("unknown kids: a refetch at most once per refresh interval, counted from the last one they caused")
    func keyMissRateLimit() throws {
        let set = try Self.fetched(try Self.ecSet())
        #expect(set.keyMiss(now: Self.t0 + 1) == .fetch)  // a key published right after the fetch: fetched at once
        #expect(set.state(now: Self.t0 + 1) == .ready)  // the fresh set serves while it runs
        #expect(set.keyMiss(now: Self.t0 + 2) == .wait)  // a fetch is running: the request waits for it
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: Self.t0 + 2) == nil)
        #expect(set.state(now: Self.t0 + 3) == .ready)  // the miss was served by that fetch
        #expect(set.keyMiss(now: Self.t0 + 30) == .refuse)  // 29 s after the last one granted
        #expect(set.keyMiss(now: Self.t0 + 31) == .fetch)
        #expect(set.shared.refetches == 2)
    }

    @Test("a fetch given up (its client went away) is no failure: the next request fetches, a kid's refetch stays due")
    func givenUp() throws {
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        set.giveUp(fetch: set.fetchID + 1)  // not the running one: nothing changes
        #expect(set.fetching)
        set.giveUp(fetch: set.fetchID)
        #expect(!set.fetching && set.lastError == nil)
        #expect(set.state(now: Self.t0) == .fetch)
        let fetched = try Self.fetched(try Self.ecSet())
        #expect(fetched.keyMiss(now: Self.t0 + 1) == .fetch)
        fetched.giveUp(fetch: fetched.fetchID)
        #expect(fetched.state(now: Self.t0 + 1) == .fetch)
    }

    @Test("1,000 requests with random kids over 100 seconds make at most 5 fetches")
    func randomKids() throws {
        let set = try Self.fetched(try Self.ecSet())
        for request in 0..<1000 {
            let now = Self.t0 + Int64(request / 10)
            if set.keyMiss(now: now) == .fetch {
                _ = set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: now)
            }
        }
        #expect(set.fetches <= 5)  // the first fetch and one per 30 s (at 0, 30, 60 and 90 s)
    }

    @Test("an explicit freshness is used as is; the refresh interval is the set's own")
    func explicitSettings() throws {
        let set = try Self.fetched(try Self.ecSet(), cacheControl: "max-age=3600", freshFor: 5, refresh: 2)
        #expect(set.state(now: Self.t0 + 4) == .ready)
        #expect(set.state(now: Self.t0 + 5) == .fetch)
        #expect(set.keyMiss(now: Self.t0 + 2) == .fetch)
    }

    @Test("the clock set back before the fetch refetches")
    func clockBack() throws {
        let set = try Self.fetched(try Self.ecSet())
        #expect(set.state(now: Self.t0 - 100) == .fetch)
    }

    // MARK: - Cache-Control

    @Test(
        "freshness from Cache-Control",
        arguments: [
            ("max-age=120", 120), ("public, max-age=3600", 3600), ("MAX-AGE=90", 90), ("Max-Age=\"90\"", 90),
            ("must-revalidate,max-age=300 , private", 300), ("no-store", 30), ("max-age=600, no-cache", 30),
            ("No-Cache", 30), ("max-age=5", 30), ("max-age=0", 30), ("max-age=999999", 86400),
            ("max-age=99999999999999999999999", 86400), ("max-age=abc", 600), ("max-age=-1", 600),
            ("max-age=", 600), ("max-age", 600), ("max-age=1e3", 600), ("max-age=12s", 600), ("private", 600),
            ("s-maxage=60", 600), ("max-age=60, max-age=120", 60), ("max-age=x, max-age=120", 120), ("", 600),
            (",,", 600), ("max-age=\"\"", 600), ("max-age=\"60", 600),
        ] as [(String, Int64)])
    func cacheControl(_ header: String, _ seconds: Int64) {
        #expect(RemoteKeySet.freshness(cacheControl: Array(header.utf8)) == seconds, "\(header)")
    }

    @Test("no Cache-Control: 10 minutes")
    func noCacheControl() {
        #expect(RemoteKeySet.freshness(cacheControl: nil) == 600)
    }

    @Test("the response's max-age decides when the set goes stale")
    func maxAgeApplies() throws {
        let set = try Self.fetched(try Self.ecSet(), cacheControl: "public, max-age=45")
        #expect(set.state(now: Self.t0 + 44) == .ready)
        #expect(set.state(now: Self.t0 + 45) == .fetch)
    }

    // MARK: - Failed fetches

    @Test(
        "responses that are failed fetches, with the reason logged",
        arguments: [
            (301, "{\"keys\":[]}", "the response status is 301, not 2xx"),
            (500, "", "the response status is 500, not 2xx"),
            (200, "", "the response is not a JWK Set: it is not a JSON object"),
            (200, "<html>down</html>", "the response is not a JWK Set: it is not a JSON object"),
            (200, "{\"keys\":[", "the JWK Set is not valid JSON"),
            (200, "{\"keys\":[]}", "the JWK Set has no key this verifier can use"),
            (200, "{\"keys\":{}}", "the JWK Set has a \"keys\" member that is not an array"),
            (200, "{\"kty\":\"EC\"}", "the JWK Set has no \"keys\" member: it is not a JWK Set"),
            (
                200, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0\"}]}",
                "an HMAC secret (kty \"oct\") is never taken from a fetched set"
            ),
            (
                200, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
                "no key this verifier can use (JWK 1 of the set"
            ),
        ] as [(Int, String, String)])
    func failedFetch(_ status: Int, _ body: String, _ expected: String) throws {
        let set = try Self.fetched(try Self.ecSet())
        let before = set.generation
        #expect(set.state(now: Self.t0 + 600) == .fetch)
        let reason = try #require(
            set.finish(status: status, cacheControl: nil, body: Array(body.utf8), now: Self.t0 + 600))
        #expect(reason.contains(expected), "\(reason)")
        // the last good set is kept
        #expect(set.keys(now: Self.t0 + 601).count == 1 && set.generation == before)
        #expect(set.state(now: Self.t0 + 601) == .ready)
        #expect(set.state(now: Self.t0 + 605) == .fetch)
    }

    @Test("a body over 1 MiB is a failed fetch")
    func oversized() throws {
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        var body = try Self.ecSet()
        body += [UInt8](repeating: 0x20, count: RemoteKeySet.maximumBodySize + 1 - body.count)
        let reason = set.finish(status: 200, cacheControl: nil, body: body, now: Self.t0)
        #expect(reason == "the response is 1048577 bytes, over the limit of 1048576")
        #expect(!set.hasKeys(now: Self.t0))
        // exactly the limit is read
        set.begin(now: Self.t0 + 5)
        #expect(set.finish(status: 200, cacheControl: nil, body: Array(body.dropLast()), now: Self.t0 + 5) == nil)
    }

    @Test("a set whose only key is for encryption has no usable key")
    func encryptionOnly() throws {
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        let body = Self.body([try F.jwk(.rs256, ["kid": "\"enc1\"", "use": "\"enc\""])])
        let reason = set.finish(status: 200, cacheControl: nil, body: body, now: Self.t0)
        #expect(
            reason == "the JWK Set has no key that may verify signatures (their \"use\" or \"key_ops\" says otherwise)")
    }

    @Test("members that cannot be used are skipped; the usable ones are taken; reasons hold no key material")
    func skipsBadMembers() throws {
        let n = "AQAB" + String(repeating: "A", count: 40)
        let bad = "{\"kty\":\"RSA\",\"kid\":\"weak\",\"n\":\"\(n)\",\"e\":\"AQAB\"}"
        let x25519 = "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}"
        let set = RemoteKeySet(uri: Self.uri)
        set.begin(now: Self.t0)
        let mixed = Self.body([bad, x25519, try F.jwk(.es256, ["kid": "\"e1\""])])
        #expect(set.finish(status: 200, cacheControl: nil, body: mixed, now: Self.t0) == nil)
        #expect(set.keys(now: Self.t0).map(\.keyID) == [Array("e1".utf8)])
        // with only bad members, the reasons (a few) say why, without the key's bytes
        set.begin(now: Self.t0 + 600)
        let reason = try #require(
            set.finish(
                status: 200, cacheControl: nil, body: Self.body([bad, x25519, bad, bad, bad]), now: Self.t0 + 600))
        #expect(reason.hasPrefix("the JWK Set has no key this verifier can use ("))
        #expect(reason.contains("2 more"))
        #expect(!reason.contains(n))
    }

    @Test("the same set refetched keeps its keys and generation; a changed one replaces them")
    func generations() throws {
        let set = try Self.fetched(try Self.ecSet())
        let first = set.generation
        let keys = set.keys(now: Self.t0)
        set.begin(now: Self.t0 + 600)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: Self.t0 + 600) == nil)
        #expect(set.generation == first && set.keys(now: Self.t0 + 600)[0] === keys[0])
        set.begin(now: Self.t0 + 1200)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.rsaSet(), now: Self.t0 + 1200) == nil)
        #expect(set.generation != first && set.keys(now: Self.t0 + 1200).map(\.keyID) == [Array("r1".utf8)])
    }

    // MARK: - The verifier with a fetched set

    @Test("rotation: a new kid is unknown, a refetch brings it, tokens verify")
    func rotation() async throws {
        let set = try Self.fetched(try Self.rsaSet("r1"))
        let verifier = try Self.verifier(set)
        #expect(try verifier.verify(try await F.token(.rs256, kid: "r1"), now: F.now).key.keyID == Array("r1".utf8))
        let rotated = try await F.token(.es256, kid: "e1")
        let unknown = try #require(Self.error(verifier, rotated, now: F.now + 40))
        #expect(unknown.kind == .unknownKey && unknown.kind.status == 8)
        #expect(unknown.message == "no verification key has kid \"e1\"")
        #expect(set.keyMiss(now: F.now + 40) == .fetch)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet("e1"), now: F.now + 41) == nil)
        #expect(try verifier.verify(rotated, now: F.now + 41).key.keyID == Array("e1".utf8))
        // the old key is gone: its tokens are unknown now, and ask for no fetch so soon
        let old = try #require(Self.error(verifier, try await F.token(.rs256, kid: "r1"), now: F.now + 42))
        #expect(old.kind == .unknownKey)
        #expect(set.keyMiss(now: F.now + 42) == .refuse)
    }

    @Test("no set yet, or none left: unavailable (a 5xx), naming the URI, never the token's fault")
    func unavailable() async throws {
        let set = RemoteKeySet(uri: Self.uri)
        let verifier = try Self.verifier(set)
        let token = try await F.token(.es256, kid: "e1")
        let error = try #require(Self.error(verifier, token))
        #expect(error.kind == .unavailable && error.kind.status == 9)
        #expect(error.message == "no key of the JWK Set from \"/_idp_jwks\" can be used: it has not been fetched yet")
        set.begin(now: F.now)
        _ = set.finish(status: 200, cacheControl: nil, body: Array("{".utf8), now: F.now)
        let failed = try #require(Self.error(verifier, token))
        #expect(failed.kind == .unavailable)
        #expect(
            failed.message.hasPrefix("no key of the JWK Set from \"/_idp_jwks\" can be used: the last fetch failed: "))
        // a token without kid: the same
        #expect(Self.error(verifier, try await F.token(.es256, kid: nil))?.kind == .unavailable)
        // a malformed token is still the caller's fault
        #expect(Self.error(verifier, Array("a.b".utf8))?.kind == .token)
    }

    @Test("configured keys keep verifying while the set is unavailable; other kids are unavailable")
    func configuredKeysAndRemote() async throws {
        let set = RemoteKeySet(uri: Self.uri)
        let file = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"file\""])]))
        let verifier = try Self.verifier(set, keys: file)
        #expect(try verifier.verify(try await F.token(.rs256, kid: "file"), now: F.now).key === file[0])
        #expect(Self.error(verifier, try await F.token(.es256, kid: "e1"))?.kind == .unavailable)
        // the kid is a configured key's: a bad signature is the token's
        let forged = try await Self.forged(kid: "file")
        #expect(Self.error(verifier, forged)?.kind == .token)
        // once fetched, both kinds of key verify
        set.begin(now: F.now)
        #expect(set.finish(status: 200, cacheControl: nil, body: try Self.ecSet(), now: F.now) == nil)
        #expect(try verifier.verify(try await F.token(.es256, kid: "e1"), now: F.now).key.keyID == Array("e1".utf8))
        #expect(try verifier.verify(try await F.token(.rs256, kid: "file"), now: F.now).key === file[0])
    }

    @Test("a known kid whose signature fails is refused (no refetch); a token without kid is unknown")
    func knownKidBadSignature() async throws {
        let set = try Self.fetched(try Self.rsaSet("r1"))
        let verifier = try Self.verifier(set)
        let forged = try await Self.forged(kid: "r1")
        let refused = try #require(Self.error(verifier, forged))
        #expect(refused.kind == .token && refused.message.contains("signature does not verify"))
        let noKid = try await Self.forged(kid: nil)
        #expect(Self.error(verifier, noKid)?.kind == .unknownKey)
        // a kid no key has, of an algorithm no key verifies: unknown too
        #expect(Self.error(verifier, try await F.token(.es256, kid: "r2"))?.kind == .unknownKey)
        // a kid the set has, for another algorithm: the token's fault
        #expect(Self.error(verifier, try await F.token(.es256, kid: "r1"))?.kind == .token)
    }

    @Test("without a fetched set, unknown kids are the token's fault as before")
    func withoutRemote() async throws {
        let keys = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"r1\""])]))
        let verifier = try F.verifier(keys)
        #expect(Self.error(verifier, try await F.token(.rs256, kid: "r2"))?.kind == .token)
    }

    @Test("a verifier needs configured keys or a set; HS alone cannot be served by a set")
    func verifierConfiguration() throws {
        let set = RemoteKeySet(uri: Self.uri)
        #expect(try JWSVerifier(keys: [], remote: set).keys.isEmpty)
        #expect(throws: BackendJWTError.self) { try JWSVerifier(keys: []) }
        do {
            _ = try JWSVerifier(keys: [], algorithms: [.hs256], remote: set)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("a fetched JWK Set never supplies HMAC secrets"))
        }
        // RS256 only, with an EC file key: the set may bring an RSA key
        #expect(
            try JWSVerifier(keys: try F.keys(file: "ec-p256-public.pem"), algorithms: [.rs256], remote: set)
                .usableAlgorithms.isEmpty)
    }
}


/// What the module does with a fetch's response (ngx_http_backend_jwt_keys.c and _zone.c), for
/// one object that holds `shared` itself: the core checks the response; bytes that differ from
/// the stored ones get a new generation and are taken; the state is updated.
extension RemoteKeySet {
    func finish(status: Int, cacheControl: [UInt8]?, body: [UInt8], now: Int64) -> String? {
        let fetch = fetchID
        do {
            _ = try check(status: status, body: body)
        } catch {
            finished(fetch: fetch, failure: error.message, cacheControl: cacheControl, now: now)
            return error.message
        }
        if ZoneStandIn.store(self, body) {
            shared.generation &+= 1
            try? take(generation: shared.generation, body: body)
        }
        finished(fetch: fetch, failure: nil, cacheControl: cacheControl, now: now)
        return nil
    }
}

/// The bytes the zone would hold for each set.
enum ZoneStandIn {
    private final class Stored {
        weak var set: RemoteKeySet?
        let body: [UInt8]
        init(_ set: RemoteKeySet, _ body: [UInt8]) {
            self.set = set
            self.body = body
        }
    }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var bodies: [ObjectIdentifier: Stored] = [:]

    /// Stores `body` for `set`; whether it differs from what was stored (an address reused by a
    /// later set is another set).
    static func store(_ set: RemoteKeySet, _ body: [UInt8]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let old = bodies[ObjectIdentifier(set)]
        bodies[ObjectIdentifier(set)] = Stored(set, body)
        return old?.set !== set || old?.body != body
    }
}
