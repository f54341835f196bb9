import Testing

@testable import BackendJWT

/// Request values converted to their claim's JSON type (`backend_jwt_claim name value type=T`).
@Suite("Claim value types")
struct ClaimTypeTests {
    /// The JSON a value of `type` becomes in the payload.
    static func json(_ type: ClaimType, _ value: String) throws(BackendJWTError) -> String {
        var writer = JSONWriter()
        let bytes = [UInt8](value)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { buffer.deallocate() }
        _ = buffer.initialize(from: bytes)
        try type.appendJSON(UnsafeBufferPointer(start: buffer.baseAddress, count: bytes.count), claim: "c", to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Checks that `value` is refused with a value error naming the claim, the value and the type.
    static func expectRejected(
        _ type: ClaimType, _ value: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) {
            _ = try json(type, value)
        }
        #expect(error?.kind == .value, sourceLocation: sourceLocation)
        let expected = "claim \"c\": value \(shownInMessage(value)) is not a\(type == .int ? "n" : "") \(type.rawValue)"
        #expect(error?.message.hasPrefix(expected) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["", "text", "123", "true", "2025-01-31T12:00:00Z"])
    func stringIsAJSONString(_ value: String) throws {
        #expect(try Self.json(.string, value) == "\"\(value)\"")
    }

    @Test(arguments: [
        ("0", "0"), ("42", "42"), ("-42", "-42"), ("-0", "0"), ("007", "7"), ("2147483647", "2147483647"),
        ("-2147483648", "-2147483648"),
    ])
    func intAccepts(_ value: String, _ json: String) throws {
        #expect(try Self.json(.int, value) == json)
    }

    @Test(arguments: [
        "2147483648", "-2147483649", "9223372036854775807", "99999999999999999999", "-", "+1", "1.0", "1e3", " 1",
        "1 ", "0x10", "abc", "--1", "1-", "١",
    ])
    func intRejects(_ value: String) {
        Self.expectRejected(.int, value)
    }

    @Test func intErrorStatesTheRange() {
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.json(.int, "2147483648") }
        #expect(
            error?.message
                == "claim \"c\": value \"2147483648\" is not an int (a whole number from -2147483648 to 2147483647)")
    }

    @Test(arguments: [
        ("0", "0"), ("-1", "-1"), ("2147483648", "2147483648"), ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "-9223372036854775808"), ("0009223372036854775807", "9223372036854775807"),
    ])
    func longAccepts(_ value: String, _ json: String) throws {
        #expect(try Self.json(.long, value) == json)
    }

    @Test(arguments: [
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "-", "+5", "5.0", "1e18", "", "x1",
    ])
    func longRejects(_ value: String) throws {
        // An empty value never reaches the type (the claim is left out, see SigningTests); here it is refused.
        Self.expectRejected(.long, value)
    }

    /// RFC 8259 numbers are emitted exactly as given.
    @Test(arguments: [
        "0", "-0", "1", "-1", "1.5", "-2e3", "0.0", "0.001", "123456789012345678901234567890", "1E+10", "1e-5",
        "1E5", "-0.5e-7", "3.14159", "1.7976931348623157e308", "1e-400",
    ])
    func floatAcceptsJSONNumbers(_ value: String) throws {
        #expect(try Self.json(.float, value) == value)
    }

    @Test(arguments: [
        "", "-", "+1", "01", "-01", "00", "1.", ".5", "-.5", "1.e5", "1e", "1e+", "1E-", "e5", "1.5.5", "1e5.5",
        "NaN", "nan", "Infinity", "-Infinity", "inf", "0x10", " 1", "1 ", "1,5", "1_000", "--1", "1e5e5", "١",
        // beyond a double: parsers disagree (found by FuzzClaims: Foundation refuses the payload)
        "1e309", "-1e309", "91999999999994e9999999999", "1" + String(repeating: "0", count: 400),
    ])
    func floatRejectsWhatIsNotAJSONNumber(_ value: String) {
        Self.expectRejected(.float, value)
    }

    @Test(arguments: [
        ("true", "true"), ("TRUE", "true"), ("True", "true"), ("tRuE", "true"), ("1", "true"),
        ("false", "false"), ("FALSE", "false"), ("False", "false"), ("0", "false"),
    ])
    func boolAccepts(_ value: String, _ json: String) throws {
        #expect(try Self.json(.bool, value) == json)
    }

    @Test(arguments: ["yes", "no", "on", "off", "t", "f", "2", "-1", "01", "10", " true", "true ", "truee", "", "ｔrue"])
    func boolRejects(_ value: String) {
        Self.expectRejected(.bool, value)
    }

    /// Expected values computed with GNU date (`date -u -d ... +%s`).
    @Test(arguments: [
        ("2025-01-31T12:00:00Z", 1_738_324_800), ("2025-01-31t12:00:00z", 1_738_324_800),
        ("2025-01-31 12:00:00Z", 1_738_324_800), ("2025-01-31T12:00:00+00:00", 1_738_324_800),
        ("2025-01-31T12:00:00-00:00", 1_738_324_800), ("2025-01-31T12:00:00+02:00", 1_738_317_600),
        ("2025-01-31T12:00:00-05:30", 1_738_344_600), ("2025-01-31T12:00:00.999Z", 1_738_324_800),
        ("2025-01-31T12:00:00.5+02:00", 1_738_317_600), ("2025-01-31T12:00:00.123456789Z", 1_738_324_800),
        ("1970-01-01T00:00:00Z", 0), ("1969-12-31T23:59:59Z", -1), ("2038-01-19T03:14:08Z", 2_147_483_648),
        ("2024-02-29T00:00:00Z", 1_709_164_800), ("2000-02-29T23:59:59Z", 951_868_799),
        ("1900-03-01T00:00:00Z", -2_203_891_200), ("0001-01-01T00:00:00Z", -62_135_596_800),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
        ("2016-12-31T23:59:60Z", 1_483_228_800),  // a leap second counts as the next second
        ("2025-01-01T00:30:00+23:59", 1_735_605_060),
    ] as [(String, Int64)])
    func dateAcceptsRFC3339(_ value: String, _ seconds: Int64) throws {
        #expect(try Self.json(.date, value) == String(seconds))
    }

    @Test(arguments: [
        ("1738324800", "1738324800"), ("0", "0"), ("-1", "-1"), ("9223372036854775807", "9223372036854775807"),
    ])
    func dateAcceptsWholeSeconds(_ value: String, _ json: String) throws {
        #expect(try Self.json(.date, value) == json)
    }

    @Test(arguments: [
        "2025-02-29T00:00:00Z",  // not a leap year
        "1900-02-29T00:00:00Z",  // divisible by 100, not by 400
        "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-01-00T00:00:00Z",
        "2025-01-32T00:00:00Z", "2025-01-31T24:00:00Z", "2025-01-31T12:60:00Z", "2025-01-31T12:00:61Z",
        "2025-01-31T12:00:00", "2025-01-31T12:00:00+0200", "2025-01-31T12:00:00+02", "2025-01-31T12:00:00+24:00",
        "2025-01-31T12:00:00+02:60", "2025-01-31T12:00:00.Z", "2025-01-31T12:00:00,5Z", "2025-01-31T12:00Z",
        "2025-01-31", "2025-1-31T12:00:00Z", "25-01-31T12:00:00Z", "2025-01-31X12:00:00Z", "2025-01-31T12:00:00Z ",
        " 2025-01-31T12:00:00Z", "2025-01-31T12:00:00ZZ", "2025/01/31T12:00:00Z", "+2025-01-31T12:00:00Z",
        "1.5", "1e9", "9223372036854775808", "now", "-",
    ])
    func dateRejects(_ value: String) {
        Self.expectRejected(.date, value)
    }

    @Test func leapYearsFollowTheGregorianRules() throws {
        #expect(try Self.json(.date, "2000-02-29T00:00:00Z") == "951782400")
        #expect(try Self.json(.date, "2400-02-29T00:00:00Z") == "13574563200")
        #expect(throws: BackendJWTError.self) { _ = try Self.json(.date, "2100-02-29T00:00:00Z") }
        #expect(throws: BackendJWTError.self) { _ = try Self.json(.date, "2023-02-29T00:00:00Z") }
        #expect(try Self.json(.date, "2023-02-28T23:59:59Z") == "1677628799")
    }

    @Test func valueErrorsQuoteHostileValuesSafely() {
        let value = "a\"b\n" + String(repeating: "x", count: 100)
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.json(.int, value) }
        // Quote, backslash and newline are hex-escaped, and the value is cut after 64 bytes.
        #expect(error?.message.hasPrefix("claim \"c\": value \"a\\x22b\\x0a" + String(repeating: "x", count: 60) + "\"... is not an int") == true,
                "\(error?.message ?? "")")
    }
}
