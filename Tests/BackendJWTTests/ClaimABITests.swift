import BackendJWTABI
import CBackendJWT
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// The claim-mapping part of include/backend_jwt.h, called as the nginx module calls it:
/// bjwt_claims_add with options, bjwt_claims_append, bjwt_parse_not_before and the registered
/// claims in bjwt_signer_params. (bjwt_claims_add_wso2 and bjwt_claims_template: WSO2ClaimsTests.)
@Suite("C ABI: claim mapping")
struct ClaimABITests {
    typealias ErrorBuffer = ABITests.ErrorBuffer

    static func claims(_ handle: OpaquePointer?) -> [ClaimList.Claim] {
        guard let handle else { return [] }
        return Unmanaged<ClaimList>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().claims
    }

    /// A claim list with `names` (no options), failing the test if one is refused.
    static func list(_ names: [String]) throws -> OpaquePointer {
        let claims = bjwtClaimsCreate()
        for name in names { try #require(ABITests.addClaim(claims, name) == Int32(BJWT_OK)) }
        return claims
    }

    // MARK: bjwt_claims_add

    @Test func claimsAddTakesEveryOption() throws {
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        let err = ErrorBuffer()
        // One argument may hold blanks: nginx passes "separator= | " as one option.
        let rc = ABITests.addClaim(claims, "realm_access.roles", ["type=list", "separator= | ", "if_empty=empty"], err)
        #expect(rc == Int32(BJWT_OK), "\(err.message)")
        try #require(ABITests.addClaim(claims, "level", ["If_Empty=NULL", "TYPE=INT"]) == Int32(BJWT_OK))
        try #require(ABITests.addClaim(claims, #"a\.b"#, []) == Int32(BJWT_OK))
        let declared = Self.claims(claims)
        #expect(declared.map(\.path) == [["realm_access", "roles"], ["level"], ["a.b"]])
        #expect(declared.map(\.type) == [.list, .int, .string])
        #expect(declared.map(\.separator) == [[UInt8](" | "), [UInt8](","), [UInt8](",")])
        #expect(declared.map(\.ifEmpty) == [.empty, .null, .omit])
        #expect(declared.allSatisfy { $0.template == nil }, "bjwt_claims_add never sets a template")
        #expect(bjwtClaimsCount(claims) == 3)
    }

    @Test(arguments: [
        ("c", ["type=int", "type=long"], "option \"type=\" is given twice"),
        ("c", ["type=list", "separator="], "separator= needs at least one character"),
        ("c", ["separator=;"], "separator= is for type=list claims"),
        ("c", ["if_empty=never"], "unknown if_empty value \"never\"; use omit, null, empty or fail"),
        ("c", ["type=bool", "if_empty=empty"], "if_empty=empty is for string and list claims; type=bool has no empty form"),
        ("c", ["type=map"], "unknown claim type \"map\"; use string, int, long, float, bool, date, json or list"),
        ("c", ["format=x"], "unknown option \"format=x\"; use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail"),
        ("iss.x", [], "claim name \"iss\" is reserved: set it with backend_jwt_issuer"),
        ("a..b", [], "claim name \"a..b\" has an empty part between dots"),
        ("1.2.3.4.5.6.7.8.9", [], "claim name \"1.2.3.4.5.6.7.8.9\" nests deeper than 8 levels"),
        ("taken", [], "claim \"taken\" is declared twice"),
        ("taken.x", [], "claim \"taken.x\" conflicts with claim \"taken\""),
    ] as [(String, [String], String)])
    func claimsAddErrors(_ name: String, _ options: [String], _ message: String) throws {
        let claims = try Self.list(["taken"])
        defer { bjwtClaimsFree(claims) }
        let err = ErrorBuffer()
        #expect(ABITests.addClaim(claims, name, options, err) == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == message)
        #expect(err.untouchedPastCap)
        #expect(bjwtClaimsCount(claims) == 1, "a refused claim is not added")
    }

    @Test func claimsAddReadsOnlyTheGivenLengths() throws {
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        let name = [CChar]("a.bXYZ".utf8.map { CChar(bitPattern: $0) })
        let option = [CChar]("type=intEGER".utf8.map { CChar(bitPattern: $0) })
        let rc = name.withUnsafeBufferPointer { n in
            option.withUnsafeBufferPointer { o in
                var pointers: [UnsafePointer<CChar>?] = [o.baseAddress]
                var lengths = [8]
                return bjwtClaimsAdd(claims, n.baseAddress, 3, &pointers, &lengths, 1, nil, 0)
            }
        }
        #expect(rc == Int32(BJWT_OK))
        #expect(Self.claims(claims).map(\.path) == [["a", "b"]])
        #expect(Self.claims(claims).map(\.type) == [.int])
    }

    @Test func claimsAddWithMissingOptionArrays() {
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        for (pointers, lengths) in [(false, false), (true, false), (false, true)] {
            let err = ErrorBuffer()
            let rc = err.call { e, cap in
                ABITests.withBytes("c") { n, length in
                    ABITests.withArguments(["type=int"]) { p, l, count in
                        bjwtClaimsAdd(claims, n, length, pointers ? p : nil, lengths ? l : nil, count, e, cap)
                    }
                }
            }
            #expect(rc == Int32(BJWT_ERR_CONFIG))
            #expect(err.message == "missing arguments")
        }
        #expect(bjwtClaimsCount(claims) == 0)
    }

    /// A NULL option pointer is an empty option, which is no known option.
    @Test func aNullOptionIsAnEmptyOption() {
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        var pointers: [UnsafePointer<CChar>?] = [nil]
        var lengths = [5]
        let err = ErrorBuffer()
        let rc = err.call { e, cap in ABITests.withBytes("c") { bjwtClaimsAdd(claims, $0, $1, &pointers, &lengths, 1, e, cap) } }
        #expect(rc == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == "unknown option \"\"; use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail")
    }

    // MARK: bjwt_claims_append

    static func append(
        _ upper: OpaquePointer?, _ lower: OpaquePointer?, _ err: ErrorBuffer = ErrorBuffer()
    ) -> (status: Int32, merged: OpaquePointer?, conflict: Int) {
        var merged: OpaquePointer?
        var conflict = -1
        let rc = err.call { e, cap in bjwtClaimsAppend(upper, lower, &merged, &conflict, e, cap) }
        return (rc, merged, conflict)
    }

    @Test func appendMergesIntoANewList() throws {
        let upper = try Self.list(["platform", "org.unit"])
        let lower = try Self.list(["team", "org.team"])
        let result = Self.append(upper, lower)
        #expect(result.status == Int32(BJWT_OK))
        let merged = try #require(result.merged)
        #expect(merged != upper && merged != lower)
        #expect(Self.claims(merged).map(\.name) == ["platform", "org.unit", "team", "org.team"])
        #expect(bjwtClaimsCount(merged) == 4)
        #expect(bjwtClaimsCount(upper) == 2 && bjwtClaimsCount(lower) == 2)

        // The merged list is its own: it outlives its inputs and signs.
        weak var weakUpper = Unmanaged<ClaimList>.fromOpaque(UnsafeRawPointer(upper)).takeUnretainedValue()
        bjwtClaimsFree(upper)
        bjwtClaimsFree(lower)
        #expect(weakUpper == nil)
        let (rc, signer) = ABITests.createSigner(alg: BJWT_ALG_NONE, key: nil, claims: merged)
        bjwtClaimsFree(merged)
        try #require(rc == Int32(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let minted = ABITests.mintC(signer, now: 1_700_000_000, values: [nil, nil, "edge", "u1", "orders", "t1"])
        #expect(minted.status == Int32(BJWT_OK))
        #expect(try DecodedToken(minted.token).payload.hasSuffix(#","platform":"edge","org":{"unit":"u1","team":"t1"},"team":"orders"}"#))
    }

    @Test(arguments: [
        (["a"], ["x", "a"], 1, "claim \"a\" is declared twice, which backend_jwt_enforce keeps"),
        (["a"], ["x", "y", "a.b"], 2, "claim \"a.b\" conflicts with claim \"a\", which backend_jwt_enforce keeps"),
        (["a.b.c"], ["a.b"], 0, "claim \"a.b\" conflicts with claim \"a.b.c\", which backend_jwt_enforce keeps"),
    ] as [([String], [String], Int, String)])
    func appendReportsTheConflictIndex(_ upperNames: [String], _ lowerNames: [String], _ index: Int, _ message: String) throws {
        let upper = try Self.list(upperNames)
        let lower = try Self.list(lowerNames)
        defer {
            bjwtClaimsFree(upper)
            bjwtClaimsFree(lower)
        }
        let err = ErrorBuffer()
        let result = Self.append(upper, lower, err)
        #expect(result.status == Int32(BJWT_ERR_CONFIG))
        #expect(result.merged == nil)
        #expect(result.conflict == index)
        #expect(err.message == message)
        #expect(err.untouchedPastCap)
    }

    @Test func appendWithAbsentLists() throws {
        let lower = try Self.list(["a", "b.c"])
        defer { bjwtClaimsFree(lower) }
        for (upper, lower, names) in [(nil, lower, ["a", "b.c"]), (lower, nil, ["a", "b.c"]), (nil, nil, [])] as [(OpaquePointer?, OpaquePointer?, [String])] {
            let result = Self.append(upper, lower)
            #expect(result.status == Int32(BJWT_OK))
            let merged = try #require(result.merged)
            #expect(Self.claims(merged).map(\.name) == names)
            bjwtClaimsFree(merged)
        }
        // No conflict pointer is fine too.
        var merged: OpaquePointer?
        #expect(bjwtClaimsAppend(lower, nil, &merged, nil, nil, 0) == Int32(BJWT_OK))
        bjwtClaimsFree(merged)
    }

    @Test func appendNeedsAnOutputPointer() throws {
        let lower = try Self.list(["a"])
        defer { bjwtClaimsFree(lower) }
        let err = ErrorBuffer()
        var conflict = -1
        #expect(err.call { e, cap in bjwtClaimsAppend(nil, lower, nil, &conflict, e, cap) } == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == "output pointer is NULL")
    }

    // MARK: bjwt_parse_not_before

    static func parseNotBefore(_ text: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, Int64) {
        var leeway: Int64 = 12345
        let rc = err.call { e, cap in ABITests.withBytes(text) { bjwtParseNotBefore($0, $1, &leeway, e, cap) } }
        return (rc, leeway)
    }

    @Test(arguments: [
        ("off", -1), ("on", 0), ("OFF", -1), ("On", 0), ("0", 0), ("0s", 0), ("30", 30), ("30s", 30), ("1m 30s", 90),
        ("2h", 7200), ("4294967295", 4_294_967_295),
    ] as [(String, Int64)])
    func parseNotBefore(_ text: String, _ leeway: Int64) {
        let (rc, parsed) = Self.parseNotBefore(text)
        #expect(rc == Int32(BJWT_OK))
        #expect(parsed == leeway)
    }

    @Test(arguments: [
        ("soon", "invalid not-before leeway \"soon\"; use seconds (3600) or nginx time (1h, 90s, 1h 30m)"),
        ("", "invalid not-before leeway \"\"; use seconds (3600) or nginx time (1h, 90s, 1h 30m)"),
        ("-1", "invalid not-before leeway \"-1\"; use seconds (3600) or nginx time (1h, 90s, 1h 30m)"),
        ("onn", "invalid not-before leeway \"onn\"; use seconds (3600) or nginx time (1h, 90s, 1h 30m)"),
        ("30m1h", "invalid not-before leeway \"30m1h\"; use seconds (3600) or nginx time (1h, 90s, 1h 30m)"),
        ("4294967296", "not-before leeway \"4294967296\" is longer than 4294967295 seconds"),
        ("137y", "not-before leeway \"137y\" is longer than 4294967295 seconds"),
    ])
    func parseNotBeforeErrors(_ text: String, _ message: String) {
        let err = ErrorBuffer()
        let (rc, leeway) = Self.parseNotBefore(text, err)
        #expect(rc == Int32(BJWT_ERR_CONFIG))
        #expect(leeway == 12345, "the output is left alone")
        #expect(err.message == message)
    }

    @Test func parseNotBeforeNeedsAnOutputPointer() {
        let err = ErrorBuffer()
        #expect(err.call { e, cap in ABITests.withBytes("on") { bjwtParseNotBefore($0, $1, nil, e, cap) } } == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == "output pointer is NULL")
    }

    // MARK: Registered claims in bjwt_signer_params

    static func createSigner(
        alg: Int = BJWT_ALG_NONE, key: OpaquePointer? = nil, audiences: Int, nbfLeeway: Int64, jti: Int32,
        claims: OpaquePointer? = nil, _ err: ErrorBuffer = ErrorBuffer()
    ) -> (Int32, OpaquePointer?) {
        var signer: OpaquePointer?
        var params = ABITests.params(
            alg: Int32(alg), ttl: 3600, key: key, audiences: audiences, nbfLeeway: nbfLeeway, jti: jti, claims: claims)
        let rc = err.call { e, cap in bjwtSignerCreate(&params, &signer, e, cap) }
        return (rc, signer)
    }

    @Test func signerParamsCarryAudiencesNotBeforeAndJTI() throws {
        let claims = try Self.list(["c"])
        defer { bjwtClaimsFree(claims) }
        let (rc, signer) = Self.createSigner(audiences: 2, nbfLeeway: 30, jti: 0, claims: claims)
        try #require(rc == Int32(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let minted = ABITests.mintC(signer, now: 1_700_000_000, values: ["i", "s", "a1", "a2", "v"])
        #expect(minted.status == Int32(BJWT_OK))
        #expect(minted.untouchedAfterToken)
        #expect(
            try DecodedToken(minted.token).payload
                == #"{"iss":"i","sub":"s","aud":["a1","a2"],"iat":1700000000,"nbf":1699999970,"exp":1700003600,"c":"v"}"#)

        let count = ErrorBuffer()
        #expect(ABITests.mintC(signer, now: 0, values: ["i", "s", "a1", "v"], outCap: 4096, count).status == Int32(BJWT_ERR_CONFIG))
        #expect(count.message == "expected 5 values, got 4")
    }

    /// -1 is "no nbf" as the header says; any other negative leeway is taken the same way.
    @Test(arguments: [Int64(-1), -5, Int64.min])
    func aNegativeLeewayMeansNoNotBefore(_ leeway: Int64) throws {
        let (rc, signer) = Self.createSigner(audiences: 0, nbfLeeway: leeway, jti: 0)
        try #require(rc == Int32(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        #expect(try DecodedToken(ABITests.mintC(signer, now: 1_700_000_000, values: [nil, nil]).token).payload
                    == #"{"iat":1700000000,"exp":1700003600}"#)
    }

    @Test(arguments: [Int32(1), 2, -1, Int32.max])
    func anyNonZeroJTIIsOn(_ jti: Int32) throws {
        let (rc, signer) = Self.createSigner(audiences: 0, nbfLeeway: 0, jti: jti)
        try #require(rc == Int32(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let decoded = try DecodedToken(ABITests.mintC(signer, now: 1_700_000_000, values: [nil, nil]).token)
        #expect(decoded.payload.hasPrefix(#"{"iat":1700000000,"nbf":1700000000,"exp":1700003600,"jti":""#))
        #expect(try decoded.jti.count == 36)
    }

    @Test(arguments: [(-1, Int64(-1)), (Int.min, -1), (0, 4_294_967_296), (0, Int64.max)] as [(Int, Int64)])
    func outOfRangeRegisteredParamsAreRefused(_ audiences: Int, _ leeway: Int64) {
        let err = ErrorBuffer()
        let (rc, signer) = Self.createSigner(audiences: audiences, nbfLeeway: leeway, jti: 1, err)
        #expect(rc == Int32(BJWT_ERR_CONFIG))
        #expect(signer == nil)
        #expect(err.message == "audience count or not-before leeway is out of range")
    }

    /// An audience count near SIZE_MAX/2 passes the range check, but 2 + audiences + claims, and
    /// the bound's per-value bytes, overflow Int: the token bound should be "no bound" (or the
    /// signer refused), not a trap.
    @Test func aHugeAudienceCountDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            var params = ABITests.params(alg: Int32(BJWT_ALG_NONE), key: nil, audiences: Int.max, claims: nil)
            var signer: OpaquePointer?
            guard bjwtSignerCreate(&params, &signer, nil, 0) == Int32(BJWT_OK) else { return }
            _ = bjwtSignerTokenBound(signer, 10)
            bjwtSignerFree(signer)
        }
    }

    struct Registered: JWTPayload {
        struct Access: Codable, Equatable { var roles: [String] }
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var iat: IssuedAtClaim
        var nbf: NotBeforeClaim
        var exp: ExpirationClaim
        var jti: IDClaim
        var realm_access: Access
        var profile: [String: Int]

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try nbf.verifyNotBefore()
            try aud.verifyIntendedAudience(includes: "orders")
        }
    }

    /// Everything the module passes, end to end through the ABI, verified by jwt-kit.
    @Test func aCMintedTokenVerifiesWithJWTKit() async throws {
        let (keyStatus, key) = ABITests.loadKey("ec-p256.pem")
        try #require(keyStatus == Int32(BJWT_OK))
        defer { bjwtKeyFree(key) }
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        try #require(ABITests.addClaim(claims, "realm_access.roles", ["type=list"]) == Int32(BJWT_OK))
        try #require(ABITests.addClaim(claims, "profile", ["type=json", "if_empty=fail"]) == Int32(BJWT_OK))
        let (rc, signer) = Self.createSigner(alg: BJWT_ALG_ES256, key: key, audiences: 2, nbfLeeway: 0, jti: 1, claims: claims)
        try #require(rc == Int32(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let now = Int64(Date().timeIntervalSince1970)
        let values = ["https://gw.example", "alice", "orders", "billing", "admin, dev", #" {"age": 41} "#]
        let minted = ABITests.mintC(signer, now: now, values: values)
        try #require(minted.status == Int32(BJWT_OK))
        let verifier = await JWTKeyCollection().add(ecdsa: try ES256PublicKey(pem: Fixture.text("ec-p256-public.pem")))
        let payload = try await verifier.verify(minted.token, as: Registered.self)
        #expect(payload.aud.value == ["orders", "billing"])
        #expect(Int64(payload.nbf.value.timeIntervalSince1970) == now)
        #expect(payload.realm_access.roles == ["admin", "dev"])
        #expect(payload.profile == ["age": 41])

        let empty = ErrorBuffer()
        #expect(ABITests.mintC(signer, now: now, values: Array(values.dropLast()) + [""], empty).status == Int32(BJWT_ERR_VALUE))
        #expect(empty.message == "claim \"profile\" is empty (if_empty=fail)")
    }
}
