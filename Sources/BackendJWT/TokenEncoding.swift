/// How the three token segments are encoded. The raw values are the C ABI's BJWT_ENC_* constants.
public enum TokenEncoding: Int32, Sendable, CaseIterable {
    /// RFC 7515: the URL-safe alphabet without padding. The only form that is valid JWS.
    case base64url = 0
    /// WSO2's legacy form: the standard alphabet (`+`, `/`) without padding. Not valid JWS; for
    /// backends written for WSO2 that decode it that way.
    case base64 = 1

    /// Parses a `backend_jwt_encoding` value, case-insensitively (APK writes `Base64Url`).
    public static func parse<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> TokenEncoding
    where Bytes.Element == UInt8 {
        if text.equalsIgnoringCase("base64url") { return .base64url }
        if text.equalsIgnoringCase("base64") { return .base64 }
        throw BackendJWTError(.config, "unknown encoding \(quoted(text)); use base64url or base64")
    }

    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The length of `count` bytes once encoded (no padding in either form).
    public static func encodedLength(_ count: Int) -> Int { (count * 4 + 2) / 3 }

    /// Encodes `input` into `output` starting at `at`; returns the index after the last byte
    /// written. The caller guarantees room for `encodedLength(input.count)` bytes.
    func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        let alphabet = self == .base64url ? Self.urlAlphabet : Self.standardAlphabet
        return alphabet.withUnsafeBufferPointer { table in
            var o = start
            var i = 0
            let n = input.count
            while i + 3 <= n {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                output[o] = table[Int(v >> 18)]
                output[o + 1] = table[Int(v >> 12 & 0x3F)]
                output[o + 2] = table[Int(v >> 6 & 0x3F)]
                output[o + 3] = table[Int(v & 0x3F)]
                i += 3
                o += 4
            }
            if n - i == 1 {
                let v = UInt32(input[i]) << 16
                output[o] = table[Int(v >> 18)]
                output[o + 1] = table[Int(v >> 12 & 0x3F)]
                o += 2
            } else if n - i == 2 {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                output[o] = table[Int(v >> 18)]
                output[o + 1] = table[Int(v >> 12 & 0x3F)]
                output[o + 2] = table[Int(v >> 6 & 0x3F)]
                o += 3
            }
            return o
        }
    }

    /// Encodes bytes into a new array (configuration time and tests).
    public func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.encodedLength(bytes.count))
        bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { _ = encode(input, into: $0, at: 0) }
        }
        return out
    }
}
