import Testing

@testable import BackendJWT

/// The one syntax of a claim path (issue 19), the typed requirements on claims and the lookups
/// of claim variables.
@Suite struct ClaimPathTests {
    static func path(_ text: String) throws(BackendJWTError) -> [String] {
        try ClaimPath.parse(Array(text.utf8)).segments.map { String(decoding: $0, as: UTF8.self) }
    }

    static func error(_ text: String) -> String {
        do {
            _ = try ClaimPath.parse(Array(text.utf8))
            return ""
        } catch {
            return error.message
        }
    }

    @Test func dottedAndQuotedSegments() throws {
        #expect(try Self.path("sub") == ["sub"])
        #expect(try Self.path("realm_access.roles") == ["realm_access", "roles"])
        #expect(try Self.path(#""https://example.com/roles""#) == ["https://example.com/roles"])
        #expect(try Self.path(#"resource_access."my.client".roles"#) == ["resource_access", "my.client", "roles"])
        #expect(try Self.path(#""a\"b\\c".d"#) == [#"a"b\c"#, "d"])
        #expect(try Self.path("tenantId") == ["tenantId"])  // exact case
    }

    @Test(arguments: [
        ("", "is empty"),
        ("a..b", "has an empty name (two dots, or a dot at an end)"),
        ("a.", "has an empty name (two dots, or a dot at an end)"),
        (".a", "has an empty name (two dots, or a dot at an end)"),
        (#""a.b"#, "has a quote that is not closed"),
        (#""a"b"#, "has text after a quoted name (quote the whole name, or put a dot after it)"),
        (#"a"b""#, "has a quote or backslash inside a name (quote the whole name: \"a.b\")"),
        (#""a\nb""#, #"has a backslash that is not \" or \\"#),
        ("a\u{1}b", "has a control character"),
        (#""""#, "has an empty name (two dots, or a dot at an end)"),
        (Array(repeating: "a", count: 17).joined(separator: "."), "is deeper than 16 names"),
    ])
    func errors(text: String, why: String) {
        #expect(Self.error(text).hasSuffix(why), "\(Self.error(text))")
    }

    @Test func valueFollowsObjectsByExactNames() throws {
        let claims = try JSONParser.parse(Array(#"{"a":{"b.c":[1],"B":2},"a.b":3}"#.utf8))
        #expect(try ClaimPath.parse(Array(#"a."b.c""#.utf8)).value(in: claims) == .array([.number([0x31])]))
        #expect(try ClaimPath.parse(Array(#""a.b""#.utf8)).value(in: claims) == .number([0x33]))
        #expect(try ClaimPath.parse(Array("a.b".utf8)).value(in: claims) == nil)
        #expect(try ClaimPath.parse(Array("a.b.c".utf8)).value(in: claims) == nil)
    }

    @Test func variableLookupIgnoresCaseAndRefusesAmbiguity() throws {
        let claims = try JSONParser.parse(Array(#"{"tenantId":"t-bob","sub":"a","SUB":"b","x":1}"#.utf8))
        func lookup(_ name: String) -> ClaimLookup {
            Array(name.utf8).withUnsafeBufferPointer { ClaimLookup.member($0, in: claims) }
        }
        #expect(lookup("tenantid") == .found(.string(Array("t-bob".utf8))))
        #expect(lookup("sub") == .ambiguous)
        #expect(lookup("y") == .absent)
        #expect(VerifiedToken.variableText(.string(Array("bob\u{0}".utf8))) == nil)
        #expect(VerifiedToken.variableText(.string(Array("a\tb".utf8))) == Array("a\tb".utf8))
    }

    @Test(arguments: [
        ("", false), ("0", false), ("false", false), ("null", false), ("[]", false), ("{}", false), ("0.0", false),
        ("-0e3", false), ("\"\"", false), ("1", true), ("true", true), ("yes", true), ("[0]", true), ("{\"a\":0}", true),
        ("\"0\"", true), ("admin", true),
    ])
    func requireValues(text: String, met: Bool) {
        #expect(JSONValue.meetsRequire(Array(text.utf8)) == met, "\(text)")
    }

    static func requirement(_ args: String) throws(BackendJWTError) -> ClaimRequirement {
        var templates: [[UInt8]] = []
        return try ClaimRequirement.parse(args.split(separator: " ").map { Array($0.utf8) }) {
            templates.append($0)
            return templates.count - 1
        }
    }

    @Test(arguments: [
        (#"{"scope":"openid orders:read"}"#, "scope contains orders:read", true),
        (#"{"scope":"openid orders:read"}"#, "scope contains orders", false),
        (#"{"scope":"openid orders:read"}"#, "scope any a b openid", true),
        (#"{"roles":["a","b"]}"#, "roles contains a b", true),
        (#"{"roles":["a","b"]}"#, "roles contains a c", false),
        (#"{"n":12345678901234567890}"#, "n eq 12345678901234567890", true),
        (#"{"n":12345678901234567890}"#, "n eq 12345678901234567891", false),
        (#"{"n":1}"#, "n eq 1.0", true),
        (#"{"n":-0}"#, "n eq 0", true),
        (#"{"n":1e400}"#, "n gt 0", false),
        (#"{"n":1e400}"#, "n ne 0", false),  // beyond a double: parsers disagree, so never met
        (#"{"n":1e400}"#, "n eq 1e400", false),
        (#"{"n":1}"#, "n ne 1e400", false),
        (#"{"n":1}"#, "n ne 1.0", false),
        (#"{"n":1}"#, "n ne 2", true),
        (#"{"n":12345678901234567890}"#, "n ne 12345678901234567891", true),
        // an integer beyond a double's range too: a float parser reads both as infinity
        (#"{"n":10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}"#, "n ne 0", false),
        (#"{"n":10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}"#, "n gt 0", false),
        (#"{"n":10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}"#, "n eq 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", false),
        // integers beyond a double's precision order by their digits: a double holds both as one
        (#"{"n":9007199254740992}"#, "n ge 9007199254740993", false),
        (#"{"n":9007199254740993}"#, "n le 9007199254740992", false),
        (#"{"n":9007199254740993}"#, "n gt 9007199254740992", true),
        (#"{"n":-9007199254740993}"#, "n lt -9007199254740992", true),
        (#"{"n":-9007199254740992}"#, "n lt -9007199254740993", false),
        (#"{"n":-0}"#, "n ge 0", true),
        (#"{"n":-1}"#, "n lt 0", true),
        (#"{"n":10}"#, "n gt 9", true),
        (#"{"n":10}"#, "n lt 9.5", false),
        (#"{"n":100}"#, "n le 1e2", true),
        (#"{"b":false}"#, "b eq false", true),
        (#"{"b":false}"#, "b ne true", true),
        (#"{"b":null}"#, "b eq null", true),
        (#"{"b":null}"#, "b exists", true),
        (#"{"s":"x"}"#, "s ne 1", false),
        (#"{"s":"x"}"#, "s in y x", true),
    ])
    func operators(claims: String, rule: String, met: Bool) throws {
        let payload = try JSONParser.parse(Array(claims.utf8))
        #expect(try Self.requirement(rule).isMet(by: payload, values: { _ in nil }) == met, "\(rule)")
    }

    @Test func templatesAreReadPerRequestAndEmptyNeverMeets() throws {
        let rule = try Self.requirement("tid eq $tenant")
        let payload = try JSONParser.parse(Array(#"{"tid":"t-1","n":3}"#.utf8))
        #expect(rule.isMet(by: payload, values: { _ in Array("t-1".utf8) }))
        #expect(!rule.isMet(by: payload, values: { _ in Array("t-2".utf8) }))
        #expect(!rule.isMet(by: payload, values: { _ in [] }))
        #expect(try Self.requirement("n ge $min").isMet(by: payload, values: { _ in Array("3".utf8) }))
        #expect(try Self.requirement("n ge 3 error=401").status == 401)
        #expect(try Self.requirement("n ge 3").status == 403)
    }

    @Test func directiveErrorsNameTheLine() throws {
        var levels = Levels()
        let location = LevelSettings()
        func failure(_ text: String) -> String {
            do {
                try levels.apply(location, text)
                return ""
            } catch {
                return error.message
            }
        }
        #expect(
            failure("backend_jwt_verify_require_claim a..b exists")
                == "\"backend_jwt_verify_require_claim\" directive: claim path \"a..b\" has an empty name (two dots, or a dot at an end)")
        #expect(
            failure("backend_jwt_verify_claim_set tenant tenantId")
                == "\"backend_jwt_verify_claim_set\" directive: invalid variable name \"tenant\"; use $name")
        #expect(failure("backend_jwt_verify_claim_set $tenant tenantId") == "")
        #expect(
            failure("backend_jwt_verify_claim_set $Tenant tid")
                == "\"backend_jwt_verify_claim_set\" directive: variable \"$Tenant\" is already set in nginx.conf:3")
    }
}
