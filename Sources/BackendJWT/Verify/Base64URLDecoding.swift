/// Strict base64url decoding (RFC 7515 section 2 and appendix C): the URL-safe alphabet only,
/// no padding, no white space, and the unused low bits of the last character zero, so every
/// byte string has exactly one accepted encoding.
enum Base64URLDecoding {
    /// The decoded bytes, or nil if `text` is not canonical unpadded base64url.
    static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        guard text.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "_"): v = 63
            default: return nil
            }
            buffer = (buffer << 6 | v) & 0xFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // The bits left over must be zero (a non-canonical last character is refused).
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
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
