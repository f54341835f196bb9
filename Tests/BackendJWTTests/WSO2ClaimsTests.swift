@testable import BackendJWTABI
import CBackendJWT
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// `backend_jwt_wso2_claims NAME=VALUE...`: WSO2's claim set as literal-named string claims
/// whose values are templates nginx compiles.
@Suite("backend_jwt_wso2_claims")
struct WSO2ClaimsTests {
    static let dialect = "http://wso2.org/claims/"
    static let order = [
        "subscriber", "applicationid", "applicationname", "applicationtier", "apiname", "apicontext", "version", "tier",
        "keytype", "usertype", "enduser", "enduserTenantId",
    ]

    static func add(_ arguments: [String], to list: ClaimList = ClaimList()) throws(BackendJWTError) -> ClaimList {
        try WSO2Claims.add(to: list, options: arguments.map { [UInt8]($0) })
        return list
    }

    /// Each claim's name and template, as text.
    static func declared(_ list: ClaimList) -> [(String, String?)] {
        list.claims.map { ($0.name, $0.template.map { String(decoding: $0, as: UTF8.self) }) }
    }

    static func expectError(
        _ arguments: [String], to list: ClaimList = ClaimList(), _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) {
            _ = try add(arguments, to: list)
        }
        #expect(error?.kind == .config, sourceLocation: sourceLocation)
        #expect(error?.message == message, sourceLocation: sourceLocation)
    }

    @Test func theDefaultSetInWSO2sOrder() throws {
        let list = try Self.add(["apiname=PizzaShackAPI", "version=1.0.0"])
        let expected: [(String, String?)] = [
            ("subscriber", "$remote_user"), ("apiname", "PizzaShackAPI"), ("version", "1.0.0"), ("keytype", "PRODUCTION"),
            ("usertype", "APPLICATION_USER"), ("enduser", "$remote_user"), ("enduserTenantId", "-1234"),
        ]
        let declared = Self.declared(list)
        #expect(declared.map(\.0) == expected.map { Self.dialect + $0.0 })
        #expect(declared.map(\.1) == expected.map(\.1))
        for claim in list.claims {
            #expect(claim.path == [claim.name], "a URI name is one member")
            #expect(claim.type == .string)
            #expect(claim.ifEmpty == .omit)
        }
    }

    /// Every argument sets its claim; the order stays WSO2's whatever the argument order.
    @Test func everyArgumentInAnyOrder() throws {
        let arguments = Self.order.reversed().map { "\($0)=v-\($0)" }
        let list = try Self.add(arguments)
        #expect(Self.declared(list).map(\.0) == Self.order.map { Self.dialect + $0 })
        #expect(Self.declared(list).map(\.1) == Self.order.map { "v-\($0)" })
    }

    @Test func argumentNamesIgnoreCaseValuesKeepIt() throws {
        let list = try Self.add([
            "APINAME=Pizza", "Version=V1", "ENDUSERTENANTID=42", "ApplicationName=$App_Name", "apicontext=/a=b/c",
        ])
        #expect(
            Self.declared(list).map(\.0) == [
                "subscriber", "applicationname", "apiname", "apicontext", "version", "keytype", "usertype", "enduser",
                "enduserTenantId",
            ].map { Self.dialect + $0 })
        #expect(
            Self.declared(list).map(\.1) == [
                "$remote_user", "$App_Name", "Pizza", "/a=b/c", "V1", "PRODUCTION", "APPLICATION_USER", "$remote_user", "42",
            ])
    }

    /// An empty value for a claim that has one by default takes it away: the claim is empty for
    /// every request, so it is left out.
    @Test func anEmptyOptionalArgumentGivesAnEmptyTemplate() throws {
        let list = try Self.add(["apiname=a", "version=1", "keytype=", "tier="])
        let declared = Self.declared(list)
        #expect(declared.first { $0.0 == Self.dialect + "keytype" }?.1 == "")
        #expect(declared.first { $0.0 == Self.dialect + "tier" }?.1 == "")
    }

    @Test(arguments: [
        ("dialect=https://claims.example.com", "https://claims.example.com/"),
        ("DIALECT=urn:wso2", "urn:wso2/"),
        ("dialect=wso2.org.claims", "wso2.org.claims/"),
        ("dialect=http://x/", "http://x//"),
    ])
    func aCustomDialect(_ argument: String, _ prefix: String) throws {
        let list = try Self.add(["apiname=a", argument, "version=1"])
        #expect(list.claims.map(\.name) == ["subscriber", "apiname", "version", "keytype", "usertype", "enduser", "enduserTenantId"].map { prefix + $0 })
        #expect(list.claims.allSatisfy { $0.path == [$0.name] }, "dialect names never nest, dots or not")
    }

    @Test(arguments: [
        ([], "apiname= is required"),
        (["version=1"], "apiname= is required"),
        (["apiname=a"], "version= is required"),
        (["apiname=", "version=1"], "apiname= needs a value"),
        (["apiname=a", "version="], "version= needs a value"),
        (["apiname=a", "version=1", "dialect="], "dialect= needs a value"),
        (["apiname=a", "version=1", "dialect=x", "Dialect=y"], "\"dialect=\" is given twice"),
        (["apiname=a", "version=1", "apiname=b"], "\"apiname=\" is given twice"),
        (["ApiName=a", "version=1", "apiNAME=a"], "\"apiname=\" is given twice"),
        (["apiname=a", "version=1", "enduserTenantId=1", "enduserTenantid=2"], "\"enduserTenantId=\" is given twice"),
        (["apiname=a", "version=1", "apiname"], "argument \"apiname\" is not NAME=VALUE"),
        (["=a", "apiname=a", "version=1"], "argument \"=a\" is not NAME=VALUE"),
        (["", "apiname=a"], "argument \"\" is not NAME=VALUE"),
        (["apiname=a", "version=1", "foo=bar"],
         "unknown argument \"foo\"; use dialect, subscriber, applicationid, applicationname, applicationtier, apiname, "
            + "apicontext, version, tier, keytype, usertype, enduser, enduserTenantId"),
        (["Api_Name=a"],
         "unknown argument \"Api_Name\"; use dialect, subscriber, applicationid, applicationname, applicationtier, apiname, "
            + "apicontext, version, tier, keytype, usertype, enduser, enduserTenantId"),
    ] as [([String], String)])
    func argumentErrors(_ arguments: [String], _ message: String) {
        Self.expectError(arguments, message)
    }

    @Test func aDialectTooLongForAClaimNameIsRefused() {
        let dialect = "http://" + String(repeating: "d", count: 240)
        let name = dialect + "/subscriber"
        Self.expectError(["apiname=a", "version=1", "dialect=" + dialect], "claim name \(shownInMessage(name)) is longer than 256 bytes")
    }

    @Test func claimsAlreadyDeclaredAreDuplicates() throws {
        let list = try claimList([("before", ""), ("http://wso2.org/claims/apiname", "")])
        Self.expectError(["apiname=a", "version=1"], to: list, "claim \"http://wso2.org/claims/apiname\" is declared twice")
        let twice = try Self.add(["apiname=a", "version=1"])
        Self.expectError(["apiname=b", "version=2"], to: twice, "claim \"http://wso2.org/claims/subscriber\" is declared twice")
        let otherDialect = try Self.add(["apiname=b", "version=2", "dialect=urn:x"], to: twice)
        #expect(otherDialect.claims.count == 14, "another dialect is another set of names")
    }

    /// The recipe's claims count as the level's claims, around the level's own.
    @Test func recipeClaimsSitAmongCustomClaims() throws {
        let list = try claimList([("first", "")])
        _ = try Self.add(["apiname=a", "version=1"], to: list)
        try list.add(name: [UInt8]("last.x"), options: [[UInt8]("type=int")])
        #expect(list.claims.first?.name == "first")
        #expect(list.claims.last?.path == ["last", "x"])
        #expect(list.claims.count == 9)
        #expect(list.claims.first?.template == nil && list.claims.last?.template == nil)
    }

    /// A failing directive leaves the level's claims as they were, as `backend_jwt_claim` does.
    @Test(arguments: [
        ["version=1"], ["apiname=a"], ["apiname=a", "version="], ["apiname=a", "version=1", "enduser=$u"],
    ])
    func aFailedDirectiveAddsNothing(_ arguments: [String]) throws {
        let list = try claimList([("http://wso2.org/claims/enduser", "")])
        let before = list.claims
        #expect(throws: BackendJWTError.self) { _ = try Self.add(arguments, to: list) }
        #expect(list.claims == before)
    }

    // MARK: Minted

    struct WSO2Payload: JWTPayload {
        enum CodingKeys: String, CodingKey {
            case exp, iss
            case subscriber = "http://wso2.org/claims/subscriber"
            case apiname = "http://wso2.org/claims/apiname"
            case version = "http://wso2.org/claims/version"
            case keytype = "http://wso2.org/claims/keytype"
            case usertype = "http://wso2.org/claims/usertype"
            case enduser = "http://wso2.org/claims/enduser"
            case tenant = "http://wso2.org/claims/enduserTenantId"
            case tier = "http://wso2.org/claims/tier"
        }
        var exp: ExpirationClaim
        var iss: IssuerClaim
        var subscriber: String?
        var apiname: String
        var version: String
        var keytype: String
        var usertype: String
        var enduser: String?
        var tenant: String
        var tier: String?

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// nginx evaluates each template per request and passes the values in claim order.
    @Test func mintedWSO2ClaimsAreFlatURIMembers() async throws {
        let list = try Self.add(["apiname=PizzaShackAPI", "version=1.0.0", "tier=Unlimited"])
        let signer = try makeSigner(.rs256, key: "rsa2048-pkcs8.pem", list: list)
        let values = list.claims.map { claim -> String? in
            let template = String(decoding: claim.template ?? [], as: UTF8.self)
            return template == "$remote_user" ? "alice" : template
        }
        let now = Int64(Date().timeIntervalSince1970)
        let token = try mint(signer, now: now, ["wso2.org/products/am", nil] + values)
        let payload = try DecodedToken(token).payload
        #expect(
            payload.hasSuffix(
                #","http://wso2.org/claims/subscriber":"alice","http://wso2.org/claims/apiname":"PizzaShackAPI","#
                    + #""http://wso2.org/claims/version":"1.0.0","http://wso2.org/claims/tier":"Unlimited","#
                    + #""http://wso2.org/claims/keytype":"PRODUCTION","http://wso2.org/claims/usertype":"APPLICATION_USER","#
                    + #""http://wso2.org/claims/enduser":"alice","http://wso2.org/claims/enduserTenantId":"-1234"}"#))
        let verifier = await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PublicKey(pem: Fixture.text("rsa2048-public.pem")), digestAlgorithm: .sha256)
        let claims = try await verifier.verify(token, as: WSO2Payload.self)
        #expect(claims.iss.value == "wso2.org/products/am")
        #expect(claims.subscriber == "alice" && claims.enduser == "alice")
        #expect(claims.apiname == "PizzaShackAPI" && claims.version == "1.0.0" && claims.tier == "Unlimited")
        #expect(claims.keytype == "PRODUCTION" && claims.usertype == "APPLICATION_USER" && claims.tenant == "-1234")

        // Without a user ($remote_user empty), subscriber and enduser are left out.
        let anonymous = try mint(signer, now: now, ["wso2.org/products/am", nil] + values.map { $0 == "alice" ? "" : $0 })
        let unnamed = try await verifier.verify(anonymous, as: WSO2Payload.self)
        #expect(unnamed.subscriber == nil && unnamed.enduser == nil)
    }

    // MARK: Through the C ABI

    /// backend_jwt_wso2_claims through bjwt_directive.
    static func addC(
        _ conf: ABITests.Conf, _ level: OpaquePointer?, _ arguments: [String], _ err: ABITests.ErrorBuffer = ABITests.ErrorBuffer()
    ) -> Int32 {
        conf.directive(level, "backend_jwt_wso2_claims", arguments, err)
    }

    /// bjwt_config_template as the module calls it: the text and its length, which stay valid
    /// while the configuration lives.
    @Test func templatesThroughTheABI() throws {
        let conf = ABITests.Conf()
        let level = conf.level()
        try conf.apply(level, "backend_jwt_claim", ["team", "$team"])
        let err = ABITests.ErrorBuffer()
        try #require(Self.addC(conf, level, ["apiname=Pizza", "version=$api_version", "applicationid=$app_id"], err) == Int32(BJWT_OK), "\(err.message)")
        #expect(conf.settings(level).claims.value?.list.claims.count == 9)
        #expect(bjwtConfigTemplates(conf.handle) == 9)
        #expect(conf.templates == ["$team", "$remote_user", "$app_id", "Pizza", "$api_version", "PRODUCTION", "APPLICATION_USER", "$remote_user", "-1234"])
        // Out of range, or a configuration that is not there: no template, the length left alone.
        for (config, index) in [(conf.handle, 9), (conf.handle, -1), (conf.handle, Int.max), (nil, 1)] as [(OpaquePointer?, Int)] {
            var length = 77
            #expect(bjwtConfigTemplate(config, index, &length) == nil)  // -1: a size_t past Int.max
            #expect(length == 77)
        }
        // A NULL length pointer is allowed.
        #expect(bjwtConfigTemplate(conf.handle, 3, nil) != nil)

        // The location mints in the templates' order: issuer, subject, then each claim.
        let http = conf.level()
        try conf.apply(level, [("backend_jwt", ["on"]), ("backend_jwt_signing_algorithm", ["NONE"])])
        try #require(conf.merge(http, level) == Int32(BJWT_OK))
        let location = try conf.location(level)
        #expect(ABITests.valueTemplates(conf, location) == [nil, nil] + conf.templates)
    }

    @Test func aTemplateIsExactlyItsText() throws {
        let conf = ABITests.Conf()
        try #require(Self.addC(conf, conf.level(), ["apiname=PizzaShackAPI", "version=1"]) == Int32(BJWT_OK))
        var length = 0
        let text = try #require(bjwtConfigTemplate(conf.handle, 1, &length))
        #expect(length == 13)
        #expect(String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self) == "PizzaShackAPI")
    }

    @Test func abiErrors() {
        // Each on a fresh level.
        func fresh(_ body: (ABITests.Conf, OpaquePointer) -> Void) {
            let conf = ABITests.Conf()
            body(conf, conf.level())
        }
        fresh { conf, level in
            let err = ABITests.ErrorBuffer()
            #expect(Self.addC(conf, level, ["version=1"], err) == Int32(BJWT_ERR_CONFIG))
            #expect(err.message == "\"backend_jwt_wso2_claims\" directive: apiname= is required")
            #expect(err.untouchedPastCap)
            #expect(conf.settings(level).claims.value == nil)
            #expect(bjwtConfigTemplates(conf.handle) == 0)
        }
        fresh { conf, level in
            let err = ABITests.ErrorBuffer()
            let rc = err.call { e, cap in
                ABITests.withBytes("backend_jwt_wso2_claims") { bjwtDirective(conf.handle, level, $0, $1, nil, nil, 2, nil, 0, 1, 0, nil, e, cap) }
            }
            #expect(rc == Int32(BJWT_ERR_CONFIG))
            #expect(err.message == "missing arguments")
            #expect(conf.settings(level).claims.value == nil)
        }
        fresh { conf, level in
            let err = ABITests.ErrorBuffer()
            let rc = err.call { e, cap in
                ABITests.withBytes("backend_jwt_wso2_claims") { bjwtDirective(conf.handle, level, $0, $1, nil, nil, 0, nil, 0, 1, 0, nil, e, cap) }
            }
            #expect(rc == Int32(BJWT_ERR_CONFIG))  // no argument at all: nginx's own check, in the core too
            #expect(err.message == "invalid number of arguments in \"backend_jwt_wso2_claims\" directive")
        }
        fresh { conf, level in
            let err = ABITests.ErrorBuffer(cap: 40)
            #expect(Self.addC(conf, level, ["foo=1"], err) == Int32(BJWT_ERR_CONFIG))
            #expect(err.message == "\"backend_jwt_wso2_claims\" directive: un")
            #expect(err.untouchedPastCap)
            #expect(conf.settings(level).claims.value == nil)
        }
        let conf = ABITests.Conf()
        let noLevel = ABITests.ErrorBuffer()
        #expect(Self.addC(conf, nil, ["apiname=a", "version=1"], noLevel) == Int32(BJWT_ERR_CONFIG))
        #expect(noLevel.message == "bjwt_directive: missing argument")
    }
}
