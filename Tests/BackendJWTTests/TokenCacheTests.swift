import Testing

@testable import BackendJWT

/// `backend_jwt_cache`: its options, and when a cached token is reused.
@Suite("Token cache")
struct TokenCacheTests {
    static func signer(ttl: Int64, _ remaining: TokenCache.Remaining, size: Int = 10) throws -> Signer {
        try Signer(
            algorithm: .rs256, encoding: .base64url, ttl: ttl, key: Fixture.key("rsa2048-pkcs8.pem"),
            cache: (size, remaining), claims: [])
    }

    static func parse(_ options: [String]) throws(BackendJWTError) -> (size: Int, remaining: TokenCache.Remaining)? {
        try TokenCache.parse(options.map { [UInt8]($0.utf8) })
    }

    /// TTL 5 s with the default 10 %: half a second, which rounded down was 0, so a token was
    /// reused in the second its `exp` is (RFC 7519: expired). Whatever the options, a reused
    /// token has at least one second left.
    @Test(arguments: [TokenCache.Remaining.percent(10), .percent(0), .seconds(0)])
    func aCachedTokenIsNeverServedWithExpEqualToNow(_ remaining: TokenCache.Remaining) throws {
        let signer = try Self.signer(ttl: 5, remaining)
        let issued: Int64 = 1_700_000_000
        let first = try mint(signer, now: issued, ["i", "s"])
        #expect(try mint(signer, now: issued + 1, ["i", "s"]) == first)
        for now in issued...(issued + 6) {
            let token = try mint(signer, now: now, ["i", "s"])
            let exp = try #require(try DecodedToken(token).claims()["exp"] as? Int)
            #expect(Int64(exp) > now, "a token served at \(now) with exp \(exp)")
        }
    }

    /// A percentage of the TTL is rounded up: 10 % of 15 s is 2 s, not 1 s.
    @Test func thePercentageIsRoundedUp() throws {
        #expect(try Signer.minimumRemaining(.percent(10), ttl: 15) == 2)
        #expect(try Signer.minimumRemaining(.percent(10), ttl: 5) == 1)
        #expect(try Signer.minimumRemaining(.percent(10), ttl: 3600) == 360)
        #expect(try Signer.minimumRemaining(.percent(0), ttl: 3600) == 1)
        #expect(try Signer.minimumRemaining(.seconds(0), ttl: 3600) == 1)
        let signer = try Self.signer(ttl: 15, .percent(10))
        let issued: Int64 = 1_700_000_000
        let first = try mint(signer, now: issued, ["i", "s"])
        #expect(try mint(signer, now: issued + 13, ["i", "s"]) == first)  // 2 s left
        #expect(try mint(signer, now: issued + 14, ["i", "s"]) != first)  // 1 s left: below 2 s
    }

    /// A min_remaining not shorter than the TTL could never serve a token: refused, naming both.
    @Test(arguments: [
        (Int64(60), TokenCache.Remaining.seconds(60), "cache min_remaining=60s is not shorter than the token TTL (60s)"),
        (60, .seconds(120), "cache min_remaining=120s is not shorter than the token TTL (60s)"),
        (60, .percent(100), "cache min_remaining=100% is not shorter than the token TTL (60s)"),
    ])
    func aMinimumNotShorterThanTheTTLIsRefused(_ ttl: Int64, _ remaining: TokenCache.Remaining, _ message: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.signer(ttl: ttl, remaining) }
        #expect(error?.kind == .config)
        #expect(error?.message.hasPrefix(message + ": no cached token could be reused; lower min_remaining") == true,
                "\(error?.message ?? "")")
    }

    @Test func aMinimumShorterThanTheTTLIsAccepted() throws {
        _ = try Self.signer(ttl: 60, .seconds(59))
        _ = try Self.signer(ttl: 60, .percent(99))
    }

    /// The same option twice: `size=` was refused with the generic message, `min_remaining=`
    /// silently took the last.
    @Test(arguments: [
        (["size=10", "size=20"], "size="), (["size=10", "size=10"], "size="),
        (["size=10", "min_remaining=5s", "min_remaining=10%"], "min_remaining="),
        (["min_remaining=5s", "size=10", "min_remaining=5s"], "min_remaining="),
    ])
    func anOptionGivenTwiceIsRefused(_ options: [String], _ name: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.parse(options) }
        #expect(error?.message == "option \"\(name)\" is given twice")
    }

    @Test func optionsParse() throws {
        let parsed = try #require(try Self.parse(["size=10", "min_remaining=30s"]))
        #expect(parsed.size == 10)
        #expect(parsed.remaining == .seconds(30))
        #expect(try Self.parse(["off"]) == nil)
        #expect(try Self.parse(["min_remaining=5%", "size=3"])?.remaining == .percent(5))
    }
}
