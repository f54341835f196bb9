import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// `aud` (`backend_jwt_audience`), `nbf` (`backend_jwt_not_before`) and `jti` (`backend_jwt_jti`)
/// beside `iss`, `sub`, `iat` and `exp`; and the token bound with all of them.
@Suite("Registered claims")
struct RegisteredClaimTests {
    static let now: Int64 = 1_700_000_000

    static func signer(
        _ algorithm: SigningAlgorithm = .none, key: String? = nil, ttl: Int64 = 3600, audiences: Int = 0,
        notBefore: Int64? = nil, jti: Bool = false, claims: [(String, String)] = []
    ) throws -> Signer {
        try makeSigner(
            algorithm, ttl: ttl, key: key,
            registered: Signer.Registered(audienceCount: audiences, notBeforeLeeway: notBefore, jti: jti), claims: claims)
    }

    static func payload(_ signer: Signer, now: Int64 = now, _ values: [String?]) throws -> String {
        try DecodedToken(try mint(signer, now: now, values)).payload
    }

    static var uuidV4: Regex<Substring> { /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/ }

    struct AllRegistered: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var iat: IssuedAtClaim
        var nbf: NotBeforeClaim
        var exp: ExpirationClaim
        var jti: IDClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try nbf.verifyNotBefore()
            try aud.verifyIntendedAudience(includes: "orders")
        }
    }

    static func verifier() async throws -> JWTKeyCollection {
        await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PublicKey(pem: Fixture.text("rsa2048-public.pem")), digestAlgorithm: .sha256)
    }

    // MARK: aud

    @Test(arguments: [
        (0, [], ""),
        (1, ["a"], #""aud":"a","#),
        (1, [nil], ""),
        (1, [""], ""),
        (2, ["a", "b"], #""aud":["a","b"],"#),
        (3, ["a", "", "b"], #""aud":["a","b"],"#),
        (3, [nil, "x", nil], #""aud":"x","#),
        (3, ["", "", ""], ""),
        (3, [nil, nil, nil], ""),
        (2, ["\"q\"", "é\u{1}\\"], #""aud":["\"q\"","é\u0001\\"],"#),
        (4, ["a", "a", "b", "a"], #""aud":["a","a","b","a"],"#),
        (2, ["https://orders.example.com", "urn:svc:billing"], #""aud":["https://orders.example.com","urn:svc:billing"],"#),
    ] as [(Int, [String?], String)])
    func oneAudienceIsAStringSeveralAnArrayNoneNothing(_ count: Int, _ audiences: [String?], _ aud: String) throws {
        let signer = try Self.signer(audiences: count)
        #expect(signer.valueCount == 2 + count)
        #expect(try Self.payload(signer, ["i", "s"] + audiences) == #"{"iss":"i","sub":"s","# + aud + #""iat":1700000000,"exp":1700003600}"#)
        #expect(try Self.payload(signer, [nil, ""] + audiences) == "{" + aud + #""iat":1700000000,"exp":1700003600}"#)
        let parsed = try DecodedToken(try mint(signer, now: Self.now, [nil, nil] + audiences)).claims()
        let present = audiences.compactMap { $0 }.filter { !$0.isEmpty }
        switch present.count {
        case 0: #expect(parsed["aud"] == nil)
        case 1: #expect(parsed["aud"] as? String == present[0])
        default: #expect(parsed["aud"] as? [String] == present)
        }
    }

    /// Values come in order: issuer, subject, the audiences, then the custom claims.
    @Test func customClaimsComeAfterTheAudiences() throws {
        let signer = try Self.signer(audiences: 2, claims: [("c", ""), ("n", "type=int")])
        #expect(signer.valueCount == 6)
        #expect(
            try Self.payload(signer, ["i", "s", "a1", "a2", "v", "7"])
                == #"{"iss":"i","sub":"s","aud":["a1","a2"],"iat":1700000000,"exp":1700003600,"c":"v","n":7}"#)
        let error = #expect(throws: BackendJWTError.self) { _ = try mint(signer, ["i", "s", "a1", "v", "7"]) }
        #expect(error?.kind == .config)
        #expect(error?.message == "expected 6 values, got 5")
    }

    @Test func jwtKitReadsEveryAudienceForm() async throws {
        let verifier = try await Self.verifier()
        let now = Int64(Date().timeIntervalSince1970)
        for (audiences, expected) in [(["orders"], ["orders"]), (["billing", "", "orders"], ["billing", "orders"])] {
            let signer = try Self.signer(.rs256, key: "rsa2048-pkcs8.pem", audiences: audiences.count, notBefore: 0, jti: true)
            let token = try mint(signer, now: now, ["https://gw.example", "alice"] + audiences)
            let payload = try await verifier.verify(token, as: AllRegistered.self)
            #expect(payload.aud.value == expected)
        }
        // A token for another audience is refused by the backend's check.
        let signer = try Self.signer(.rs256, key: "rsa2048-pkcs8.pem", audiences: 1, notBefore: 0, jti: true)
        let token = try mint(signer, now: now, ["https://gw.example", "alice", "billing"])
        await #expect(throws: (any Error).self) { _ = try await verifier.verify(token, as: AllRegistered.self) }
    }

    // MARK: nbf

    @Test(arguments: [(nil, nil), (0, 1_700_000_000), (30, 1_699_999_970), (3600, 1_699_996_400),
                      (4_294_967_295, 1_700_000_000 - 4_294_967_295)] as [(Int64?, Int64?)])
    func notBeforeIsIssuedAtMinusTheLeeway(_ leeway: Int64?, _ nbf: Int64?) throws {
        let signer = try Self.signer(notBefore: leeway)
        let expected = #"{"iat":1700000000,"# + (nbf.map { #""nbf":\#($0),"# } ?? "") + #""exp":1700003600}"#
        #expect(try Self.payload(signer, [nil, nil]) == expected)
    }

    @Test func notBeforeAtTheEarliestClock() throws {
        let signer = try Self.signer(notBefore: 0)
        #expect(
            try Self.payload(signer, now: Int64.min, [nil, nil])
                == #"{"iat":-9223372036854775808,"nbf":-9223372036854775808,"exp":-9223372036854772208}"#)
        let leeway = try Self.signer(notBefore: 30)
        #expect(
            try Self.payload(leeway, now: Int64.min + 30, [nil, nil])
                == #"{"iat":-9223372036854775778,"nbf":-9223372036854775808,"exp":-9223372036854772178}"#)
        // One second earlier nbf would not fit 64 bits: the token fails rather than wrap.
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.payload(leeway, now: Int64.min + 29, [nil, nil]) }
        #expect(error?.kind == .sign)
        #expect(error?.message.hasPrefix("the clock (-9223372036854775779)") == true, "\(error?.message ?? "")")
    }

    @Test(arguments: [
        Signer.Registered(audienceCount: -1), Signer.Registered(audienceCount: Int.min),
        Signer.Registered(notBeforeLeeway: -1), Signer.Registered(notBeforeLeeway: Int64.min),
        Signer.Registered(notBeforeLeeway: 4_294_967_296), Signer.Registered(notBeforeLeeway: Int64.max),
    ])
    func outOfRangeRegisteredSettingsAreRefused(_ registered: Signer.Registered) {
        let error = #expect(throws: BackendJWTError.self) {
            _ = try makeSigner(.none, key: nil, registered: registered)
        }
        #expect(error?.kind == .config)
        #expect(error?.message == "audience count or not-before leeway is out of range")
    }

    // MARK: jti

    @Test func jtiOffLeavesItOut() throws {
        let off = try Self.signer(jti: false)
        #expect(try Self.payload(off, ["i", "s"]) == #"{"iss":"i","sub":"s","iat":1700000000,"exp":1700003600}"#)
        let on = try DecodedToken(try mint(try Self.signer(jti: true), now: Self.now, ["i", "s"]))
        #expect(try on.jti.wholeMatch(of: Self.uuidV4) != nil)
        #expect(on.payload.hasPrefix(#"{"iss":"i","sub":"s","iat":1700000000,"exp":1700003600,"jti":""#))
    }

    /// The default is on, as `backend_jwt_jti` is.
    @Test func jtiIsOnByDefault() {
        #expect(Signer.Registered().jti)
        #expect(Signer.Registered().audienceCount == 0)
        #expect(Signer.Registered().notBeforeLeeway == nil)
    }

    // MARK: Order

    @Test func payloadOrderIsIssSubAudIatNbfExpJtiThenCustomClaims() throws {
        let signer = try Self.signer(audiences: 2, notBefore: 5, jti: true, claims: [("z", ""), ("a.b", "type=int"), ("y", "")])
        let decoded = try DecodedToken(try mint(signer, now: Self.now, ["i", "s", "x", "y", "v", "1", "w"]))
        let jti = try decoded.jti
        #expect(jti.wholeMatch(of: Self.uuidV4) != nil)
        #expect(
            decoded.payload
                == #"{"iss":"i","sub":"s","aud":["x","y"],"iat":1700000000,"nbf":1699999995,"exp":1700003600,"jti":""#
                + jti + #"","z":"v","a":{"b":1},"y":"w"}"#)
    }

    @Test func jwtKitVerifiesEveryRegisteredClaim() async throws {
        let signer = try Self.signer(.rs256, key: "rsa2048-pkcs8.pem", ttl: 600, audiences: 1, notBefore: 60, jti: true)
        let now = Int64(Date().timeIntervalSince1970)
        let token = try mint(signer, now: now, ["https://gw.example", "alice", "orders"])
        let payload = try await Self.verifier().verify(token, as: AllRegistered.self)
        #expect(payload.iss.value == "https://gw.example")
        #expect(payload.sub.value == "alice")
        #expect(Int64(payload.iat.value.timeIntervalSince1970) == now)
        #expect(Int64(payload.nbf.value.timeIntervalSince1970) == now - 60)
        #expect(Int64(payload.exp.value.timeIntervalSince1970) == now + 600)
        #expect(payload.jti.value.wholeMatch(of: Self.uuidV4) != nil)
    }

    /// A token whose nbf is still ahead is refused by jwt-kit: nbf is a real NumericDate.
    @Test func aFutureNotBeforeIsRefusedByJWTKit() async throws {
        let signer = try Self.signer(.rs256, key: "rsa2048-pkcs8.pem", audiences: 1, notBefore: 0, jti: true)
        let later = Int64(Date().timeIntervalSince1970) + 600
        let token = try mint(signer, now: later, ["i", "s", "orders"])
        await #expect(throws: (any Error).self) { _ = try await Self.verifier().verify(token, as: AllRegistered.self) }
    }

    // MARK: tokenBound

    struct WorstCase: Sendable, CustomTestStringConvertible {
        let name: String
        let audiences: Int
        let claims: [(String, String)]
        let list: @Sendable () throws -> ClaimList?
        let values: [[UInt8]?]
        var testDescription: String { name }

        init(
            _ name: String, audiences: Int = 0, claims: [(String, String)] = [], list: @escaping @Sendable () throws -> ClaimList? = { nil },
            _ values: [[UInt8]?]
        ) {
            self.name = name
            self.audiences = audiences
            self.claims = claims
            self.list = list
            self.values = values
        }
    }

    static let control = [UInt8](repeating: 0x01, count: 200)
    static func repeated(_ item: [UInt8], _ count: Int) -> [UInt8] { Array(Array(repeating: item, count: count).joined()) }
    static let deepNames = (0..<10).map { "a.b.c.d.e.f.g.\($0)" } + (0..<10).map { "x\($0).y" }

    static let worstCases: [WorstCase] = [
        WorstCase("control characters in every audience", audiences: 3, [control, control, control, control, control]),
        WorstCase("empty and absent audiences", audiences: 6, [nil, [], nil, [], nil, [], nil, []]),
        WorstCase("one-byte audiences", audiences: 12, Array(repeating: [0x01], count: 14)),
        WorstCase("quote audiences", audiences: 2, [[0x22], [0x5C], [0x22], [0x22]]),
        WorstCase(
            "nested objects with one-byte values", claims: deepNames.map { ($0, "") },
            [nil, nil] + Array(repeating: [0x01], count: 20)),
        WorstCase(
            "nested objects with empty values, if_empty=null", claims: deepNames.map { ($0, "type=int if_empty=null") },
            [nil, nil] + Array(repeating: nil, count: 20)),
        WorstCase(
            "lists of tiny items", claims: [("l", "type=list"), ("m", "type=list")],
            [nil, nil, repeated([UInt8](",a"), 500), repeated([0x2C, 0x01], 500)]),
        WorstCase(
            "lists of tiny control items with a one-byte separator",
            list: {
                let list = ClaimList()
                try list.add(name: [UInt8]("l"), options: [[UInt8]("type=list"), [UInt8]("separator=\u{7F}")])
                return list
            }, [nil, nil, repeated([0x7F, 0x01], 300) + [0x7F]]),
        WorstCase(
            "one-item lists", claims: (0..<10).map { ("l\($0)", "type=list") },
            [nil, nil] + Array(repeating: [0x01], count: 10)),
        WorstCase(
            "if_empty=null for every type", claims: ClaimType.allCases.map { ("n\($0)", "type=\($0) if_empty=null") },
            [nil, nil] + Array(repeating: [], count: ClaimType.allCases.count)),
        WorstCase(
            "if_empty=empty strings and lists",
            claims: [("s", "if_empty=empty"), ("l", "type=list if_empty=empty"), ("o.s", "if_empty=empty")],
            [nil, nil, nil, nil, []]),
        WorstCase(
            "json values", claims: [("j", "type=json"), ("k", "type=json")],
            [nil, nil, [UInt8]("[\"\\u0001\",1,{\"a\":[]}]"), [UInt8]("0")]),
        WorstCase(
            "long escaped nested names",
            claims: [(Array(repeating: String(repeating: "\"", count: 30), count: 8).joined(separator: "."), "type=bool"),
                     ("é.\"", "")],
            [nil, nil, [UInt8]("1"), [0xFF]]),
        WorstCase(
            "everything at once", audiences: 3,
            claims: [("a.b", "type=list"), ("a.c", "type=bool if_empty=null"), ("d", "type=json"), ("e.f.g", "if_empty=empty")],
            [control, [0xFF], [0x01], [], [0x22], repeated([UInt8](",\u{1}"), 50), nil, [UInt8]("{}"), nil]),
    ]

    @Test(arguments: worstCases, ["rsa2048-pkcs8.pem", "rsa4096-pkcs8.pem", nil] as [String?])
    func tokenBoundIsNeverSmallerThanTheToken(_ worst: WorstCase, _ key: String?) throws {
        let list = try worst.list() ?? claimList(worst.claims)
        // The longest leeway and TTL with the earliest clock give 20-digit iat, nbf and exp.
        let leeway: Int64 = 4_294_967_295
        let signer = try makeSigner(
            key == nil ? .none : .rs256, ttl: 4_294_967_295, key: key,
            registered: Signer.Registered(audienceCount: worst.audiences, notBeforeLeeway: leeway, jti: true), list: list)
        #expect(signer.valueCount == worst.values.count)
        let total = worst.values.reduce(0) { $0 + ($1?.count ?? 0) }
        let bound = signer.tokenBound(valueBytes: total)
        for now in [Int64.min + leeway, -1, 0, Self.now] {
            let token = try mint(signer, now: now, values: worst.values, capacity: bound)
            #expect(token.utf8.count <= bound, "now \(now)")
            _ = try DecodedToken(token).claims()
        }
    }
}
