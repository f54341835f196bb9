/// Strict base64url decoding (RFC 7515 section 2 and appendix C): the URL-safe alphabet only,
/// no padding, no white space, and the unused low bits of the last character zero, so every
/// byte string has exactly one accepted encoding.
enum Base64URLDecoding {
    /// The decoded bytes, or nil if `text` is not canonical unpadded base64url.
    static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        Array(text).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    /// Same, for a token's segment, read in place.
    static func decode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        text.withUnsafeBufferPointer { decode(buffer: $0) }
    }

    /// Four characters to three bytes through a table, into an array of the exact size (a
    /// character-at-a-time loop took as long as parsing the token's JSON).
    private static func decode(buffer text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let rest = text.count % 4
        guard rest != 1 else { return nil }
        let count = text.count / 4 * 3 + (rest == 0 ? 0 : rest - 1)
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: count) { out, written in
            table.withUnsafeBufferPointer { table in
                @inline(__always) func value(_ index: Int) -> UInt32 { UInt32(table[Int(text[index])]) }
                var i = 0
                var o = 0
                while i + 4 <= text.count {
                    let (a, b, c, d) = (value(i), value(i + 1), value(i + 2), value(i + 3))
                    guard (a | b | c | d) & 0x40 == 0 else { valid = false; break }
                    let bits = a << 18 | b << 12 | c << 6 | d
                    out[o] = UInt8(truncatingIfNeeded: bits >> 16)
                    out[o + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: bits)
                    i += 4
                    o += 3
                }
                if valid, rest >= 2 {
                    let (a, b) = (value(i), value(i + 1))
                    let c = rest == 3 ? value(i + 2) : 0
                    // The bits left over must be zero (a non-canonical last character is refused).
                    let unused = rest == 3 ? c & 0x03 : b & 0x0F
                    if (a | b | c) & 0x40 != 0 || unused != 0 {
                        valid = false
                    } else {
                        out[o] = UInt8(truncatingIfNeeded: a << 2 | b >> 4)
                        o += 1
                        if rest == 3 {
                            out[o] = UInt8(truncatingIfNeeded: b << 4 | c >> 2)
                            o += 1
                        }
                    }
                }
                written = o
            }
        }
        return valid ? out : nil
    }

    /// Each byte's 6-bit value in the base64url alphabet; 0x40 for any other byte.
    private static let table: [UInt8] = (0...255).map { (c: Int) -> UInt8 in
        switch UInt8(c) {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt8(c) - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt8(c) - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(c) - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: 0x40
        }
    }

    /// Why `text` is not base64url, for a reason string: names the offending character class.
    static func whyNot<Bytes: Collection>(_ text: Bytes) -> String where Bytes.Element == UInt8 {
        if text.contains(UInt8(ascii: "=")) { return "has padding ('=')" }
        if text.contains(UInt8(ascii: "+")) || text.contains(UInt8(ascii: "/")) {
            return "uses the base64 alphabet ('+' or '/'), not base64url"
        }
        if text.count % 4 == 1 { return "has an impossible length" }
        if text.contains(where: { !isAlphabet($0) }) { return "has a character outside base64url" }
        return "is not canonical base64url (unused bits set)"
    }

    private static func isAlphabet(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }
}
