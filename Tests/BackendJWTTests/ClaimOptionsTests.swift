import Testing

@testable import BackendJWT

/// `backend_jwt_claim name value [type=T] [separator=S] [if_empty=E]` at configuration time:
/// the options, the nested names, conflicts, and `backend_jwt_enforce`'s appending.
@Suite("Claim options and names")
struct ClaimOptionsTests {
    static func add(_ list: ClaimList, _ name: String, _ options: [String] = []) throws(BackendJWTError) {
        try list.add(name: [UInt8](name), options: options.map { [UInt8]($0) })
    }

    static func claim(_ name: String, _ options: [String] = []) throws(BackendJWTError) -> ClaimList.Claim {
        let list = ClaimList()
        try add(list, name, options)
        return list.claims[0]
    }

    /// Checks that `body` throws a configuration error with exactly `message`.
    static func expectError(
        _ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.kind == .config, sourceLocation: sourceLocation)
        #expect(error?.message == message, sourceLocation: sourceLocation)
    }

    /// Checks that adding `name` with `options` fails with `message` and leaves the list as it was.
    static func expectRefused(
        _ name: String, _ options: [String], to list: ClaimList = ClaimList(), _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = list.claims
        expectError(message, sourceLocation: sourceLocation) { try add(list, name, options) }
        #expect(list.claims == before, sourceLocation: sourceLocation)
    }

    static func expectRefused(
        _ name: String, to list: ClaimList = ClaimList(), _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectRefused(name, [], to: list, message, sourceLocation: sourceLocation)
    }

    // MARK: Options

    @Test func withoutOptionsAClaimIsAStringLeftOutWhenEmpty() throws {
        let claim = try Self.claim("dept")
        #expect(claim.name == "dept")
        #expect(claim.path == ["dept"])
        #expect(claim.type == .string)
        #expect(claim.separator == [UInt8](","))
        #expect(claim.ifEmpty == .omit)
        #expect(claim.template == nil)
    }

    @Test func everyOptionAtOnceInAnyOrder() throws {
        for options in [
            ["type=list", "separator=;", "if_empty=null"], ["if_empty=null", "separator=;", "type=list"],
            ["separator=;", "type=list", "if_empty=null"], ["SEPARATOR=;", "Type=LIST", "If_Empty=NULL"],
        ] {
            let claim = try Self.claim("roles", options)
            #expect(claim.type == .list, "\(options)")
            #expect(claim.separator == [UInt8](";"), "\(options)")
            #expect(claim.ifEmpty == .null, "\(options)")
        }
    }

    @Test(arguments: [
        ("omit", ClaimList.IfEmpty.omit), ("null", .null), ("empty", .empty), ("fail", .fail), ("OMIT", .omit),
        ("Null", .null), ("EMPTY", .empty), ("fAiL", .fail),
    ])
    func ifEmptyTakesEachMode(_ value: String, _ mode: ClaimList.IfEmpty) throws {
        #expect(try Self.claim("c", ["if_empty=" + value]).ifEmpty == mode)
        #expect(try Self.claim("c", ["type=list", "if_empty=" + value]).ifEmpty == mode)
    }

    /// `null` and `fail` fit every type; `empty` only the types that have an empty form.
    @Test(arguments: ClaimType.allCases)
    func ifEmptyNullAndFailFitEveryType(_ type: ClaimType) throws {
        #expect(try Self.claim("c", ["type=\(type)", "if_empty=null"]).ifEmpty == .null)
        #expect(try Self.claim("c", ["type=\(type)", "if_empty=fail"]).ifEmpty == .fail)
        #expect(try Self.claim("c", ["type=\(type)", "if_empty=omit"]).ifEmpty == .omit)
    }

    @Test func ifEmptyEmptyFitsStringsAndLists() throws {
        #expect(try Self.claim("c", ["if_empty=empty"]).ifEmpty == .empty)
        #expect(try Self.claim("c", ["type=string", "if_empty=empty"]).ifEmpty == .empty)
        #expect(try Self.claim("c", ["if_empty=empty", "type=list"]).ifEmpty == .empty)
    }

    @Test(arguments: [ClaimType.int, .long, .float, .bool, .date, .json])
    func ifEmptyEmptyIsRefusedForTypesWithoutAnEmptyForm(_ type: ClaimType) {
        // The message says "a int": the article does not follow the type.
        Self.expectRefused(
            "c", ["type=\(type.rawValue)", "if_empty=empty"],
            "if_empty=empty is for string and list claims; type=\(type.rawValue) has no empty form")
    }

    /// Any text separates, case and `=` kept: only the first `=` ends the option's name.
    @Test(arguments: [";", "||", " and ", "AnD", "a=b", "→", "\t", "=", ",,"])
    func separatorKeepsItsTextAsWritten(_ separator: String) throws {
        #expect(try Self.claim("c", ["type=list", "separator=" + separator]).separator == [UInt8](separator))
    }

    @Test(arguments: [
        ["type=int", "type=long"], ["type=int", "TYPE=int"], ["type=list", "separator=;", "Separator=,"],
        ["if_empty=null", "if_empty=null"], ["If_Empty=omit", "if_empty=fail"],
    ])
    func anOptionGivenTwiceIsRefused(_ options: [String]) {
        let key = options.last!.prefix { $0 != "=" }.lowercased()
        Self.expectRefused("c", options, "option \"\(key)=\" is given twice")
    }

    @Test(arguments: [["type=list", "separator="], ["type=list", "separator"], ["separator="]])
    func anEmptySeparatorIsRefused(_ options: [String]) {
        Self.expectRefused("c", options, "separator= needs at least one character")
    }

    @Test(arguments: [[], ["type=string"], ["type=json"], ["type=int"], ["type=bool", "if_empty=null"]])
    func aSeparatorIsOnlyForLists(_ options: [String]) {
        Self.expectRefused("c", options + ["separator=;"], "separator= is for type=list claims")
    }

    @Test(arguments: [("maybe", "maybe"), ("", ""), ("omit ", "omit "), ("nul", "nul"), ("true", "true"), ("\u{1}", "\\x01")])
    func unknownIfEmptyValuesAreRefused(_ value: String, _ shown: String) {
        Self.expectRefused("c", ["if_empty=" + value], "unknown if_empty value \"\(shown)\"; use omit, null, empty or fail")
    }

    @Test func aBareIfEmptyIsAnEmptyValue() {
        Self.expectRefused("c", ["if_empty"], "unknown if_empty value \"\"; use omit, null, empty or fail")
    }

    @Test(arguments: [
        ("type", "\"\""), ("type=", "\"\""), ("type=strings", "\"strings\""), ("type=list ", "\"list \""),
        ("type=JSON5", "\"JSON5\""),
    ])
    func unknownTypesAreRefused(_ option: String, _ shown: String) {
        Self.expectRefused(
            "c", [option], "unknown claim type \(shown); use string, int, long, float, bool, date, json or list")
    }

    @Test(arguments: [
        ("separator ;", "\"separator ;\""), ("sep=;", "\"sep=;\""), ("if-empty=null", "\"if-empty=null\""),
        ("ifempty=null", "\"ifempty=null\""), ("", "\"\""), ("=x", "\"=x\""), ("a\nb", "\"a\\x0ab\""),
        ("\"q\"", "\"\\x22q\\x22\""),
    ])
    func unknownOptionsAreRefusedQuoted(_ option: String, _ shown: String) {
        Self.expectRefused(
            "c", [option],
            "unknown option \(shown); use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail")
    }

    @Test func anUnknownOptionWithInvalidUTF8IsQuotedByteByByte() {
        let error = #expect(throws: BackendJWTError.self) {
            try ClaimList().add(name: [UInt8]("c"), options: [[0x66, 0xFF, 0x3D, 0x31]])
        }
        #expect(error?.message == "option \"f\\xff=1\" is not valid UTF-8")
    }

    /// The first error in option order is the one reported; the list is not touched.
    @Test func theFirstBadOptionIsReported() {
        Self.expectRefused("c", ["type=nope", "if_empty=maybe"],
                           "unknown claim type \"nope\"; use string, int, long, float, bool, date, json or list")
        Self.expectRefused("c", ["if_empty=maybe", "type=nope"], "unknown if_empty value \"maybe\"; use omit, null, empty or fail")
    }

    /// nginx hands the separator over as raw bytes; one that is not UTF-8 is refused rather than
    /// silently changed.
    @Test func aSeparatorThatIsNotUTF8IsRefused() {
        let list = ClaimList()
        let error = #expect(throws: BackendJWTError.self) {
            try list.add(name: [UInt8]("c"), options: [[UInt8]("type=list"), [UInt8]("separator=") + [0xFF]])
        }
        #expect(error?.kind == .config)
        #expect(list.claims.isEmpty)
    }

    // MARK: Nested names

    @Test(arguments: [
        ("realm_access.roles", ["realm_access", "roles"]),
        ("a.b.c", ["a", "b", "c"]),
        (#"a\.b"#, ["a.b"]),
        (#"a\\.b"#, [#"a\"#, "b"]),
        (#"a\\\.b"#, [#"a\.b"#]),
        (#"a\b"#, [#"a\b"#]),
        (#"a\x.b"#, [#"a\x"#, "b"]),
        (#"a\"#, [#"a\"#]),
        (#"\\"#, [#"\"#]),
        (#"\."#, ["."]),
        (#"\.\."#, [".."]),
        (#"a.\."#, ["a", "."]),
        (#"a\\\\b"#, [#"a\\b"#]),
        (#"\\\"#, [#"\\"#]),
        ("x.iss", ["x", "iss"]),
        ("a.sub.jti", ["a", "sub", "jti"]),
        ("ISSUER.x", ["ISSUER", "x"]),
        (#"iss\.x"#, ["iss.x"]),
        ("é.ü", ["é", "ü"]),
        ("urn:example:claims.role", ["urn:example:claims", "role"]),
        ("a b.c d", ["a b", "c d"]),
    ])
    func dotsNestAndBackslashesEscape(_ name: String, _ path: [String]) throws {
        let claim = try Self.claim(name)
        #expect(claim.path == path)
        #expect(claim.name == name, "the name as written, for messages")
    }

    /// A URI name is one member: dots, backslashes and all.
    @Test(arguments: [
        "http://wso2.org/claims/enduser", "https://example.com/claims.v1/role", "http://x.y/a.b.c.d.e.f.g.h.i.j",
        #"http://x/a\.b"#, #"http://x/a\\b"#, "iss://x", "aud://a.b", "a.b://c", "://", "x://.",
    ])
    func uriNamesNeverNest(_ name: String) throws {
        #expect(try Self.claim(name).path == [name])
    }

    @Test func aLiteralNameNeverNests() throws {
        let list = ClaimList()
        try list.add(name: [UInt8]("a.b.c"), options: [], template: [UInt8]("$v"), literal: true)
        try list.add(name: [UInt8](#"x\.y"#), options: [], literal: true)
        #expect(list.claims.map(\.path) == [["a.b.c"], [#"x\.y"#]])
        #expect(list.claims[0].template == [UInt8]("$v"))
        #expect(list.claims[1].template == nil)
    }

    @Test(arguments: [
        "a.b.c.d.e.f.g.h", #"a.b.c.d.e.f.g.h\.i\.j"#, "1.2.3.4.5.6.7.8",
    ])
    func eightLevelsAreTheLimit(_ name: String) throws {
        #expect(try Self.claim(name).path.count == 8)
    }

    @Test(arguments: ["a.b.c.d.e.f.g.h.i", "1.2.3.4.5.6.7.8.9.10", String(repeating: "x.", count: 20) + "x"])
    func nineLevelsAreRefused(_ name: String) {
        Self.expectRefused(name, "claim name \(shownInMessage(name)) nests deeper than 8 levels")
    }

    @Test(arguments: [".a", "a.", "a..b", ".", "..", #"a.\\."#, "a.b.", "a.b..c", #"\\."#])
    func emptyPartsAreRefused(_ name: String) {
        Self.expectRefused(name, "claim name \(shownInMessage(name)) has an empty part between dots")
    }

    /// An empty part is reported before the depth and the reserved names.
    @Test func anEmptyPartIsReportedFirst() {
        Self.expectRefused("iss..x", #"claim name "iss..x" has an empty part between dots"#)
        let deep = "a.b.c.d.e.f.g.h.i."
        Self.expectRefused(deep, "claim name \"\(deep)\" has an empty part between dots")
    }

    @Test func theLengthLimitCountsTheNameAsWritten() throws {
        let segment = String(repeating: "n", count: 31)
        let name = Array(repeating: segment, count: 7).joined(separator: ".") + "." + String(repeating: "n", count: 32)
        #expect(name.utf8.count == 256)
        #expect(try Self.claim(name).path.count == 8)
        let escaped = String(repeating: #"\."#, count: 128)  // 256 bytes, one 128-dot member
        #expect(try Self.claim(escaped).path == [String(repeating: ".", count: 128)])
        let longer = escaped + "x"
        Self.expectRefused(longer, "claim name \(shownInMessage(longer)) is longer than 256 bytes")
    }

    @Test(arguments: [
        ("iss.x", "iss", "set it with backend_jwt_issuer"), ("sub.a.b", "sub", "set it with backend_jwt_subject"),
        ("aud.list", "aud", "set it with backend_jwt_audience"), ("iat.x", "iat", "the module sets it"),
        ("exp.x", "exp", "the module sets it"), ("nbf.leeway", "nbf", "set it with backend_jwt_not_before"),
        ("jti.x", "jti", "the module sets it (backend_jwt_jti)"), (#"exp.a\.b"#, "exp", "the module sets it"),
    ])
    func reservedNamesAreReservedAsFirstSegments(_ name: String, _ segment: String, _ why: String) {
        Self.expectRefused(name, "claim name \"\(segment)\" is reserved: \(why)")
    }

    /// Go's encoding/json takes these for the registered claims (any letter case, ſ for s, K
    /// for k), the last duplicate winning: declared after `sub`, `Sub` would replace it.
    @Test(arguments: [
        ("Sub", "sub", "set it with backend_jwt_subject"), ("ISS", "iss", "set it with backend_jwt_issuer"),
        ("\u{17F}ub", "sub", "set it with backend_jwt_subject"), ("Exp.x", "exp", "the module sets it"),
        ("JTI", "jti", "the module sets it (backend_jwt_jti)"),
    ])
    func namesAGoBackendFoldsOntoReservedOnesAreReserved(_ name: String, _ reserved: String, _ why: String) {
        let segment = String(name.split(separator: ".")[0])
        Self.expectRefused(
            name, "claim name \(shownInMessage(segment)) is reserved: a Go backend reads it as \"\(reserved)\"; \(why)")
    }

    @Test func aLiteralReservedNameIsStillReserved() {
        Self.expectError("claim name \"iss\" is reserved: set it with backend_jwt_issuer") {
            try ClaimList().add(name: [UInt8]("iss"), options: [], literal: true)
        }
    }

    // MARK: Conflicts and duplicates

    @Test(arguments: [
        ("a", "a.b", #"claim "a.b" conflicts with claim "a""#),
        ("a.b", "a", #"claim "a" conflicts with claim "a.b""#),
        ("a.b.c", "a.b", #"claim "a.b" conflicts with claim "a.b.c""#),
        ("a.b", "a.b.c.d", #"claim "a.b.c.d" conflicts with claim "a.b""#),
        ("a", "a", #"claim "a" is declared twice"#),
        ("a.b", "a.b", #"claim "a.b" is declared twice"#),
        (#"a\b"#, #"a\\b"#, #"claim "a\x5c\x5cb" is declared twice"#),
        (#"x\.y"#, #"x\.y"#, #"claim "x\x5c.y" is declared twice"#),
        ("http://x/a.b", "http://x/a.b", #"claim "http://x/a.b" is declared twice"#),
        (#"a\.b"#, #"a\.b.c"#, #"claim "a\x5c.b.c" conflicts with claim "a\x5c.b""#),
        // one member to a Go backend, whose encoding/json matches names in any case (last wins)
        ("tenant", "Tenant", #"claim "Tenant" is declared twice"#),
        ("a.b", "a.B", #"claim "a.B" is declared twice"#),
        ("kid", "\u{212A}id", #"claim "\xe2\x84\xaaid" is declared twice"#),
        ("a.b", "A.b.c", #"claim "A.b.c" conflicts with claim "a.b""#),
    ])
    func conflictsAndDuplicatesAreRefusedInEitherOrder(_ first: String, _ second: String, _ message: String) throws {
        let list = ClaimList()
        try Self.add(list, first, ["type=int"])
        Self.expectRefused(second, to: list, message)
        #expect(list.claims.map(\.name) == [first])
    }

    /// Names that look alike but are other members go side by side.
    @Test(arguments: [
        ("a.b", #"a\.b"#), ("a.b", "a.c"), ("a.b.c", "a.b.d"), ("a", "ab"), ("a.b", "b.a"), ("http://x", "http://x.y"),
        ("a b", "a.b"), ("a", "\u{212A}"),
    ])
    func relatedButDistinctNamesAreAccepted(_ first: String, _ second: String) throws {
        let list = ClaimList()
        try Self.add(list, first)
        try Self.add(list, second)
        #expect(list.claims.map(\.name) == [first, second])
    }

    /// Dots nest wherever they are: the name is read scalar by scalar, so a dot followed by a
    /// combining mark (`.` U+0301) still separates.
    @Test func aDotBeforeACombiningMarkStillNests() throws {
        let claim = try Self.claim("a.\u{301}b")
        #expect(claim.path == ["a", "\u{301}b"])
    }

    // MARK: backend_jwt_enforce: appending a lower level's claims

    static func list(_ names: [String]) throws -> ClaimList {
        let list = ClaimList()
        for name in names { try add(list, name) }
        return list
    }

    @Test func appendingKeepsTheUpperClaimsFirst() throws {
        let upper = try Self.list(["platform", "org.unit"])
        let lower = try Self.list(["team", "org.team"])
        var conflict = -1
        let merged = try upper.appending(lower, conflict: &conflict)
        #expect(merged.claims.map(\.name) == ["platform", "org.unit", "team", "org.team"])
        #expect(merged.claims == upper.claims + lower.claims)
        #expect(upper.claims.map(\.name) == ["platform", "org.unit"], "the upper list is not changed")
        #expect(lower.claims.map(\.name) == ["team", "org.team"], "the lower list is not changed")
        // A new list: adding to it changes neither input.
        try Self.add(merged, "more")
        #expect(upper.claims.count == 2 && lower.claims.count == 2)
    }

    @Test func appendingEmptyListsCopies() throws {
        let upper = try Self.list(["a", "b.c"])
        var conflict = -1
        #expect(try upper.appending(ClaimList(), conflict: &conflict).claims == upper.claims)
        #expect(try ClaimList().appending(upper, conflict: &conflict).claims == upper.claims)
        #expect(try ClaimList().appending(ClaimList(), conflict: &conflict).claims.isEmpty)
    }

    @Test(arguments: [
        (["a"], ["x", "a"], 1, #"claim "a" is declared twice, which backend_jwt_enforce keeps"#),
        (["a"], ["x", "y", "a.b"], 2, #"claim "a.b" conflicts with claim "a", which backend_jwt_enforce keeps"#),
        (["a.b"], ["a"], 0, #"claim "a" conflicts with claim "a.b", which backend_jwt_enforce keeps"#),
        (["p.q.r", "s"], ["t", "p.q"], 1, #"claim "p.q" conflicts with claim "p.q.r", which backend_jwt_enforce keeps"#),
        (["a", "b"], ["b", "a"], 0, #"claim "b" is declared twice, which backend_jwt_enforce keeps"#),
    ])
    func appendingNamesTheFirstCollisionAndItsIndex(
        _ upperNames: [String], _ lowerNames: [String], _ index: Int, _ message: String
    ) throws {
        let upper = try Self.list(upperNames)
        let lower = try Self.list(lowerNames)
        var conflict = -1
        Self.expectError(message) { _ = try upper.appending(lower, conflict: &conflict) }
        #expect(conflict == index)
        #expect(upper.claims.map(\.name) == upperNames)
    }

    /// Three levels: the server's merge is the upper list of the location's.
    @Test func appendingChains() throws {
        let http = try Self.list(["a"])
        let server = try Self.list(["b.x"])
        let location = try Self.list(["b.y", "c"])
        var conflict = -1
        let merged = try http.appending(server, conflict: &conflict).appending(location, conflict: &conflict)
        #expect(merged.claims.map(\.name) == ["a", "b.x", "b.y", "c"])
        let clash = try Self.list(["d", "a.z"])
        Self.expectError(#"claim "a.z" conflicts with claim "a", which backend_jwt_enforce keeps"#) {
            _ = try merged.appending(clash, conflict: &conflict)
        }
        #expect(conflict == 1)
    }

    // MARK: Names compare by bytes

    /// "\u{E9}" and "e\u{301}" are canonically equivalent, so Swift's String equality calls them
    /// equal, but they are two JSON member names: both claims are kept, each its own member.
    @Test func canonicallyEquivalentNamesAreDistinctClaims() throws {
        let list = ClaimList()
        try Self.add(list, "\u{E9}")
        try Self.add(list, "e\u{301}")
        try Self.add(list, "\u{212B}")  // ANGSTROM SIGN, canonically U+00C5
        try Self.add(list, "\u{C5}")
        #expect(list.claims.count == 4)
        let payload = try StructuredClaimTests.members(list, ["1", "2", "3", "4"].map { [UInt8]($0.utf8) })
        #expect(Array(payload.utf8) == Array(",\"\u{E9}\":\"1\",\"e\u{301}\":\"2\",\"\u{212B}\":\"3\",\"\u{C5}\":\"4\"".utf8))
    }

    /// The same for nested names: two parents, not one shared object, and no prefix conflict.
    @Test func canonicallyEquivalentParentsAreDistinctObjects() throws {
        let list = ClaimList()
        try Self.add(list, "\u{E9}.a")
        try Self.add(list, "e\u{301}.a")
        let payload = try StructuredClaimTests.members(list, ["1", "2"].map { [UInt8]($0.utf8) })
        #expect(Array(payload.utf8) == Array(",\"\u{E9}\":{\"a\":\"1\"},\"e\u{301}\":{\"a\":\"2\"}".utf8))
        let other = ClaimList()
        try Self.add(other, "\u{E9}.a")
        try Self.add(other, "e\u{301}")  // a prefix of "\u{E9}.a" by String equality, not by bytes
        #expect(other.claims.count == 2)
        Self.expectRefused("\u{E9}.a", to: list, "claim \"\\xc3\\xa9.a\" is declared twice")
        Self.expectRefused("\u{E9}", to: list, "claim \"\\xc3\\xa9\" conflicts with claim \"\\xc3\\xa9.a\"")
    }

    /// A level under backend_jwt_enforce compares the same way.
    @Test func enforcedClaimsCompareNamesByBytes() throws {
        let upper = ClaimList()
        try Self.add(upper, "\u{E9}")
        let lower = ClaimList()
        try Self.add(lower, "e\u{301}")
        var conflict = -1
        #expect(try upper.appending(lower, conflict: &conflict).claims.count == 2)
    }

    /// Option names are matched in ASCII only: U+212A KELVIN SIGN lowercases to "k" in Unicode.
    @Test func wso2ArgumentNamesAreMatchedInASCII() throws {
        let error = #expect(throws: BackendJWTError.self) {
            try WSO2Claims.add(to: ClaimList(), options: ["apiname=a", "version=1", "\u{212A}eytype=x"].map { [UInt8]($0.utf8) })
        }
        #expect(error?.message.hasPrefix("unknown argument \"\\xe2\\x84\\xaaeytype\"") == true, "\(error?.message ?? "")")
    }
}
