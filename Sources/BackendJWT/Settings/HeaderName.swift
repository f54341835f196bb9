/// Checks a `backend_jwt_header` name: a header nginx itself accepts from a client by default
/// (letters, digits, `-`; no `_`, which nginx drops unless `underscores_in_headers` is on), and
/// not one that controls how nginx or the backend frames or routes the request.
public enum HeaderName {
    public static let maximumLength = 256

    private static let forbidden: Set<String> = [
        "host", "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "content-length", "expect",
    ]

    public static func check<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) where Bytes.Element == UInt8 {
        guard !text.isEmpty else { throw BackendJWTError(.config, "header name is empty") }
        guard text.count <= maximumLength else {
            throw BackendJWTError(.config, "header name \(quoted(text)) is longer than \(maximumLength) bytes")
        }
        for byte in text {
            let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard isLetter || isDigit || byte == UInt8(ascii: "-") else {
                throw BackendJWTError(
                    .config, "invalid header name \(quoted(text)): only letters, digits and \"-\" are allowed")
            }
        }
        let lowercase = String(decoding: text.map { $0 | ($0 &- 0x41 < 26 ? 0x20 : 0) }, as: UTF8.self)
        guard !forbidden.contains(lowercase) else {
            throw BackendJWTError(
                .config, "header name \(quoted(text)) controls how the request is routed or framed; choose another")
        }
    }

    /// The scheme before the token in the header's value (`backend_jwt_header name
    /// scheme=word|off`): `Bearer` for `Authorization` unless given (RFC 6750 2.1), none for
    /// other headers. A scheme is a token of RFC 9110 (letters, digits, `-`, `.`, `_`, ...).
    public static func scheme(_ option: [UInt8]?, header: [UInt8]) throws(BackendJWTError) -> [UInt8] {
        guard let option else { return header.equalsIgnoringCase("authorization") ? Array("Bearer".utf8) : [] }
        let prefix = Array("scheme=".utf8)
        guard option.count > prefix.count, option.prefix(prefix.count).equalsIgnoringCase("scheme=") else {
            throw BackendJWTError(.config, "invalid option \(quoted(option)); use scheme=WORD or scheme=off")
        }
        let word = Array(option.dropFirst(prefix.count))
        if word.equalsIgnoringCase("off") { return [] }
        let symbols = Array("!#$%&'*+-.^_`|~".utf8)
        guard word.count <= 64, word.allSatisfy({ $0 < 0x80 && (isAlphanumeric($0) || symbols.contains($0)) }) else {
            throw BackendJWTError(.config, "invalid scheme \(quoted(word)): a word of letters, digits and -._~ (such as Bearer)")
        }
        return word
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
