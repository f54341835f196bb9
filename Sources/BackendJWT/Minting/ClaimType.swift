/// The type of a custom claim (`backend_jwt_claim name value type=T`): APK's `customClaims`
/// types. A request value is converted per request; one that does not convert fails the request.
public enum ClaimType: String, Sendable, CaseIterable {
    /// A JSON string (the default).
    case string
    /// A JSON number, a whole number that fits 32 bits (Java's int).
    case int
    /// A JSON number, a whole number that fits 64 bits (Java's long).
    case long
    /// A JSON number, written as given; the value must already be a JSON number (`1.5`, `-2e3`).
    case float
    /// A JSON `true` or `false`, from `true`/`false` (any case) or `1`/`0`.
    case bool
    /// A NumericDate (whole seconds since the epoch) from RFC 3339 (`2025-01-31T12:00:00Z`,
    /// fractions of a second dropped) or from whole seconds.
    case date
    /// Any JSON value (object, array, string, number, literal), checked per request and written
    /// without the white space around it.
    case json
    /// A JSON array of strings: the value split at the claim's separator (`,` unless
    /// `separator=` says otherwise), each item without surrounding blanks, empty items dropped.
    case list

    /// Parses the value of `type=` (case-insensitive).
    public static func parse(_ text: String) throws(BackendJWTError) -> ClaimType {
        guard let type = ClaimType(rawValue: text.lowercased()) else {
            throw BackendJWTError(
                .config,
                "unknown claim type \(quoted(text)); use string, int, long, float, bool, date, json or list")
        }
        return type
    }

    /// The most bytes `appendJSON` writes beyond `appendString`'s bound for the same value
    /// (`1` as a bool is `true`).
    static let maximumExtraBytes = 4

    /// Appends `value` as JSON of this type, or throws a `.value` error naming the claim.
    /// `separator` splits `list` values.
    func appendJSON(
        _ value: UnsafeBufferPointer<UInt8>, claim: String, separator: [UInt8] = [UInt8(ascii: ",")],
        to json: inout JSONWriter
    ) throws(BackendJWTError) {
        switch self {
        case .string:
            json.appendString(value)
        case .json:
            do throws(JSONParser.Failure) {
                json.append(contentsOf: try JSONParser.validated(value, options: .claimValue))
            } catch where error.isDuplicateName {
                throw failure(claim, value, "has an object with a duplicate member name, which JSON parsers read differently")
            } catch {
                let depth = JSONParser.Options.claimValue.maximumDepth
                throw failure(claim, value, "is not JSON (one value, valid UTF-8, nested at most \(depth) deep)")
            }
        case .list:
            Self.appendList(value, separator: separator, to: &json)
        case .int:
            guard let n = Self.wholeNumber(value), n >= Int64(Int32.min), n <= Int64(Int32.max) else {
                throw failure(claim, value, "is not an int (a whole number from -2147483648 to 2147483647)")
            }
            json.append(n)
        case .long:
            guard let n = Self.wholeNumber(value) else {
                throw failure(claim, value, "is not a long (a whole number that fits 64 bits)")
            }
            json.append(n)
        case .float:
            guard JSONParser.isFiniteNumber(value) else {
                throw failure(claim, value, "is not a float (a JSON number such as 1.5 or -2e3, within a double's range)")
            }
            json.append(contentsOf: value)
        case .bool:
            if value.equalsIgnoringCase("true") || value.elementsEqual("1".utf8) {
                json.append("true")
            } else if value.equalsIgnoringCase("false") || value.elementsEqual("0".utf8) {
                json.append("false")
            } else {
                throw failure(claim, value, "is not a bool (true, false, 1 or 0)")
            }
        case .date:
            guard let seconds = Self.wholeNumber(value) ?? RFC3339.secondsSinceEpoch(value) else {
                throw failure(claim, value, "is not a date (RFC 3339, such as 2025-01-31T12:00:00Z, or whole seconds)")
            }
            json.append(seconds)
        }
    }

    /// Splits at every occurrence of `separator`; trims blanks; drops empty items.
    private static func appendList(
        _ value: UnsafeBufferPointer<UInt8>, separator: [UInt8], to json: inout JSONWriter
    ) {
        json.append("[")
        var first = true
        var start = 0
        var i = 0
        func flush(_ end: Int) {
            var a = start
            var b = end
            while a < b, value[a] == 0x20 || value[a] == 0x09 { a += 1 }
            while b > a, value[b - 1] == 0x20 || value[b - 1] == 0x09 { b -= 1 }
            guard a < b else { return }
            if !first { json.append(",") }
            json.appendString(UnsafeBufferPointer(rebasing: value[a..<b]))
            first = false
        }
        while i < value.count {
            if i + separator.count <= value.count, value[i..<(i + separator.count)].elementsEqual(separator) {
                flush(i)
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        flush(value.count)
        json.append("]")
    }

    private func failure(_ claim: String, _ value: UnsafeBufferPointer<UInt8>, _ why: String) -> BackendJWTError {
        BackendJWTError(.value, "claim \(quoted(claim)): value \(quoted(value)) \(why)")
    }

    /// `-?[0-9]+` that fits an Int64, or nil.
    static func wholeNumber(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let negative = s.first == UInt8(ascii: "-")
        if negative { i = 1 }
        guard i < s.count else { return nil }
        var n: Int64 = 0
        while i < s.count {
            let d = s[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (r, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1 && !o2 else { return nil }
            n = r
            i += 1
        }
        return n
    }
}
