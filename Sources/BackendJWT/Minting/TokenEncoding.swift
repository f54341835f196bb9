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

    /// The two characters of every 12 bits, the first in the low byte: one lookup and one store
    /// for half of three input bytes.
    private static func pairs(_ alphabet: [UInt8]) -> [UInt16] {
        (0..<4096).map { UInt16(alphabet[$0 >> 6]) | UInt16(alphabet[$0 & 0x3F]) << 8 }
    }
    private static let urlPairs = pairs(urlAlphabet)
    private static let standardPairs = pairs(standardAlphabet)

    /// The length of `count` bytes once encoded (no padding in either form).
    public static func encodedLength(_ count: Int) -> Int { (count * 4 + 2) / 3 }

    /// Encodes `input` into `output` starting at `at`; returns the index after the last byte
    /// written. The caller guarantees room for `encodedLength(input.count)` bytes.
    func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        let n = input.count
        precondition(start >= 0 && Self.encodedLength(n) <= output.count - start)
        guard n > 0 else { return start }
        let pairs = self == .base64url ? Self.urlPairs : Self.standardPairs
        return pairs.withUnsafeBufferPointer { pairs in
            let source = input.baseAddress!
            let target = UnsafeMutableRawPointer(output.baseAddress! + start)
            var o = 0
            var i = 0
            // Six bytes to eight characters, from a word of eight (its last two are read next time).
            while i + 8 <= n {
                let v = Int(truncatingIfNeeded: UInt64(bigEndian: source.loadUnaligned(fromByteOffset: i, as: UInt64.self)) >> 16)
                let text = UInt64(pairs[v >> 36]) | UInt64(pairs[v >> 24 & 0xFFF]) << 16
                    | UInt64(pairs[v >> 12 & 0xFFF]) << 32 | UInt64(pairs[v & 0xFFF]) << 48
                target.storeBytes(of: text.littleEndian, toByteOffset: o, as: UInt64.self)
                i += 6
                o += 8
            }
            while i + 3 <= n {
                let v = Int(source.load(fromByteOffset: i, as: UInt8.self)) << 16
                    | Int(source.load(fromByteOffset: i + 1, as: UInt8.self)) << 8
                    | Int(source.load(fromByteOffset: i + 2, as: UInt8.self))
                target.storeBytes(of: pairs[v >> 12].littleEndian, toByteOffset: o, as: UInt16.self)
                target.storeBytes(of: pairs[v & 0xFFF].littleEndian, toByteOffset: o + 2, as: UInt16.self)
                i += 3
                o += 4
            }
            // One or two bytes left: two or three characters, no padding.
            if i < n {
                var v = Int(source.load(fromByteOffset: i, as: UInt8.self)) << 16
                if i + 1 < n { v |= Int(source.load(fromByteOffset: i + 1, as: UInt8.self)) << 8 }
                target.storeBytes(of: pairs[v >> 12].littleEndian, toByteOffset: o, as: UInt16.self)
                o += 2
                if i + 1 < n {
                    target.storeBytes(of: UInt8(truncatingIfNeeded: pairs[v & 0xFFF]), toByteOffset: o, as: UInt8.self)
                    o += 1
                }
            }
            return start + o
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
