@testable import BackendJWTABI
import CBackendJWT
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// The claim-mapping part of the C ABI, called as the nginx module calls it: backend_jwt_claim
/// through bjwt_directive, claims that backend_jwt_enforce keeps through bjwt_level_merge,
/// backend_jwt_not_before and the registered claims of a location's signer.
/// (backend_jwt_wso2_claims and bjwt_config_template: WSO2ClaimsTests.)
@Suite("C ABI: claim mapping")
struct ClaimABITests {
    typealias ErrorBuffer = ABITests.ErrorBuffer
    typealias Conf = ABITests.Conf

    static func claims(_ conf: Conf, _ level: OpaquePointer) -> [ClaimList.Claim] {
        conf.settings(level).claims.value?.list.claims ?? []
    }

    /// backend_jwt_claim: `name`, a value (a variable unless given), options.
    @discardableResult
    static func addClaim(
        _ conf: Conf, _ level: OpaquePointer?, _ name: String, _ options: [String] = [], value: String = "$v",
        _ err: ErrorBuffer = ErrorBuffer()
    ) -> Int32 {
        conf.directive(level, "backend_jwt_claim", [name, value] + options, err)
    }

    /// A level with claims `names` (no options), failing the test if one is refused.
    static func list(_ conf: Conf, _ names: [String], level: OpaquePointer? = nil) throws -> OpaquePointer {
        let level = level ?? conf.level()
        for name in names { try #require(Self.addClaim(conf, level, name) == Int32(BJWT_OK)) }
        return level
    }

    // MARK: backend_jwt_claim

    @Test func claimsAddTakesEveryOption() throws {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        // One argument may hold blanks: nginx passes "separator= | " as one option.
        let rc = Self.addClaim(conf, level, "realm_access.roles", ["type=list", "separator= | ", "if_empty=empty"], value: "$groups", err)
        #expect(rc == Int32(BJWT_OK), "\(err.message)")
        try #require(Self.addClaim(conf, level, "level", ["If_Empty=NULL", "TYPE=INT"], value: "$level") == Int32(BJWT_OK))
        try #require(Self.addClaim(conf, level, #"a\.b"#, [], value: "constant") == Int32(BJWT_OK))
        let declared = Self.claims(conf, level)
        #expect(declared.map(\.path) == [["realm_access", "roles"], ["level"], ["a.b"]])
        #expect(declared.map(\.type) == [.list, .int, .string])
        #expect(declared.map(\.separator) == [[UInt8](" | "), [UInt8](","), [UInt8](",")])
        #expect(declared.map(\.ifEmpty) == [.empty, .null, .omit])
        #expect(declared.allSatisfy { $0.template == nil }, "backend_jwt_claim's value is a configuration template, not the claim's")
        #expect(conf.templates == ["$groups", "$level", "constant"])
        #expect(conf.settings(level).claims.value?.places == [1, 2, 3].map { Where(file: Conf.file, line: $0) })
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
        let conf = Conf()
        let level = try Self.list(conf, ["taken"])
        let err = ErrorBuffer()
        #expect(Self.addClaim(conf, level, name, options, err) == Int32(BJWT_ERR_CONFIG))
        #expect(err.message == "\"backend_jwt_claim\" directive: " + message)
        #expect(err.untouchedPastCap)
        #expect(Self.claims(conf, level).count == 1, "a refused claim is not added")
        #expect(bjwtConfigTemplates(conf.handle) == 1, "nor its value")
    }

    @Test func claimsAddReadsOnlyTheGivenLengths() throws {
        let conf = Conf()
        let level = conf.level()
        let name = [CChar]("a.bXYZ".utf8.map { CChar(bitPattern: $0) })
        let value = [CChar]("$vWXYZ".utf8.map { CChar(bitPattern: $0) })
        let option = [CChar]("type=intEGER".utf8.map { CChar(bitPattern: $0) })
        let rc = name.withUnsafeBufferPointer { n in
            value.withUnsafeBufferPointer { v in
                option.withUnsafeBufferPointer { o in
                    var pointers: [UnsafePointer<CChar>?] = [n.baseAddress, v.baseAddress, o.baseAddress]
                    var lengths = [3, 2, 8]
                    return ABITests.withBytes("backend_jwt_claim") {
                        bjwtDirective(conf.handle, level, $0, $1, &pointers, &lengths, 3, nil, 0, 1, 0, nil, nil, 0)
                    }
                }
            }
        }
        #expect(rc == Int32(BJWT_OK))
        #expect(Self.claims(conf, level).map(\.path) == [["a", "b"]])
        #expect(Self.claims(conf, level).map(\.type) == [.int])
        #expect(conf.templates == ["$v"])
    }

    @Test func claimsAddWithMissingOptionArrays() {
        let conf = Conf()
        let level = conf.level()
        for (pointers, lengths) in [(false, false), (true, false), (false, true)] {
            let err = ErrorBuffer()
            let rc = err.call { e, cap in
                ABITests.withBytes("backend_jwt_claim") { n, length in
                    ABITests.withArguments(["c", "$c", "type=int"]) { p, l, count in
                        bjwtDirective(conf.handle, level, n, length, pointers ? p : nil, lengths ? l : nil, count, nil, 0, 1, 0, nil, e, cap)
                    }
                }
            }
            #expect(rc == Int32(BJWT_ERR_CONFIG))
            #expect(err.message == "missing arguments")
        }
        #expect(Self.claims(conf, level).isEmpty)
        #expect(bjwtConfigTemplates(conf.handle) == 0)
    }

    /// A NULL option pointer is an empty option, which is no known option.
    @Test func aNullOptionIsAnEmptyOption() {
        let conf = Conf()
        let level = conf.level()
        let c = [CChar]("c$c".utf8.map { CChar(bitPattern: $0) })
        let err = ErrorBuffer()
        let rc = c.withUnsafeBufferPointer { text in
            var pointers: [UnsafePointer<CChar>?] = [text.baseAddress, text.baseAddress! + 1, nil]
            var lengths = [1, 2, 5]
            return err.call { e, cap in
                ABITests.withBytes("backend_jwt_claim") {
                    bjwtDirective(conf.handle, level, $0, $1, &pointers, &lengths, 3, nil, 0, 1, 0, nil, e, cap)
                }
            }
        }
        #expect(rc == Int32(BJWT_ERR_CONFIG))
        #expect(
            err.message
                == "\"backend_jwt_claim\" directive: unknown option \"\"; use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail")
    }

    // MARK: Claims kept by backend_jwt_enforce (bjwt_level_merge)

    /// An http level, a server level with `backend_jwt_enforce on` (signing with NONE) and claims
    /// `upper`, a location with claims `lower`; the server is merged into http. Lines: enforce,
    /// backend_jwt, algorithm, then one per claim.
    static func enforced(_ conf: Conf, upper: [String], lower: [String]) throws -> (server: OpaquePointer, location: OpaquePointer) {
        let http = conf.level()
        let server = conf.level()
        try conf.apply(server, [("backend_jwt_enforce", ["on"]), ("backend_jwt", ["on"]), ("backend_jwt_signing_algorithm", ["NONE"])])
        _ = try Self.list(conf, upper, level: server)
        let location = try Self.list(conf, lower)
        let err = ErrorBuffer()
        try #require(conf.merge(http, server, err) == Int32(BJWT_OK), "\(err.message)")
        return (server, location)
    }

    @Test func appendMergesIntoANewList() throws {
        let conf = Conf()
        let (server, location) = try Self.enforced(conf, upper: ["platform", "org.unit"], lower: ["team", "org.team"])
        let err = ErrorBuffer()
        #expect(conf.merge(server, location, err) == Int32(BJWT_OK), "\(err.message)")
        let merged = try #require(conf.settings(location).claims.value)
        #expect(merged.list !== conf.settings(server).claims.value?.list)
        #expect(merged.list.claims.map(\.name) == ["platform", "org.unit", "team", "org.team"])
        #expect(Self.claims(conf, server).count == 2)
        #expect(merged.templates.count == 4)
        #expect(merged.places.map(\.line) == [4, 5, 6, 7])

        // The merged list is its own: it outlives the enforcing level and signs.
        let out = try conf.location(location)
        let signer = try #require(out.signer)
        #expect(try out.signer != conf.location(server).signer)
        weak var upper = conf.settings(server).claims.value?.list
        conf.free(server)
        #expect(upper == nil)
        let minted = ABITests.mintC(signer, now: 1_700_000_000, values: [nil, nil, "edge", "u1", "orders", "t1"])
        #expect(minted.status == Int32(BJWT_OK))
        #expect(try DecodedToken(minted.token).payload.hasSuffix(#","platform":"edge","org":{"unit":"u1","team":"t1"},"team":"orders"}"#))
    }

    /// The merge fails at the line of the location's claim that collides.
    @Test(arguments: [
        (["a"], ["x", "a"], 1, "claim \"a\" is declared twice, which backend_jwt_enforce keeps"),
        (["a"], ["x", "y", "a.b"], 2, "claim \"a.b\" conflicts with claim \"a\", which backend_jwt_enforce keeps"),
        (["a.b.c"], ["a.b"], 0, "claim \"a.b\" conflicts with claim \"a.b.c\", which backend_jwt_enforce keeps"),
    ] as [([String], [String], Int, String)])
    func appendReportsTheConflictIndex(_ upperNames: [String], _ lowerNames: [String], _ index: Int, _ message: String) throws {
        let conf = Conf()
        let (server, location) = try Self.enforced(conf, upper: upperNames, lower: lowerNames)
        let err = ErrorBuffer()
        #expect(conf.merge(server, location, err) == Int32(BJWT_ERR_CONFIG))
        #expect(try conf.location(location).signer == nil)
        let line = 3 + upperNames.count + index + 1
        #expect(err.message == "backend_jwt: " + message + Conf.at(line))
        #expect(err.untouchedPastCap)
    }

    @Test func appendWithAbsentLists() throws {
        for (upper, lower, names) in [([], ["a", "b.c"], ["a", "b.c"]), (["a", "b.c"], [], ["a", "b.c"]), ([], [], [])] as [([String], [String], [String])] {
            let conf = Conf()
            let (server, location) = try Self.enforced(conf, upper: upper, lower: lower)
            let err = ErrorBuffer()
            #expect(conf.merge(server, location, err) == Int32(BJWT_OK), "\(err.message)")
            #expect(Self.claims(conf, location).map(\.name) == names)
            #expect(try conf.location(location).nvalues == 2 + names.count)
        }
    }

    // MARK: backend_jwt_not_before

    static func parseNotBefore(_ text: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, Setting<Int64?>) {
        let conf = Conf()
        let level = conf.level()
        let rc = conf.directive(level, "backend_jwt_not_before", [text], err)
        return (rc, conf.settings(level).notBefore)
    }

    /// nil: off, no nbf.
    @Test(arguments: [
        ("off", nil), ("on", 0), ("OFF", nil), ("On", 0), ("0", 0), ("0s", 0), ("30", 30), ("30s", 30), ("1m 30s", 90),
        ("2h", 7200), ("4294967295", 4_294_967_295),
    ] as [(String, Int64?)])
    func parseNotBefore(_ text: String, _ leeway: Int64?) {
        let (rc, parsed) = Self.parseNotBefore(text)
        #expect(rc == Int32(BJWT_OK))
        #expect(parsed.place != nil)
        #expect(parsed.value == .some(leeway))
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
        #expect(leeway.place == nil, "the level is left alone")
        #expect(err.message == "\"backend_jwt_not_before\" directive: " + message)
    }

    // MARK: Registered claims of a location's signer

    /// A location signing with NONE (TTL 3600) and `directives`.
    static func location(_ conf: Conf, _ directives: [(String, [String])]) throws -> bjwt_location {
        try conf.enabledLocation([("backend_jwt_signing_algorithm", ["NONE"])] + directives)
    }

    @Test func locationsCarryAudiencesNotBeforeAndJTI() throws {
        let conf = Conf()
        let out = try Self.location(conf, [
            ("backend_jwt_issuer", ["$iss"]), ("backend_jwt_subject", ["$sub"]), ("backend_jwt_audience", ["$a1", "$a2"]),
            ("backend_jwt_not_before", ["30"]), ("backend_jwt_jti", ["off"]), ("backend_jwt_claim", ["c", "$c"]),
        ])
        #expect(ABITests.valueTemplates(conf, out) == ["$iss", "$sub", "$a1", "$a2", "$c"])
        let minted = ABITests.mintC(out.signer, now: 1_700_000_000, values: ["i", "s", "a1", "a2", "v"])
        #expect(minted.status == Int32(BJWT_OK))
        #expect(minted.untouchedAfterToken)
        #expect(
            try DecodedToken(minted.token).payload
                == #"{"iss":"i","sub":"s","aud":["a1","a2"],"iat":1700000000,"nbf":1699999970,"exp":1700003600,"c":"v"}"#)

        let count = ErrorBuffer()
        #expect(ABITests.mintC(out.signer, now: 0, values: ["i", "s", "a1", "v"], outCap: 4096, count).status == Int32(BJWT_ERR_CONFIG))
        #expect(count.message == "expected 5 values, got 4")
    }

    /// `off`, in any case, and no backend_jwt_not_before at all: no nbf.
    @Test(arguments: ["off", "OFF", "Off", nil] as [String?])
    func notBeforeOffMeansNoNotBefore(_ off: String?) throws {
        let conf = Conf()
        let out = try Self.location(conf, [("backend_jwt_jti", ["off"])] + (off.map { [("backend_jwt_not_before", [$0])] } ?? []))
        #expect(try DecodedToken(ABITests.mintC(out.signer, now: 1_700_000_000, values: [nil, nil]).token).payload
                    == #"{"iat":1700000000,"exp":1700003600}"#)
    }

    /// `on`, in any case, and no backend_jwt_jti at all: a jti.
    @Test(arguments: ["on", "ON", "On", nil] as [String?])
    func jtiIsOnByDefault(_ on: String?) throws {
        let conf = Conf()
        let out = try Self.location(conf, [("backend_jwt_not_before", ["on"])] + (on.map { [("backend_jwt_jti", [$0])] } ?? []))
        let decoded = try DecodedToken(ABITests.mintC(out.signer, now: 1_700_000_000, values: [nil, nil]).token)
        #expect(decoded.payload.hasPrefix(#"{"iat":1700000000,"nbf":1700000000,"exp":1700003600,"jti":""#))
        #expect(try decoded.jti.count == 36)
    }

    /// What no directive can give a signer is still refused by it.
    @Test(arguments: [(-1, Int64(-1)), (Int.min, -1), (0, 4_294_967_296), (0, Int64.max), (-1, nil), (1025, nil)] as [(Int, Int64?)])
    func outOfRangeRegisteredParamsAreRefused(_ audiences: Int, _ leeway: Int64?) {
        let error = #expect(throws: BackendJWTError.self) {
            _ = try Signer(
                algorithm: .none, encoding: .base64url, ttl: 3600, key: nil,
                registered: Signer.Registered(audienceCount: audiences, notBeforeLeeway: leeway, jti: true), claims: [])
        }
        #expect(error?.kind == .config)
        #expect(error?.message == "audience count or not-before leeway is out of range")
    }

    /// An audience count near SIZE_MAX/2 overflows 2 + audiences + claims, and the bound's
    /// per-value bytes: the token bound should be "no bound" (or the signer refused), not a trap.
    @Test func aHugeAudienceCountDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            guard
                let signer = try? Signer(
                    algorithm: .none, encoding: .base64url, ttl: 60, key: nil,
                    registered: Signer.Registered(audienceCount: Int.max), claims: [])
            else { return }
            _ = signer.tokenBound(valueBytes: 10)
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
        let conf = Conf()
        let out = try conf.enabledLocation([
            ("backend_jwt_signing_key", [Fixture.path("ec-p256.pem")]), ("backend_jwt_signing_algorithm", ["ES256"]),
            ("backend_jwt_issuer", ["$iss"]), ("backend_jwt_subject", ["$remote_user"]),
            ("backend_jwt_audience", ["$aud1", "billing"]), ("backend_jwt_not_before", ["on"]),
            ("backend_jwt_claim", ["realm_access.roles", "$groups", "type=list"]),
            ("backend_jwt_claim", ["profile", "$http_x_profile", "type=json", "if_empty=fail"]),
        ])
        #expect(ABITests.valueTemplates(conf, out) == ["$iss", "$remote_user", "$aud1", "billing", "$groups", "$http_x_profile"])
        let now = Int64(Date().timeIntervalSince1970)
        let values = ["https://gw.example", "alice", "orders", "billing", "admin, dev", #" {"age": 41} "#]
        let minted = ABITests.mintC(out.signer, now: now, values: values)
        try #require(minted.status == Int32(BJWT_OK))
        let verifier = await JWTKeyCollection().add(ecdsa: try ES256PublicKey(pem: Fixture.text("ec-p256-public.pem")))
        let payload = try await verifier.verify(minted.token, as: Registered.self)
        #expect(payload.aud.value == ["orders", "billing"])
        #expect(Int64(payload.nbf.value.timeIntervalSince1970) == now)
        #expect(payload.realm_access.roles == ["admin", "dev"])
        #expect(payload.profile == ["age": 41])

        let empty = ErrorBuffer()
        #expect(ABITests.mintC(out.signer, now: now, values: Array(values.dropLast()) + [""], empty).status == Int32(BJWT_ERR_VALUE))
        #expect(empty.message == "claim \"profile\" is empty (if_empty=fail)")
    }
}
