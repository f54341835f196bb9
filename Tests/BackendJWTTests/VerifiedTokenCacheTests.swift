import Foundation
import Testing

@testable import BackendJWT

/// `backend_jwt_verify_cache`: verified tokens kept per worker, keyed by the token's full bytes;
/// a hit skips the signature but not the claim checks, never serves past `exp`, and never
/// outlives the fetched key that verified it.
@Suite("Verified token cache")
struct VerifiedTokenCacheTests {
    typealias F = VerifyFixture

    /// A verifier of HS256 tokens (the fixture secret, kid k1) with a cache of `size`.
    static func verifier(size: Int, leeway: Int64 = 0) throws -> JWSVerifier {
        try JWSVerifier(
            keys: try F.keys(F.jwks([try F.jwk(.hs256)])), algorithms: [.hs256],
            issuers: [Array("https://idp.example.com".utf8)], audiences: [Array("orders-api".utf8)], leeway: leeway,
            cacheSize: size)
    }

    /// An HS256 token whose `sub` is `subject`, expiring at `exp`.
    static func token(_ subject: String = "alice", exp: Int64 = F.now + 300) throws -> [UInt8] {
        try F.handMade(
            header: #"{"alg":"HS256","kid":"k1"}"#,
            payload:
                #"{"iss":"https://idp.example.com","sub":"\#(subject)","aud":"orders-api","exp":\#(exp),"iat":\#(F.now - 10)}"#
        )
    }

    @Test("a repeated token is a hit: the same parsed token, no second verification")
    func hit() throws {
        let verifier = try Self.verifier(size: 16)
        let cache = try #require(verifier.cache)
        let token = try Self.token()
        let first = try verifier.verify(token, now: F.now)
        let second = try verifier.verify(token, now: F.now + 1)
        #expect(cache.stores == 1 && cache.hits == 1)
        #expect(second.payload == first.payload && second.key === first.key)
        #expect(second.claim("sub") == Array("alice".utf8))
        // the C ABI's path (a buffer) finds the same entry
        let third = try token.withUnsafeBufferPointer { buffer in try verifier.verify(buffer, now: F.now + 2) }
        #expect(third.payload == first.payload && cache.hits == 2 && cache.stores == 1)
        #expect(cache.count == 1)
    }

    @Test("a token kept past its exp is refused, as verification would refuse it, and forgotten")
    func expiresWhileCached() throws {
        let verifier = try Self.verifier(size: 16)
        let cache = try #require(verifier.cache)
        let token = try Self.token(exp: F.now + 60)
        _ = try verifier.verify(token, now: F.now)
        _ = try verifier.verify(token, now: F.now + 59)
        let reason = F.refusal(verifier, token, now: F.now + 60)
        #expect(reason == "the token expired (exp \(F.now + 60))")
        #expect(cache.count == 0)
        #expect(F.refusal(verifier, token, now: F.now + 61) == "the token expired (exp \(F.now + 60))")
    }

    @Test("the leeway applies to cached tokens as to others")
    func leeway() throws {
        let verifier = try Self.verifier(size: 16, leeway: 30)
        let token = try Self.token(exp: F.now + 60)
        _ = try verifier.verify(token, now: F.now)
        #expect(F.refusal(verifier, token, now: F.now + 89) == nil)
        #expect(F.refusal(verifier, token, now: F.now + 90) != nil)
    }

    @Test("a refused token is not kept")
    func refusedNotKept() throws {
        let verifier = try Self.verifier(size: 16)
        var token = try Self.token()
        token[token.count - 2] ^= 0x01  // the signature changes
        #expect(F.refusal(verifier, token) != nil)
        #expect(verifier.cache?.count == 0 && verifier.cache?.stores == 0)
    }

    @Test("two tokens of one slot replace each other; each verifies again")
    func sameSlot() throws {
        let verifier = try Self.verifier(size: 1)
        let cache = try #require(verifier.cache)
        let alice = try Self.token("alice")
        let bob = try Self.token("bob")
        #expect(try verifier.verify(alice, now: F.now).claim("sub") == Array("alice".utf8))
        #expect(try verifier.verify(bob, now: F.now).claim("sub") == Array("bob".utf8))
        #expect(try verifier.verify(alice, now: F.now).claim("sub") == Array("alice".utf8))
        #expect(cache.hits == 0 && cache.stores == 3 && cache.count == 1)
    }

    @Test("an equal hash is not enough: the bytes are compared in full")
    func equalHash() throws {
        let verifier = try Self.verifier(size: 4)
        let cache = try #require(verifier.cache)
        let alice = try Self.token("alice")
        let mallory = try Self.token("malice")
        let verified = try verifier.verify(alice, now: F.now)
        cache.store(hash: 42, token: alice, verified: verified, remoteGeneration: nil)
        #expect(mallory.withUnsafeBytes { cache.lookup(hash: 42, token: $0) } == nil)
        #expect(alice.withUnsafeBytes { cache.lookup(hash: 42, token: $0) }?.verified.payload == verified.payload)
        // a prefix of the kept token, same hash: no match either
        #expect(Array(alice.dropLast()).withUnsafeBytes { cache.lookup(hash: 42, token: $0) } == nil)
    }

    @Test("bounded: 1,000 distinct tokens through a cache of 8 keep at most 8")
    func bounded() throws {
        let verifier = try Self.verifier(size: 8)
        let cache = try #require(verifier.cache)
        for index in 0..<1000 {
            _ = try verifier.verify(try Self.token("user\(index)"), now: F.now)
        }
        #expect(cache.count <= 8 && cache.count > 0)
        #expect(cache.stores == 1000)
    }

    @Test("sizes outside 1...1000000 are refused")
    func sizes() throws {
        for size in [0, -1, 1_000_001] {
            #expect(throws: BackendJWTError.self) { try VerifiedTokenCache(capacity: size) }
        }
        #expect(try VerifiedTokenCache(capacity: 1_000_000).capacity == 1_000_000)
    }

    @Test("a token verified by a fetched key is verified again when the set changes, and refused when it is gone")
    func fetchedKeys() async throws {
        let set = try RemoteKeySetTests.fetched(try RemoteKeySetTests.ecSet("e1"))
        let verifier = try RemoteKeySetTests.verifier(set, cacheSize: 16)
        let cache = try #require(verifier.cache)
        let token = try await F.token(.es256, kid: "e1")
        _ = try verifier.verify(token, now: F.now)
        _ = try verifier.verify(token, now: F.now + 1)
        #expect(cache.hits == 1 && cache.stores == 1)
        // the same set refetched: still a hit
        set.begin(now: F.now + 100)
        #expect(
            set.finish(status: 200, cacheControl: nil, body: try RemoteKeySetTests.ecSet("e1"), now: F.now + 100) == nil
        )
        _ = try verifier.verify(token, now: F.now + 101)
        #expect(cache.stores == 1)
        // a changed set that still has the key: verified once more, then kept again
        let both = RemoteKeySetTests.body([
            try F.jwk(.es256, ["kid": "\"e1\""]), try F.jwk(.rs256, ["kid": "\"r1\""]),
        ])
        set.begin(now: F.now + 201)
        #expect(set.finish(status: 200, cacheControl: nil, body: both, now: F.now + 201) == nil)
        _ = try verifier.verify(token, now: F.now + 202)
        #expect(cache.stores == 2)
        // the key rotated out: the kept token is not served
        set.begin(now: F.now + 203)
        #expect(
            set.finish(status: 200, cacheControl: nil, body: try RemoteKeySetTests.rsaSet("r1"), now: F.now + 203)
                == nil)
        #expect(RemoteKeySetTests.error(verifier, token, now: F.now + 204)?.kind == .unknownKey)
    }

    @Test("a token verified by a fetched key is not served once the set is past its maximum staleness")
    func fetchedKeysExpire() async throws {
        let set = try RemoteKeySetTests.fetched(try RemoteKeySetTests.ecSet("e1"), cacheControl: "max-age=60")
        let verifier = try JWSVerifier(keys: [], requireExpiration: false, remote: set, cacheSize: 16)
        var claims = F.Claims()
        claims.exp = nil
        let token = try await F.token(.es256, kid: "e1", claims: claims)
        _ = try verifier.verify(token, now: F.now)
        let end = F.now + 60 + RemoteKeySet.maximumStale
        _ = try verifier.verify(token, now: end - 1)
        #expect(verifier.cache?.hits == 1)
        #expect(RemoteKeySetTests.error(verifier, token, now: end)?.kind == .unavailable)
    }

    @Test("a token verified by a configured key stays kept whatever the fetched set does")
    func configuredKeyKept() async throws {
        let set = RemoteKeySet(uri: RemoteKeySetTests.uri)
        let file = try F.keys(F.jwks([try F.jwk(.rs256, ["kid": "\"file\""])]))
        let verifier = try RemoteKeySetTests.verifier(set, keys: file, cacheSize: 16)
        let token = try await F.token(.rs256, kid: "file")
        _ = try verifier.verify(token, now: F.now)
        _ = try verifier.verify(token, now: F.now + 1)
        #expect(verifier.cache?.hits == 1 && verifier.cache?.stores == 1)
    }
}
