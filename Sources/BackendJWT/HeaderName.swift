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
}
