/// Checks that bytes are one JSON value (RFC 8259) in valid UTF-8, for `type=json` claims whose
/// values come from requests. Iterative, with a nesting limit, so hostile input cannot exhaust
/// the worker's stack.
enum JSONValidator {
    static let maximumDepth = 32

    /// The value without surrounding white space, or nil if `s` is not exactly one JSON value.
    static func validated(_ s: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        var i = 0
        // Containers open at this point: true for an object, false for an array.
        var stack: [Bool] = []
        func skipSpace() {
            while i < s.count, s[i] == 0x20 || s[i] == 0x09 || s[i] == 0x0A || s[i] == 0x0D { i += 1 }
        }
        skipSpace()
        let start = i
        var expectValue = true
        while true {
            skipSpace()
            if expectValue {
                guard i < s.count else { return nil }
                switch s[i] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < maximumDepth else { return nil }
                    let isObject = s[i] == UInt8(ascii: "{")
                    stack.append(isObject)
                    i += 1
                    skipSpace()
                    if i < s.count, s[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        i += 1
                        stack.removeLast()
                        expectValue = false
                        continue
                    }
                    if isObject {
                        guard string(s, &i) else { return nil }
                        skipSpace()
                        guard i < s.count, s[i] == UInt8(ascii: ":") else { return nil }
                        i += 1
                    }
                    continue
                case UInt8(ascii: "\""):
                    guard string(s, &i) else { return nil }
                case UInt8(ascii: "t"): guard literal(s, &i, "true") else { return nil }
                case UInt8(ascii: "f"): guard literal(s, &i, "false") else { return nil }
                case UInt8(ascii: "n"): guard literal(s, &i, "null") else { return nil }
                default: guard number(s, &i) else { return nil }
                }
                expectValue = false
            } else {
                guard let isObject = stack.last else { break }
                guard i < s.count else { return nil }
                if s[i] == UInt8(ascii: ",") {
                    i += 1
                    if isObject {
                        skipSpace()
                        guard string(s, &i) else { return nil }
                        skipSpace()
                        guard i < s.count, s[i] == UInt8(ascii: ":") else { return nil }
                        i += 1
                    }
                    expectValue = true
                } else if s[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    stack.removeLast()
                } else {
                    return nil
                }
            }
        }
        skipSpace()
        guard i == s.count else { return nil }
        // A JSON text never ends in significant white space: what trails the value goes.
        var end = i
        while end > start, s[end - 1] == 0x20 || s[end - 1] == 0x09 || s[end - 1] == 0x0A || s[end - 1] == 0x0D {
            end -= 1
        }
        return UnsafeBufferPointer(rebasing: s[start..<end])
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
