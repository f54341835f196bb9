/// Checks that bytes are one JSON value (RFC 8259) in valid UTF-8, for `type=json` claims whose
/// values come from requests. Iterative, with a nesting limit, so hostile input cannot exhaust
/// the worker's stack.
enum JSONValidator {
    static let maximumDepth = 32

    enum Outcome {
        /// The value without surrounding white space.
        case valid(UnsafeBufferPointer<UInt8>)
        /// Not exactly one JSON value.
        case invalid
        /// An object has two members of one name (after unescaping): parsers disagree on which
        /// one counts, which is how a value gets past one reader and means another thing to the
        /// next (RFC 8259 4 and RFC 8725 3.11), so such a value is refused.
        case duplicateName
    }

    /// The value without surrounding white space, or nil if `s` is not exactly one JSON value
    /// or has a duplicate member name.
    static func validated(_ s: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        if case .valid(let value) = check(s) { return value }
        return nil
    }

    /// Whether `s` is exactly one JSON value without duplicate member names.
    static func check(_ s: UnsafeBufferPointer<UInt8>) -> Outcome {
        var i = 0
        // Containers open at this point: true for an object, false for an array.
        var stack: [Bool] = []
        // The member names (unescaped) of each object open at this point.
        var names: [Set<[UInt8]>] = []
        // A member name starting at `i`: valid, and new in the innermost object.
        func memberName() -> Outcome? {
            let start = i
            guard string(s, &i) else { return .invalid }
            guard names[names.count - 1].insert(unescaped(s, from: start + 1, to: i - 1)).inserted else {
                return .duplicateName
            }
            return nil
        }
        func skipSpace() {
            while i < s.count, s[i] == 0x20 || s[i] == 0x09 || s[i] == 0x0A || s[i] == 0x0D { i += 1 }
        }
        skipSpace()
        let start = i
        var expectValue = true
        while true {
            skipSpace()
            if expectValue {
                guard i < s.count else { return .invalid }
                switch s[i] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < maximumDepth else { return .invalid }
                    let isObject = s[i] == UInt8(ascii: "{")
                    i += 1
                    skipSpace()
                    if i < s.count, s[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        i += 1
                        expectValue = false
                        continue
                    }
                    stack.append(isObject)
                    if isObject {
                        names.append([])
                        if let failure = memberName() { return failure }
                        skipSpace()
                        guard i < s.count, s[i] == UInt8(ascii: ":") else { return .invalid }
                        i += 1
                    }
                    continue
                case UInt8(ascii: "\""):
                    guard string(s, &i) else { return .invalid }
                case UInt8(ascii: "t"): guard literal(s, &i, "true") else { return .invalid }
                case UInt8(ascii: "f"): guard literal(s, &i, "false") else { return .invalid }
                case UInt8(ascii: "n"): guard literal(s, &i, "null") else { return .invalid }
                default: guard number(s, &i) else { return .invalid }
                }
                expectValue = false
            } else {
                guard let isObject = stack.last else { break }
                guard i < s.count else { return .invalid }
                if s[i] == UInt8(ascii: ",") {
                    i += 1
                    if isObject {
                        skipSpace()
                        if let failure = memberName() { return failure }
                        skipSpace()
                        guard i < s.count, s[i] == UInt8(ascii: ":") else { return .invalid }
                        i += 1
                    }
                    expectValue = true
                } else if s[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    stack.removeLast()
                    if isObject { names.removeLast() }
                } else {
                    return .invalid
                }
            }
        }
        skipSpace()
        guard i == s.count else { return .invalid }
        // A JSON text never ends in significant white space: what trails the value goes.
        var end = i
        while end > start, s[end - 1] == 0x20 || s[end - 1] == 0x09 || s[end - 1] == 0x0A || s[end - 1] == 0x0D {
            end -= 1
        }
        return .valid(UnsafeBufferPointer(rebasing: s[start..<end]))
    }

    /// The UTF-8 bytes of the string whose content (between the quotes, already checked by
    /// `string`) is `s[from..<to]`: `\u0061` and `a` are one name, as for every JSON parser.
    private static func unescaped(_ s: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(to - from)
        var i = from
        while i < to {
            guard s[i] == UInt8(ascii: "\\") else {
                out.append(s[i])
                i += 1
                continue
            }
            switch s[i + 1] {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(hexUnit(s, i + 2)!)
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // `string` checked that a low surrogate follows.
                    let low = UInt32(hexUnit(s, i + 8)!)
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
                i += 6
                continue
            default: out.append(s[i + 1])  // " \ /
            }
            i += 2
        }
        return out
    }

    /// A string starting at `i`: escapes checked, no raw control characters, valid UTF-8.
    private static func string(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        guard i < s.count, s[i] == UInt8(ascii: "\"") else { return false }
        i += 1
        while i < s.count {
            let c = s[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return true
            case UInt8(ascii: "\\"):
                guard i + 1 < s.count else { return false }
                switch s[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    // A surrogate must come as a high-low pair: a lone one is not a character,
                    // and JSON parsers (Foundation's among them) refuse the whole text.
                    guard let unit = hexUnit(s, i + 2) else { return false }
                    i += 6
                    if unit >= 0xDC00 && unit <= 0xDFFF { return false }
                    if unit >= 0xD800 && unit <= 0xDBFF {
                        guard i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                            let low = hexUnit(s, i + 2), low >= 0xDC00 && low <= 0xDFFF
                        else { return false }
                        i += 6
                    }
                default: return false
                }
            case 0..<0x20: return false
            case 0x80...:
                let length = JSONWriter.validUTF8SequenceLength(s, at: i)
                guard length > 0 else { return false }
                i += length
            default: i += 1
            }
        }
        return false
    }

    /// The four hex digits at `at` as a UTF-16 code unit.
    private static func hexUnit(_ s: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt16? {
        guard at + 4 <= s.count, s[at..<(at + 4)].allSatisfy(isHexDigit) else { return nil }
        return UInt16(String(decoding: s[at..<(at + 4)], as: UTF8.self), radix: 16)
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f"))
    }

    private static func literal(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= s.count else { return false }
        let matches = word.withUTF8Buffer { s[i..<(i + n)].elementsEqual($0) }
        if matches { i += n }
        return matches
    }

    /// A number starting at `i` (RFC 8259 grammar), by the rule `ClaimType.isJSONNumber` checks.
    private static func number(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var end = i
        while end < s.count, !isDelimiter(s[end]) { end += 1 }
        guard end > i, ClaimType.isJSONNumber(UnsafeBufferPointer(rebasing: s[i..<end])) else { return false }
        i = end
        return true
    }

    private static func isDelimiter(_ c: UInt8) -> Bool {
        c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == 0x20 || c == 0x09
            || c == 0x0A || c == 0x0D
    }
}
