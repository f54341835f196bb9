import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// `type=json`, `type=list`, nested names and `if_empty=`, checked in minted tokens: the payload
/// text where the layout matters, and Foundation's JSON parser or jwt-kit for what a backend reads.
@Suite("Structured claims")
struct StructuredClaimTests {
    static let now: Int64 = 1_700_000_000
    /// The payload of a token without issuer, subject or jti, before the custom claims.
    static let registered = #"{"iat":1700000000,"exp":1700003600"#

    /// The custom members of a `none` token (`,"name":value...`, or empty): the payload without
    /// the registered claims and the closing brace.
    static func members(_ list: ClaimList, _ values: [[UInt8]?]) throws -> String {
        let signer = try makeSigner(.none, key: nil, registered: Signer.Registered(jti: false), list: list)
        let payload = try DecodedToken(try mint(signer, now: now, values: [nil, nil] + values)).payload
        try #require(payload.hasPrefix(registered) && payload.hasSuffix("}"), "\(payload)")
        return String(payload.dropFirst(registered.count).dropLast())
    }

    static func members(_ claims: [(String, String)], _ values: [String?]) throws -> String {
        try members(claimList(claims), values.map { $0.map { [UInt8]($0) } })
    }

    /// The custom claims as Foundation's JSON parser reads the token.
    static func parsed(_ list: ClaimList, _ values: [[UInt8]?]) throws -> [String: Any] {
        let signer = try makeSigner(.none, key: nil, list: list)
        return try DecodedToken(try mint(signer, now: now, values: [nil, nil] + values)).claims()
    }

    /// JSON text of any parsed value, keys sorted, to compare two parses.
    static func canonical(_ value: Any?) throws -> String {
        let data = try JSONSerialization.data(
            withJSONObject: ["v": value ?? NSNull()], options: [.sortedKeys, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// Checks that a `type=json` value fails the token with the documented message.
    static func expectNotJSON(_ value: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let list = try claimList([("c", "type=json")])
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) {
            _ = try members(list, [value])
        }
        #expect(error?.kind == .value, sourceLocation: sourceLocation)
        #expect(
            error?.message
                == "claim \"c\": value \(shownInMessage(value)) is not JSON (one value, valid UTF-8, nested at most 32 deep)",
            sourceLocation: sourceLocation)
    }

    // MARK: type=json

    static func nested(_ depth: Int, open: String = "[", close: String = "]") -> String {
        String(repeating: open, count: depth) + String(repeating: close, count: depth)
    }

    static let deepObject = String(repeating: #"{"a":"#, count: 31) + "{}" + String(repeating: "}", count: 31)

    /// Accepted values, and the text the token carries: the value without the white space around it.
    static let acceptedJSON: [(String, String)] = [
        ("{}", "{}"), ("[]", "[]"), ("[ ]", "[ ]"), ("{ }", "{ }"), (#"{"a":1}"#, #"{"a":1}"#),
        (" \t\r\n{\"a\" : [1, 2.5e3, -0, true, false, null, \"x\"]}\n\t ", "{\"a\" : [1, 2.5e3, -0, true, false, null, \"x\"]}"),
        ("{}\n", "{}"), ("[1] ", "[1]"), ("\"s\" \r\n", "\"s\""), (" 7\t", "7"), ("null\n", "null"),
        (#""text""#, #""text""#), ("42", "42"), ("-1.5E+3", "-1.5E+3"), ("0", "0"), ("true", "true"),
        ("false", "false"), ("null", "null"), (#"[1e5,1E-5,0.5,-0.0,123456789012345678901234567890]"#,
        #"[1e5,1E-5,0.5,-0.0,123456789012345678901234567890]"#),
        (#""\u00e9\ud83d\ude00\u00E9""#, #""\u00e9\ud83d\ude00\u00E9""#), ("\"é😀\u{10FFFF}\"", "\"é😀\u{10FFFF}\""),
        (#""\"\\\/\b\f\n\r\t""#, #""\"\\\/\b\f\n\r\t""#), (#""\u0000""#, #""\u0000""#), ("\"\u{7F}\"", "\"\u{7F}\""),
        (#"{"a":{"b":[{"c":[]}]}}"#, #"{"a":{"b":[{"c":[]}]}}"#), (#"[1,[2,[3]],{"k":"v"}]"#, #"[1,[2,[3]],{"k":"v"}]"#),
        (#"{"":0}"#, #"{"":0}"#), ("{\"é\":\"ü\"}", "{\"é\":\"ü\"}"), ("[\n1\n,\n2\n]", "[\n1\n,\n2\n]"),
        (nested(32), nested(32)), (deepObject, deepObject),
        ("[" + nested(31) + "," + nested(31) + "]", "[" + nested(31) + "," + nested(31) + "]"),
    ]

    @Test(arguments: acceptedJSON)
    func jsonAcceptsOneValueAndTrimsIt(_ value: String, _ emitted: String) throws {
        let list = try claimList([("c", "type=json")])
        #expect(try Self.members(list, [[UInt8](value)]) == #","c":"# + emitted)
        // What a backend reads is what the value says.
        let expected = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        #expect(try Self.canonical(Self.parsed(list, [[UInt8](value)])["c"]) == Self.canonical(expected))
    }

    @Test func depth32IsAcceptedAndDepth33Refused() throws {
        let list = try claimList([("c", "type=json")])
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let inner = open == "[" ? "" : "1"
            let ok = String(repeating: open, count: 32) + inner + String(repeating: close, count: 32)
            let deeper = String(repeating: open, count: 33) + inner + String(repeating: close, count: 33)
            #expect(try Self.members(list, [[UInt8](ok)]) == #","c":"# + ok)
            try Self.expectNotJSON([UInt8](deeper))
        }
        // Mixed nesting counts every container.
        let mixed = String(repeating: "[{\"k\":", count: 16) + "1" + String(repeating: "}]", count: 16)
        #expect(try Self.members(list, [[UInt8](mixed)]) == #","c":"# + mixed)
        try Self.expectNotJSON([UInt8]("[" + mixed + "]"))
        // Far deeper input is refused without exhausting the stack.
        try Self.expectNotJSON([UInt8](String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)))
    }

    @Test(arguments: [
        "   ", "\t\r\n", "{", "}", "[", "]", "[1,]", #"{"a":1,}"#, #"{"a"}"#, "{a:1}", "{'a':1}", "['a']", "[1 2]",
        "1 2", "{} x", "{}}", "[]]", "{}{}", "[1}", #"{"a":1]"#, #""abc"#, #""a\x""#, #""\u12""#, #""\u12G4""#,
        #""\U0041""#, #""\'""#, "\"a\nb\"", "\"a\tb\"", "\"\u{1}\"", "\"\u{1F}\"", "01", "-01", "1.", ".5", "+1", "-",
        "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "True", "NULL", "nul", "truex", "[truex]",
        "[true false]", "[,1]", "[1,,2]", "{,}", #"{"a":}"#, #"{"a"::1}"#, #"{"a" 1}"#, #"{"a":1 "b":2}"#,
        "{} // c", "/* c */ {}", "\u{FEFF}{}", "\u{0C}{}", "{}\u{0C}", "{}\u{0}", "\u{A0}{}", "\"\\", "\"\\\"",
        "undefined", "'a'", #""abc" "def""#, "[\"a\",]", "{\"a\":1}\u{1}", "1e309", #"{"n":[-1e99999]}"#,
    ])
    func jsonRefusesWhatIsNotOneValue(_ value: String) throws {
        try Self.expectNotJSON([UInt8](value))
    }

    /// The verifier reads JSON with the same parser under its own rules: what a `type=json` value
    /// may not hold (a number beyond a double, nesting past 32) a caller's token may.
    @Test func theVerifierReadsWithItsOwnRules() throws {
        for text in ["1e309", #"{"n":[-1e99999]}"#, Self.nested(33), Self.nested(64)] {
            #expect(throws: JSONParser.Failure.self, "\(text)") {
                try JSONParser.parse([UInt8](text.utf8), options: .claimValue)
            }
            _ = try JSONParser.parse([UInt8](text.utf8))
        }
        _ = try JSONParser.parse([UInt8](Self.nested(32).utf8), options: .claimValue)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([UInt8](Self.nested(65).utf8)) }
    }

    /// Strings must be valid UTF-8, keys included; bytes outside strings are never JSON.
    @Test(arguments: [
        [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC3], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xED, 0xBF, 0xBF, 0x22],
        [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xC1, 0xBF, 0x22], [0x22, 0xE0, 0x80, 0xAF, 0x22],
        [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0x80, 0x22], [0x22, 0xF0, 0x9F, 0x98, 0x22], [0x22, 0x61, 0xE2, 0x82, 0x22],
        [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], [0x5B, 0x22, 0x61, 0x22, 0x2C, 0x22, 0xFE, 0x22, 0x5D],
        [0xFF], [0x5B, 0xFF, 0x5D], [0xC3, 0xA9], [0x31, 0xC3, 0xA9],
    ] as [[UInt8]])
    func jsonRefusesInvalidUTF8(_ value: [UInt8]) throws {
        try Self.expectNotJSON(value)
    }

    /// RFC 8259 lets a string escape a lone surrogate, but no UTF-8 text can hold one: Foundation
    /// (and so jwt-kit) would refuse the whole token, so the core refuses the value.
    @Test(arguments: [#""\ud800""#, #""\uDFFF""#, #"{"k":"a\udc00b"}"#, #"["\ude00\ud83d"]"#, #""\ud83d\u0041""#])
    func jsonWithALoneSurrogateEscapeIsRefused(_ value: String) throws {
        try Self.expectNotJSON([UInt8](value))
    }

    /// A proper surrogate pair is a character and stays.
    @Test func jsonWithASurrogatePairIsKept() throws {
        let list = try claimList([("c", "type=json")])
        _ = try Self.parsed(list, [[UInt8](#""\ud83d\ude00""#)])
    }

    /// A member name twice in one object (after unescaping, at any depth) is refused: parsers
    /// differ on which value wins, which is how a claim is smuggled past one reader to another.
    @Test(arguments: [
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"\u0061":1,"a":2}"#, #"{"a/":1,"a\/":2}"#,
        #"{"x":{"b":1,"c":2,"b":3}}"#, #"[1,{"k":{"a":[{"z":1,"z":1}]}}]"#, #"{"a":{},"a":{}}"#,
        #"{"\ud83d\ude00":1,"😀":2}"#, #"{"é":1,"\u00e9":2}"#, #"{"\n":1,"\u000a":2}"#,
        #"{"a":1,"b":2,"c":3,"a":4}"#, #"{"":1,"":2}"#,
    ])
    func jsonRefusesDuplicateMemberNames(_ value: String) throws {
        let list = try claimList([("c", "type=json")])
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.members(list, [[UInt8](value)]) }
        #expect(error?.kind == .value)
        #expect(
            error?.message == "claim \"c\": value \(shownInMessage([UInt8](value))) has an object with a duplicate "
                + "member name, which JSON parsers read differently")
    }

    /// The same name in sibling or nested objects is not a duplicate, nor are names that differ
    /// only by Unicode normalization (JSON compares code points) or by case.
    @Test(arguments: [
        #"{"a":{"a":1}}"#, #"[{"a":1},{"a":2}]"#, #"{"x":{"a":1},"y":{"a":2}}"#, #"{"é":1,"e\u0301":2}"#,
        #"{"a":1,"A":2}"#, #"{"a":[{"b":1}],"b":{"a":2}}"#, #"{"a\u0000":1,"a":2}"#,
    ])
    func jsonKeepsDistinctMemberNames(_ value: String) throws {
        let list = try claimList([("c", "type=json")])
        #expect(try Self.members(list, [[UInt8](value)]) == ",\"c\":" + value)
    }

    @Test func jsonErrorsQuoteTheValueSafely() throws {
        let value = [UInt8]("{\"a\":\n") + [0xFF] + [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        try Self.expectNotJSON(value)
        let list = try claimList([("c", "type=json")])
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.members(list, [value]) }
        #expect(error?.message.hasPrefix(#"claim "c": value "{\x22a\x22:\x0a\xffxxx"#) == true)
        #expect(error?.message.contains(#"x"... is not JSON"#) == true)
    }

    // MARK: type=list

    static func list(separator: String? = nil) throws -> ClaimList {
        let list = ClaimList()
        try list.add(
            name: [UInt8]("c"), options: [[UInt8]("type=list")] + (separator.map { [[UInt8]("separator=" + $0)] } ?? []))
        return list
    }

    @Test(arguments: [
        ("admin, dev,,ops", nil, ["admin", "dev", "ops"]),
        (" a ,\tb\t, , c ", nil, ["a", "b", "c"]),
        ("a", nil, ["a"]),
        (",a,a,a", nil, ["a", "a", "a"]),
        (",,,", nil, []),
        (" \t ", nil, []),
        (" a\n , b", nil, ["a\n", "b"]),
        ("a;b", nil, ["a;b"]),
        ("a\u{1}b,\"q\",\\", nil, ["a\u{1}b", "\"q\"", "\\"]),
        ("x, y", ";", ["x, y"]),
        ("a||b|||c||||d", "||", ["a", "b", "|c", "d"]),
        ("x→y → z", "→", ["x", "y", "z"]),
        ("one and two andthree", " and ", ["one", "two andthree"]),
        ("AandBANDc", "and", ["A", "BANDc"]),
        ("a , b,c", ", ", ["a", "b,c"]),
        ("ab", "abc", ["ab"]),
        (";", ";", []),
        ("a b  c", " ", ["a", "b", "c"]),
        ("a\tb", "\t", ["a", "b"]),
        ("k=v=w", "=", ["k", "v", "w"]),
        ("é,ü", "é", [",ü"]),
    ] as [(String, String?, [String])])
    func listSplitsTrimsAndDropsEmptyItems(_ value: String, _ separator: String?, _ items: [String]) throws {
        let list = try Self.list(separator: separator)
        let parsed = try #require(try Self.parsed(list, [[UInt8](value)])["c"] as? [String])
        #expect(parsed == items)
        var expected = JSONWriter()
        expected.append("[")
        for (i, item) in items.enumerated() {
            if i > 0 { expected.append(",") }
            expected.appendString([UInt8](item))
        }
        expected.append("]")
        #expect(try Self.members(list, [[UInt8](value)]) == #","c":"# + String(decoding: expected.bytes, as: UTF8.self))
    }

    @Test func listItemsAreEscaped() throws {
        let list = try Self.list()
        #expect(try Self.members(list, [[UInt8]("a\u{1}b,\"q\",\\")]) == #","c":["a\u0001b","\"q\"","\\"]"#)
        // Bytes that are not UTF-8 become U+FFFD, item by item.
        #expect(try Self.members(list, [[0x61, 0xFF, 0x2C, 0xC3, 0x2C, 0x62]]) == ",\"c\":[\"a\u{FFFD}\",\"\u{FFFD}\",\"b\"]")
    }

    // MARK: Nested objects

    @Test func claimsUnderOneParentShareIt() throws {
        let members = try Self.members(
            [("realm_access.roles", "type=list"), ("email", ""), ("realm_access.groups", ""), ("realm_access.x.y", "type=int")],
            ["admin, dev", "e@x", "g", "7"])
        #expect(members == #","realm_access":{"roles":["admin","dev"],"groups":"g","x":{"y":7}},"email":"e@x""#)
    }

    /// Objects come in the order of their first member, members in directive order.
    @Test func emissionFollowsTheFirstDeclaration() throws {
        let members = try Self.members(
            [("a.x", ""), ("b", ""), ("a.y", ""), ("c.d", ""), ("a.z.w", ""), ("c.e", "type=bool")],
            ["1", "2", "3", "4", "5", "1"])
        #expect(members == #","a":{"x":"1","y":"3","z":{"w":"5"}},"b":"2","c":{"d":"4","e":true}"#)
    }

    @Test(arguments: [
        (["a.x", "a.y", "b"], [nil, nil, "v"], #","b":"v""#),
        (["b", "a.x", "a.y"], ["v", nil, ""], #","b":"v""#),
        (["a.x", "a.y"], [nil, "v"], #","a":{"y":"v"}"#),
        (["a.x", "a.y"], ["v", nil], #","a":{"x":"v"}"#),
        (["a.x", "a.y"], [nil, nil], ""),
        (["a.b.c", "a.d"], [nil, "v"], #","a":{"d":"v"}"#),
        (["a.b.c", "a.d", "e"], [nil, nil, "v"], #","e":"v""#),
        (["a.b.c", "a.b.d", "a.e.f"], [nil, nil, "v"], #","a":{"e":{"f":"v"}}"#),
        (["a.b.c.d.e.f.g.h"], ["v"], #","a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":"v"}}}}}}}"#),
        (["a.b.c.d.e.f.g.h"], [nil], ""),
        (["a.b.c.d.e.f.g.h", "z"], [nil, "v"], #","z":"v""#),
        (["z", "a.b.c.d.e.f.g.h", "y"], ["1", "", "2"], #","z":"1","y":"2""#),
        (["x", "y.z", "w"], [nil, nil, nil], ""),
    ] as [([String], [String?], String)])
    func objectsWithEveryMemberLeftOutAreLeftOut(_ names: [String], _ values: [String?], _ expected: String) throws {
        #expect(try Self.members(names.map { ($0, "") }, values) == expected)
    }

    @Test func escapedAndURINamesAreMembersOfTheirOwn() throws {
        let members = try Self.members(
            [(#"a\.b"#, ""), ("a.b", ""), ("http://x.org/c.d", ""), (#"q"uote.b\\c"#, "")], ["1", "2", "3", "4"])
        #expect(members == #","a.b":"1","a":{"b":"2"},"http://x.org/c.d":"3","q\"uote":{"b\\c":"4"}"#)
    }

    /// `Signer(claims:)` is public and takes any claims, such as two levels' lists joined by hand
    /// instead of with `ClaimList.appending`. Claims that conflict (`a.b`, then `a`) should be
    /// refused or survive; ClaimTree instead force-unwraps the first segment of an empty path.
    @Test func conflictingClaimsJoinedByHandDoNotTrap() async {
        await #expect(processExitsWith: .success) {
            let upper = ClaimList()
            try upper.add(name: Array("a.b".utf8), options: [])
            let lower = ClaimList()
            try lower.add(name: Array("a".utf8), options: [])
            _ = try? Signer(algorithm: .none, encoding: .base64url, ttl: 60, key: nil, claims: upper.claims + lower.claims)
        }
    }

    // MARK: if_empty

    @Test(arguments: ClaimType.allCases)
    func ifEmptyNullWritesNullForEveryType(_ type: ClaimType) throws {
        let list = try claimList([("c", "type=\(type) if_empty=null")])
        for value in [nil, [UInt8]()] as [[UInt8]?] {
            #expect(try Self.members(list, [value]) == #","c":null"#)
            #expect(try Self.parsed(list, [value])["c"] is NSNull)
        }
    }

    @Test(arguments: ClaimType.allCases)
    func ifEmptyOmitLeavesTheClaimOutForEveryType(_ type: ClaimType) throws {
        for options in ["type=\(type)", "type=\(type) if_empty=omit"] {
            let list = try claimList([("c", options), ("d", "")])
            #expect(try Self.members(list, [nil, [UInt8]("x")]) == #","d":"x""#)
            #expect(try Self.members(list, [[], [UInt8]("x")]) == #","d":"x""#)
        }
    }

    @Test func ifEmptyEmptyWritesTheEmptyForm() throws {
        let list = try claimList([("s", "if_empty=empty"), ("l", "type=list if_empty=empty")])
        for value in [nil, [UInt8]()] as [[UInt8]?] {
            #expect(try Self.members(list, [value, value]) == #","s":"","l":[]"#)
            let parsed = try Self.parsed(list, [value, value])
            #expect(parsed["s"] as? String == "")
            #expect((parsed["l"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(arguments: ClaimType.allCases)
    func ifEmptyFailFailsTheToken(_ type: ClaimType) throws {
        let list = try claimList([("a.b", "type=\(type) if_empty=fail"), ("c", "")])
        for value in [nil, [UInt8]()] as [[UInt8]?] {
            let error = #expect(throws: BackendJWTError.self) { _ = try Self.members(list, [value, [UInt8]("x")]) }
            #expect(error?.kind == .value)
            #expect(error?.message == #"claim "a.b" is empty (if_empty=fail)"#)
        }
    }

    /// A value is empty only when it has no bytes; blanks are a value like any other.
    @Test func onlyAnEmptyValueIsEmpty() throws {
        let list = try claimList([("s", "if_empty=fail"), ("l", "type=list if_empty=fail"), ("n", "type=int if_empty=null")])
        // The list's items are all dropped, yet the claim is an empty array, not a failure.
        #expect(try Self.members(list, [[UInt8](" "), [UInt8](" , ,"), [UInt8]("1")]) == #","s":" ","l":[],"n":1"#)
        let json = try claimList([("j", "type=json if_empty=null")])
        try #require(throws: BackendJWTError.self) { _ = try Self.members(json, [[UInt8]("  ")]) }
    }

    @Test func ifEmptyModesSideBySideInNestedObjects() throws {
        let members = try Self.members(
            [("o.null", "type=int if_empty=null"), ("o.omit", "type=int"), ("o.empty", "if_empty=empty"),
             ("o.list", "type=list if_empty=empty"), ("p.omit", "type=json"), ("p.q.null", "type=json if_empty=null")],
            [nil, nil, "", nil, "", nil])
        #expect(members == #","o":{"null":null,"empty":"","list":[]},"p":{"q":{"null":null}}"#)
        let values = [nil, "1", "x", "a,b", "{}", "[]"] as [String?]
        let full = try Self.members(
            [("o.null", "type=int if_empty=null"), ("o.omit", "type=int"), ("o.empty", "if_empty=empty"),
             ("o.list", "type=list if_empty=empty"), ("p.omit", "type=json"), ("p.q.null", "type=json if_empty=null")],
            values)
        #expect(full == #","o":{"null":null,"omit":1,"empty":"x","list":["a","b"]},"p":{"omit":{},"q":{"null":[]}}"#)
    }

    // MARK: jwt-kit reads it all

    struct StructuredPayload: JWTPayload, Equatable {
        struct Access: Codable, Equatable {
            var roles: [String]
            var groups: [String]
        }
        struct Profile: Codable, Equatable {
            var name: String
            var tags: [String]
            var age: Int
            var extra: [String: Bool]?
        }
        var exp: ExpirationClaim
        var realm_access: Access
        var profile: Profile
        var tenant: String?
        var empty: [String]

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    @Test func jwtKitReadsStructuredClaims() async throws {
        let list = try claimList([
            ("realm_access.roles", "type=list"), ("profile", "type=json"), ("tenant", "if_empty=null"),
            ("empty", "type=list if_empty=empty"),
        ])
        try list.add(name: [UInt8]("realm_access.groups"), options: [[UInt8]("type=list"), [UInt8]("separator= | ")])
        let signer = try makeSigner(.rs256, key: "rsa2048-pkcs8.pem", list: list)
        let now = Int64(Date().timeIntervalSince1970)
        let token = try mint(
            signer, now: now,
            ["i", "s", " admin ,dev,, ", "\n {\"name\":\"Ana \\\"A\\\"\",\"tags\":[\"x\"],\"age\":41,\"extra\":{\"k\":true}} \n", nil, "",
             "g1 | g2 |g3"])
        let verifier = await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PublicKey(pem: Fixture.text("rsa2048-public.pem")), digestAlgorithm: .sha256)
        let payload = try await verifier.verify(token, as: StructuredPayload.self)
        #expect(payload.realm_access == .init(roles: ["admin", "dev"], groups: ["g1", "g2 |g3"]))
        #expect(payload.profile == .init(name: "Ana \"A\"", tags: ["x"], age: 41, extra: ["k": true]))
        #expect(payload.tenant == nil)
        #expect(payload.empty == [])
        #expect(try DecodedToken(token).payload.contains(#","tenant":null,"empty":[]}"#))
    }
}
