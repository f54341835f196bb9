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

    /// A whole number in decimal, without a temporary String.
    mutating func append(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of stack; Int64 has at most 19 digits
        let size = MemoryLayout.size(ofValue: digits)
        let count = withUnsafeMutableBytes(of: &digits) { buffer -> Int in
            var n = 0
            repeat {
                n += 1
                buffer[size - n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            return n
        }
        withUnsafeBytes(of: &digits) { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[(size - count)...])) }
    }

    mutating func appendString<Bytes: Collection>(_ value: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        bytes.append(UInt8(ascii: "\""))
        var i = value.startIndex
        let end = value.endIndex
        while i < end {
            // Printable ASCII that needs no escape is copied in runs.
            var run = i
            while run < end, value[run] >= 0x20, value[run] < 0x80, value[run] != UInt8(ascii: "\""),
                value[run] != UInt8(ascii: "\\")
            {
                run += 1
            }
            if run > i {
                bytes.append(contentsOf: value[i..<run])
                i = run
                continue
            }
            let byte = value[i]
            if byte >= 0x80 {
                let length = Self.validUTF8SequenceLength(value, at: i)
                if length == 0 {
                    bytes.append(0xEF)  // U+FFFD
                    bytes.append(0xBF)
                    bytes.append(0xBD)
                    i += 1
                } else {
                    bytes.append(contentsOf: value[i..<i + length])
                    i += length
                }
                continue
            }
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            default:
                append("u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            }
            i += 1
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// How many bytes `appendString` writes for `value`, quotes included.
    static func stringLength<Bytes: Collection>(_ value: Bytes) -> Int
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var length = 2
        var i = value.startIndex
        while i < value.endIndex {
            let byte = value[i]
            if byte >= 0x80 {
                let sequence = validUTF8SequenceLength(value, at: i)
                length += sequence == 0 ? 3 : sequence  // U+FFFD for a stray byte
                i += max(sequence, 1)
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x0C, 0x0A, 0x0D, 0x09: length += 2
            case ..<0x20: length += 6
            default: length += 1
            }
            i += 1
        }
        return length
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
