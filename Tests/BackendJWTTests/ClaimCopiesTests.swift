import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// `backend_jwt_copy_claims` and the caller-`exp` cap: the specs, what a minted token carries
/// from the caller's verified token, the cache with callers, and the token bound.
@Suite("Claim copies")
struct ClaimCopiesTests {
    typealias F = VerifyFixture

    static func parse(_ specs: [String]) throws(BackendJWTError) -> ClaimCopies? {
        try ClaimCopies.parse(specs.map { Array($0.utf8) })
    }

    /// A caller's token with `payload` (JSON text), HMAC-signed by hand and verified by the core.
    static func caller(_ payload: String, now: Int64 = F.now, leeway: Int64 = 0) throws -> VerifiedToken {
        let token = try F.handMade(header: #"{"alg":"HS256"}"#, payload: payload)
        let verifier = try F.verifier(
            F.keys(F.jwks([try F.jwk(.hs256)])), algorithms: [.hs256], issuers: [], audiences: [], leeway: leeway,
            requireExpiration: false)
        return try verifier.verify(token, now: now)
    }

    static func signer(
        _ specs: [String]?, claims: [(String, String)] = [], ttl: Int64 = 3600, cap: Bool = true,
        cache: (size: Int, remaining: TokenCache.Remaining)? = nil, jti: Bool = false
    ) throws -> Signer {
        try Signer(
            algorithm: .rs256, encoding: .base64url, ttl: ttl, key: Fixture.key("rsa2048-pkcs8.pem"),
            registered: Signer.Registered(jti: jti), cache: cache, claims: claimList(claims).claims,
            copies: specs.flatMap { try Self.parse($0) }, capToCaller: cap)
    }

    /// Mints with `caller` into a buffer of exactly the signer's bound (the mint fails if the
    /// bound is short). Declared claims past `values` are absent.
    static func mint(
        _ signer: Signer, now: Int64 = F.now, _ values: [String?] = ["i", "s"], caller: VerifiedToken?
    ) throws -> String {
        let values = values + Array(repeating: nil, count: max(signer.valueCount - values.count, 0))
        let bytes = values.map { $0.map { Array($0.utf8) } }
        let bound = signer.tokenBound(valueBytes: bytes.reduce(0) { $0 + ($1?.count ?? 0) }, caller: caller)
        let storage = bytes.map { value in
            value.map { value in
                let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(value.count, 1))
                _ = copy.initialize(from: value)
                return UnsafeBufferPointer(start: copy.baseAddress, count: value.count)
            }
        }
        defer { for value in storage { value?.deallocate() } }
        var out = [UInt8](repeating: 0, count: bound)
        let length = try out.withUnsafeMutableBufferPointer { buffer in
            try signer.mint(now: now, values: storage, caller: caller, into: buffer)
        }
        return String(decoding: out[..<length], as: UTF8.self)
    }

    /// The payload of a token minted with `caller`, as text.
    static func payload(_ signer: Signer, now: Int64 = F.now, caller: VerifiedToken?) throws -> String {
        try DecodedToken(mint(signer, now: now, caller: caller)).payload
    }

    static func exp(_ token: String) throws -> Int64 {
        try #require((try DecodedToken(token).claims()["exp"] as? NSNumber)?.int64Value)
    }

    /// The payload's start when no claim is declared and nothing is copied, with `exp`.
    static func head(exp: Int64 = F.now + 3600) -> String { #"{"iss":"i","sub":"s","iat":1700000000,"exp":\#(exp)"# }

    static let payload = #"""
        {"iss":"https://idp.example.com","sub":"alice","exp":1700000300,"iat":1699999990,"jti":"j1",
         "email":"alice@example.com","n":1.50e3,"admin":true,"none":null,"tags":["a",1,false],
         "realm_access":{"roles":["admin","user"]},"https://example.com/roles":["r1"],
         "quote":"a\"b\\c\n\u0001\u00e9","tenant":{"id":7,"name":"acme"}}
        """#

    // MARK: Parsing

    @Test func specsParse() throws {
        let copies = try #require(
            try Self.parse(["email", "realm_access.roles=roles", "https://example.com/roles", "*", "EXCEPT=a,b"]))
        #expect(
            copies.copies.map { String(decoding: $0.path.text, as: UTF8.self) }
                == ["email", "realm_access.roles", "https://example.com/roles"])
        #expect(
            copies.copies.map { String(decoding: $0.target, as: UTF8.self) }
                == ["email", "roles", "https://example.com/roles"])
        #expect(copies.all)
        #expect(copies.except == [Array("a".utf8), Array("b".utf8)])
        #expect(try Self.parse(["OfF"]) == nil)
        #expect(try Self.parse(["*"]) == ClaimCopies(copies: [], all: true, except: []))
        // A path may name a registered claim: only the target may not.
        #expect(try Self.parse(["sub=user"])?.copies.first?.target == Array("user".utf8))
    }

    @Test(arguments: [
        ([], "no claim to copy; give name, path=name or *"),
        (["a="], #"spec "a=" has an empty name"#),
        (["=a"], #"spec "=a" has an empty name"#),
        (["*", "except=a,,b"], #"spec "except=a,,b" has an empty name"#),
        (["*", "except="], #"spec "except=" has an empty name"#),
        (["email", "mail=email"], #"specs "email" and "mail=email" both copy to "email""#),
        (["except=a"], #"except= is only for "*""#),
        (["*", "email", "*"], #""*" is given twice"#),
        (["*", "except=a", "except=b"], "except= is given twice"),
        (["off", "email"], #""off" must stand alone (a claim named off is copied with off=off)"#),
        (["tab\there"], #"spec "tab\x09here" has a control character"#),
        (["jti"], #"spec "jti": "jti" is registered: the module sets it (backend_jwt_jti)"#),
        (["x=nbf"], #"spec "x=nbf": "nbf" is registered: set it with backend_jwt_not_before"#),
        (
            ["x=exp"],
            #"spec "x=exp": "exp" is registered: the module sets it (backend_jwt_caller_exp cap keeps it within the caller's)"#
        ),
        (
            ["sub"],
            #"spec "sub": "sub" is registered: set it with backend_jwt_subject (to pass the caller's on: backend_jwt_subject $backend_jwt_in_claim_sub)"#
        ),
        (
            ["user=iss"],
            #"spec "user=iss": "iss" is registered: set it with backend_jwt_issuer (to pass the caller's on: backend_jwt_issuer $backend_jwt_in_claim_iss)"#
        ),
        (
            ["aud"],
            #"spec "aud": "aud" is registered: set it with backend_jwt_audience (the backend's audience: the caller's names this gateway)"#
        ),
    ])
    func badSpecsAreRefused(_ specs: [String], _ message: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.parse(specs) }
        #expect(error?.kind == .config)
        #expect(error?.message == message)
    }

    @Test func invalidUTF8AndLongNamesAreRefused() {
        var error = #expect(throws: BackendJWTError.self) { _ = try ClaimCopies.parse([[0x61, 0xFF]]) }
        #expect(error?.message == #"spec "a\xff" is not valid UTF-8"#)
        let long = String(repeating: "x", count: ClaimList.maximumNameLength + 1)
        error = #expect(throws: BackendJWTError.self) { _ = try Self.parse(["a=" + long]) }
        #expect(error?.message == "spec \(shownInMessage("a=" + long)) has a name longer than 256 bytes")
        #expect(throws: Never.self) { _ = try Self.parse([String(repeating: "x", count: 256)]) }
    }

    /// A target that is a declared claim's top-level member is refused, naming both; a path into
    /// it is not, nor is `*` (which skips declared claims).
    @Test func targetsCollidingWithDeclaredClaimsAreRefused() throws {
        let claims = try claimList([("email", ""), ("realm_access.x", "")]).claims
        for (spec, claim) in [("email", "email"), ("x=realm_access", "realm_access.x")] {
            let error = #expect(throws: BackendJWTError.self) { try Self.parse([spec])?.checkConflicts(with: claims) }
            #expect(
                error?.message
                    == "backend_jwt_copy_claims \(shownInMessage(spec)) and backend_jwt_claim \(shownInMessage(claim)) "
                    + "both set \(shownInMessage(spec.split(separator: "=").last.map(String.init)!))")
        }
        try Self.parse(["realm_access.roles=roles", "*", "email=mail"])?.checkConflicts(with: claims)
        #expect(throws: BackendJWTError.self) { _ = try Self.signer(["email"], claims: [("email", "")]) }
    }

    // MARK: Copies at mint

    @Test func explicitCopiesKeepTheirJSONTypes() throws {
        let signer = try Self.signer([
            "email", "n", "admin", "none", "tags", "tenant", "quote", "realm_access.roles=roles",
            "https://example.com/roles", "tenant.id=tenant.id", "missing", "realm_access.missing=x",
        ])
        let payload = try Self.payload(signer, caller: Self.caller(Self.payload))
        #expect(
            payload == Self.head(exp: 1_700_000_300)
                + #","email":"alice@example.com","n":1.50e3,"admin":true,"none":null,"tags":["a",1,false],"#
                + #""tenant":{"id":7,"name":"acme"},"quote":"a\"b\\c\n\u0001\#u{e9}","roles":["admin","user"],"#
                + #""https://example.com/roles":["r1"],"tenant.id":7}"#)
        // Foundation reads the types back.
        let claims = try DecodedToken(Self.mint(signer, caller: Self.caller(Self.payload))).claims()
        #expect(claims["tenant.id"] as? Int == 7)
        #expect(claims["quote"] as? String == "a\"b\\c\n\u{1}\u{e9}")
    }

    /// `*`: the caller's members in its order, after the explicit copies, without registered
    /// names, except= names, declared claims and explicit targets.
    @Test func starCopiesTheRest() throws {
        let signer = try Self.signer(
            ["realm_access.roles=roles", "*", "except=quote,tags,absent", "n=email"],
            claims: [("tenant.plan", ""), ("admin", "type=bool")])
        let payload = try Self.payload(signer, caller: Self.caller(Self.payload))
        #expect(
            payload == Self.head(exp: 1_700_000_300)
                + #","roles":["admin","user"],"email":1.50e3,"n":1.50e3,"none":null,"#
                + #""realm_access":{"roles":["admin","user"]},"https://example.com/roles":["r1"]}"#)
        // A member whose name needs escaping is written escaped; look-alikes of registered
        // claims (any case) and names with a control character are not copied.
        let odd = try Self.payload(
            Self.signer(["*"]),
            caller: Self.caller(#"{"a\"b\\c":1,"a\u0007":2,"SUB":"y","Exp":4102444800,"sub":"x","exp":1700000300}"#))
        #expect(odd == Self.head(exp: 1_700_000_300) + #","a\"b\\c":1}"#)

        // Go's encoding/json folds names as ToUpper(ToLower(rune)): U+017F (long s), U+0131
        // (dotless i), U+0130 (I with dot) and U+212A (Kelvin) match s, i, i and k there.
        let folded = try Self.payload(
            Self.signer(["*"]),
            caller: Self.caller(
                #"{"\u017Fub":"y","\u0131ss":"y","jt\u0130":"y","\u0130at":1,"s\u212Aip":1,"\u00DFub":1,"sub":"x"}"#))
        #expect(folded == Self.head() + "," + #""s\#u{212A}ip":1,"\#u{DF}ub":1}"#)
        // A declared claim is skipped in any case too: a Go backend would take the caller's
        // `Tenant` written after the gateway's `tenant`.
        let declared = try DecodedToken(
            Self.mint(
                Self.signer(["*"], claims: [("tenant", "")]), ["i", "s", "t-op"],
                caller: Self.caller(#"{"Tenant":"evil","TENANT":"evil","tenant":"x","team":"a"}"#))
        ).payload
        #expect(declared == Self.head() + #","tenant":"t-op","team":"a"}"#)
    }

    @Test func withoutACallerNothingIsCopied() throws {
        let signer = try Self.signer(["email", "*"])
        #expect(try Self.payload(signer, caller: nil) == Self.head() + "}")
        #expect(signer.tokenBound(valueBytes: 2) == signer.tokenBound(valueBytes: 2, caller: nil))
        // Copies off: the caller only caps exp.
        #expect(
            try Self.payload(Self.signer(nil), caller: Self.caller(Self.payload)) == Self.head(exp: 1_700_000_300) + "}"
        )
    }

    /// End to end with independent JOSE: the caller's token made by jwt-kit (ES256), verified by
    /// the core, the minted RS256 token verified by jwt-kit.
    @Test func jwtKitMadeCallerIntoJWTKitVerifiedToken() async throws {
        struct Minted: JWTPayload {
            var sub: SubjectClaim
            var exp: ExpirationClaim
            var email: String
            var roles: [String]
            var realm_access: F.Claims.RealmAccess
            func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
        }
        let now = Int64(Date().timeIntervalSince1970)
        var claims = F.Claims()
        claims.exp = now + 120
        claims.iat = now - 10
        let token = try await F.token(.es256, claims: claims)
        let caller = try F.verifier(F.keys(file: F.publicKeyFile(.es256))).verify(token, now: now)
        let signer = try Self.signer(["realm_access.roles=roles", "*"], ttl: 3600)
        let minted = try Self.mint(signer, now: now, ["i", "alice"], caller: caller)
        let verifier = await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PublicKey(pem: Fixture.text("rsa2048-public.pem")), digestAlgorithm: .sha256)
        let payload = try await verifier.verify(minted, as: Minted.self)
        #expect(payload.sub.value == "alice")
        #expect(payload.email == "alice@example.com")
        #expect(payload.roles == ["admin", "user"])
        #expect(payload.realm_access == .init(roles: ["admin", "user"]))
        #expect(Int64(payload.exp.value.timeIntervalSince1970) == now + 120)
    }

    // MARK: The exp cap

    @Test func expIsCappedToTheCallers() throws {
        let signer = try Self.signer(nil, ttl: 600)
        // earlier, later, fractional (rounded down), absent
        #expect(try Self.exp(Self.mint(signer, caller: Self.caller(#"{"exp":1700000300}"#))) == 1_700_000_300)
        #expect(try Self.exp(Self.mint(signer, caller: Self.caller(#"{"exp":1700009999}"#))) == F.now + 600)
        #expect(try Self.exp(Self.mint(signer, caller: Self.caller(#"{"exp":1700000300.9}"#))) == 1_700_000_300)
        #expect(try Self.exp(Self.mint(signer, caller: Self.caller(#"{"sub":"x"}"#))) == F.now + 600)
        #expect(try Self.exp(Self.mint(signer, caller: nil)) == F.now + 600)
        // backend_jwt_caller_exp ignore
        let uncapped = try Self.signer(["email"], ttl: 600, cap: false)
        #expect(try Self.exp(Self.mint(uncapped, caller: Self.caller(#"{"exp":1700000300}"#))) == F.now + 600)
    }

    /// A caller accepted by the verifier's leeway after its exp: the minted exp is the last
    /// second the caller is accepted in (exp + leeway), so it is not born expired and lives no
    /// longer than the gateway accepts the caller.
    @Test func aCallerExpiredWithinTheLeewayLivesAsLongAsItIsAccepted() throws {
        let caller = try Self.caller(#"{"exp":1699999990}"#, leeway: 30)
        let signer = try Self.signer(nil, ttl: 600)
        #expect(try Self.payload(signer, caller: caller) == #"{"iss":"i","sub":"s","iat":1700000000,"exp":1700000020}"#)
    }

    // MARK: The cache

    /// One slot, so each caller's token replaces the last: a hit is a match of the whole key.
    @Test func theSameCallerHitsTheCacheAndOthersMiss() throws {
        let signer = try Self.signer(["email"], cache: (1, .seconds(30)), jti: true)
        let alice = try Self.caller(#"{"email":"alice@example.com","exp":1700000300}"#)
        let first = try Self.mint(signer, caller: alice)
        #expect(try Self.mint(signer, now: F.now + 5, caller: alice) == first)
        // The same token again, verified anew: still a hit.
        #expect(
            try Self.mint(
                signer, now: F.now + 5, caller: Self.caller(#"{"email":"alice@example.com","exp":1700000300}"#))
                == first)
        // Another email, another exp, no email, no caller: each its own token.
        let others = [
            try Self.caller(#"{"email":"bob@example.com","exp":1700000300}"#),
            try Self.caller(#"{"email":"alice@example.com","exp":1700000299}"#),
            try Self.caller(#"{"exp":1700000300}"#), nil,
        ]
        var tokens = [first]
        for other in others {
            let token = try Self.mint(signer, now: F.now + 1, caller: other)
            #expect(!tokens.contains(token))
            #expect(try Self.mint(signer, now: F.now + 2, caller: other) == token)
            tokens.append(token)
        }
        #expect(try DecodedToken(tokens[1]).claims()["email"] as? String == "bob@example.com")
        #expect(try Self.exp(tokens[2]) == 1_700_000_299)
        #expect(try !tokens.contains(Self.mint(signer, now: F.now + 3, caller: alice)))
    }

    /// Without copies the cap alone keys the cache: callers with the same exp share tokens,
    /// others do not; with the cap off a caller adds nothing.
    @Test func theCapAloneKeysTheCache() throws {
        let signer = try Self.signer(nil, cache: (1, .seconds(30)), jti: true)
        let first = try Self.mint(signer, caller: Self.caller(#"{"sub":"a","exp":1700000300}"#))
        #expect(try Self.mint(signer, caller: Self.caller(#"{"sub":"b","exp":1700000300}"#)) == first)
        #expect(try Self.mint(signer, caller: Self.caller(#"{"sub":"a","exp":1700000400}"#)) != first)
        let uncapped = try Self.signer(nil, cap: false, cache: (1, .seconds(30)), jti: true)
        let token = try Self.mint(uncapped, caller: Self.caller(#"{"exp":1700000300}"#))
        #expect(try Self.mint(uncapped, caller: Self.caller(#"{"exp":1700000400}"#)) == token)
        #expect(try Self.mint(uncapped, caller: nil) == token)
    }

    /// min_remaining is judged against the capped exp, not iat + ttl.
    @Test func minRemainingIsJudgedAgainstTheCappedExp() throws {
        let signer = try Self.signer(["email"], ttl: 3600, cache: (1, .seconds(30)), jti: true)
        let caller = try Self.caller(#"{"email":"a","exp":1700000100}"#)
        let first = try Self.mint(signer, caller: caller)
        #expect(try Self.exp(first) == 1_700_000_100)
        #expect(try Self.mint(signer, now: F.now + 70, caller: caller) == first)  // 30 s left
        let second = try Self.mint(signer, now: F.now + 71, caller: caller)  // 29 s left: minted anew
        #expect(second != first)
        #expect(try Self.exp(second) == 1_700_000_100)
        // A caller past its exp, accepted for 5 more seconds (the leeway): never reused.
        let late = try Self.caller(#"{"email":"a","exp":1699999990}"#, leeway: 15)
        #expect(try Self.mint(signer, caller: late) != Self.mint(signer, caller: late))
    }

    // MARK: The bound

    @Test func compactLengthIsTheLengthOfCompactJSON() throws {
        let caller = try Self.caller(Self.payload)
        #expect(caller.payload.compactLength == caller.payload.compactJSON.count)
        for value: JSONValue in [.object([]), .array([]), .string([0xFF, 0xC3, 0xA9, 0x00, 0x0A, 0x22, 0x80]), .null] {
            #expect(value.compactLength == value.compactJSON.count)
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0..<40, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            var writer = JSONWriter()
            writer.appendString(bytes)
            #expect(JSONWriter.stringLength(bytes) == writer.bytes.count)
        }
    }

    /// Large payloads, escapes and one claim copied many times: minting into a buffer of the
    /// bound never runs short, and the bound is not far off.
    @Test func theBoundHoldsForLargePayloads() throws {
        let escaped = String(repeating: "\\u0001\\\"é", count: 200)
        let members = (0..<40).map { #""m\#($0)":["\#(escaped.prefix(60))",{"k":\#($0)},true]"# }
        let payload =
            #"{"exp":1700000300,"big":"\#(escaped)","obj":{"s":"\#(escaped)"},"#
            + members.joined(separator: ",") + "}"
        let caller = try Self.caller(payload)
        for specs in [["*"], ["big=a", "big=b", "obj=c", "obj.s=d", "*", "except=m1"], ["missing"]] {
            let signer = try Self.signer(specs, claims: [("team", "")])
            let token = try Self.mint(signer, ["i", "s", String(repeating: "\u{1}", count: 500)], caller: caller)
            let bound = signer.tokenBound(valueBytes: 502, caller: caller)
            #expect(token.utf8.count <= bound)
            #expect(bound - token.utf8.count < 4096 + 500 * 6, "\(specs): bound \(bound), token \(token.utf8.count)")
        }
    }
}
