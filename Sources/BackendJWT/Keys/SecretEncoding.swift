/// How `backend_jwt_signing_secret` reads its file: raw bytes, or text in one of three encodings.
public enum SecretEncoding: String, Sendable, CaseIterable, CustomStringConvertible {
    case raw, base64, base64url, hex

    public var description: String { rawValue }

    /// Parses the optional `encoding=...` argument.
    public static func parseOption<Bytes: Collection>(_ option: Bytes) throws(BackendJWTError) -> SecretEncoding
    where Bytes.Element == UInt8 {
        let text = String(decoding: option, as: UTF8.self)
        guard text.hasPrefix("encoding="), let encoding = SecretEncoding(rawValue: String(text.dropFirst(9))),
            encoding != .raw
        else {
            throw BackendJWTError(
                .config, "unknown option \(quoted(option)); use encoding=base64, encoding=base64url or encoding=hex")
        }
        return encoding
    }

    /// The secret bytes, or nil if the text is not in this encoding.
    func decode(_ input: [UInt8]) -> [UInt8]? {
        if self == .raw { return input }
        // White space anywhere is ignored: `openssl rand -base64 64` wraps its lines.
        let text = ArraySlice(input.filter { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) })
        switch self {
        case .hex: return Self.decodeHex(text)
        case .base64: return Self.decodeBase64(text, alphabet: "+/")
        case .base64url: return Self.decodeBase64(text, alphabet: "-_")
        case .raw: return Array(text)
        }
    }

    private static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            guard let high = nibble(text[i]), let low = nibble(text[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    /// Base64 with the given last two alphabet characters; padding optional.
    private static func decodeBase64(_ text: ArraySlice<UInt8>, alphabet last2: String) -> [UInt8]? {
        let extra = Array(last2.utf8)
        var body = text
        while body.last == UInt8(ascii: "=") { body = body.dropLast() }
        guard text.count - body.count <= 2, body.count % 4 != 1 else { return nil }
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
            case extra[0]: 62
            case extra[1]: 63
            default: nil
            }
        }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in body {
            guard let v = value(c) else { return nil }
            buffer = buffer << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
