/// An error whose message is fit for nginx's error log: it says what was wrong and with which
/// value, so the C module can print it as is (with `in file:line` for directives).
public struct BackendJWTError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What failed; the C ABI maps it to a status code. A struct, not an enum, so the set can grow.
    public struct Kind: Hashable, Sendable {
        fileprivate let code: Int32
        /// A directive value is invalid.
        public static let config = Kind(code: 1)
        /// A key file cannot be read or used.
        public static let key = Kind(code: 2)
        /// A request value does not convert to its claim type.
        public static let value = Kind(code: 3)
        /// OpenSSL could not sign or produce randomness.
        public static let sign = Kind(code: 4)
        /// The caller's output buffer is too small.
        public static let space = Kind(code: 5)
        /// A certificate cannot be read or is not for the signing key.
        public static let certificate = Kind(code: 6)
        /// A caller's token is refused by the verifier (format, algorithm, key, signature or a
        /// claim check); the message is the reason, fit for an `info` log, never the token.
        public static let token = Kind(code: 7)
        /// A caller's token names a key (`kid`) that no configured or fetched key has, or has no
        /// `kid` and no key verifies it, while a JWK Set is fetched (`backend_jwt_verify_jwks`):
        /// refused, and a refetch of the set may bring the key (`RemoteKeySet.keyMiss`).
        public static let unknownKey = Kind(code: 8)
        /// No key can be used: the fetched JWK Set is not there (never fetched, or failed past its
        /// maximum staleness) and no configured key verifies the token. Not the caller's fault:
        /// the request fails closed with a 5xx, and the message names the URI and the reason.
        public static let unavailable = Kind(code: 9)
        /// Directive parsing's own, turned into `.config` before `LevelSettings.apply` returns:
        /// "is duplicate" (the message is what follows it), and a message in nginx's own words.
        static let duplicate = Kind(code: 100)
        static let nginx = Kind(code: 101)
        /// The status the C ABI returns for this kind (the BJWT_ERR_* constants).
        public var status: Int32 { code }
    }

    public let kind: Kind
    public let message: String
    /// Why a caller's token is refused (`.token`, `.unknownKey`, `.unavailable`); nil otherwise.
    public let refusal: Refusal?

    /// `refusal` defaults by kind: `.token` is `.malformed`, `.unknownKey` `.unknownKid`,
    /// `.unavailable` `.noKeys`.
    public init(_ kind: Kind, _ message: String, refusal: Refusal? = nil) {
        self.kind = kind
        self.message = message
        self.refusal =
            refusal ?? (kind == .token ? .malformed : kind == .unknownKey ? .unknownKid : kind == .unavailable ? .noKeys : nil)
    }

    public var description: String { message }
}

/// Quotes a value for an error message: printable ASCII as is, everything else as `\xNN`, cut
/// after `limit` bytes, so a hostile request value can neither flood nor forge a log line.
func quoted<Bytes: Collection>(_ bytes: Bytes, limit: Int = 64) -> String where Bytes.Element == UInt8 {
    var text = "\""
    for byte in bytes.prefix(limit) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + hex2(byte)
        }
    }
    text += bytes.count > limit ? "\"..." : "\""
    return text
}

func quoted(_ text: String) -> String { quoted(Array(text.utf8)) }

/// Quotes a file name from the configuration: escaped like any value, but never cut, since the
/// operator needs all of it to find the file.
func quotedPath(_ path: String) -> String { quoted(Array(path.utf8), limit: Int.max) }

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
}

extension Collection where Element == UInt8 {
    /// ASCII case-insensitive comparison with a lowercase literal.
    func equalsIgnoringCase(_ lowercase: String) -> Bool {
        count == lowercase.utf8.count
            && zip(self, lowercase.utf8).allSatisfy { a, b in (a | (a &- 0x41 < 26 ? 0x20 : 0)) == b }
    }
}

/// The bytes with ASCII letters lowercased and every other byte as it is: option names compare
/// by bytes, not by Unicode case mapping (which takes U+212A KELVIN SIGN to `k`).
func asciiLowercased<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
    bytes.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }
}
