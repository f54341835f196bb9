/// Appends JSON (RFC 8259) text to a byte buffer.
///
/// Strings: `"` and `\` are escaped, control characters below U+0020 become `\b \f \n \r \t` or
/// `\u00XX`, valid UTF-8 is copied as is, and every byte that is not part of a valid UTF-8
/// sequence (stray continuation bytes, overlong forms, surrogates, code points past U+10FFFF,
/// truncated sequences) becomes U+FFFD, so the output is always valid JSON in valid UTF-8.
struct JSONWriter {
    var bytes: [UInt8] = []

    /// The most bytes `appendString` writes per input byte (`\u00XX`), plus the two quotes.
    static let stringExpansion = 6

    mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func appendString<Bytes: Collection>(_ value: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        bytes.append(UInt8(ascii: "\""))
        var i = value.startIndex
        let end = value.endIndex
        while i < end {
            let byte = value[i]
            if byte >= 0x80 {
                let length = Self.validUTF8SequenceLength(value, at: i)
                if length == 0 {
                    bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD
                    i += 1
                } else {
                    bytes.append(contentsOf: value[i..<i + length])
                    i += length
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(contentsOf: Array(hex2(byte).utf8))
            default: bytes.append(byte)
            }
            i += 1
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The length (2 to 4) of the well-formed UTF-8 sequence starting at `i` (RFC 3629 table),
    /// or 0 if the byte there does not start one.
    static func validUTF8SequenceLength<Bytes: Collection>(_ s: Bytes, at i: Int) -> Int
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let remaining = s.endIndex - i
        func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            k < remaining && s[i + k] >= low && s[i + k] <= high
        }
        switch s[i] {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0  // no surrogates
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }
}
