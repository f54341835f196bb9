/// The custom claims of one configuration level, in directive order: what the
/// `backend_jwt_claim` directives of that level declare. Values are evaluated per request.
public final class ClaimList {
    public struct Claim: Sendable, Equatable {
        public let name: String
        public let type: ClaimType
    }

    public private(set) var claims: [Claim] = []

    /// Claims the module sets itself or through their own directive; JSON with a duplicate
    /// member name is ambiguous, so a custom claim may not reuse them.
    static let reserved: [String: String] = [
        "iss": "set it with backend_jwt_issuer", "sub": "set it with backend_jwt_subject",
        "aud": "it is a registered claim", "iat": "the module sets it", "exp": "the module sets it",
        "nbf": "it is a registered claim", "jti": "the module sets it",
    ]

    public static let maximumNameLength = 256

    public init() {}

    /// Adds one `backend_jwt_claim`: `name` and its optional `type=T` option (empty if absent).
    public func add<Name: Collection, Option: Collection>(name: Name, option: Option) throws(BackendJWTError)
    where Name.Element == UInt8, Option.Element == UInt8 {
        guard !name.isEmpty else { throw BackendJWTError(.config, "claim name is empty") }
        guard name.count <= Self.maximumNameLength else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) is longer than \(Self.maximumNameLength) bytes")
        }
        guard let text = String(validating: name, as: UTF8.self), !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) is not printable UTF-8")
        }
        if let why = Self.reserved[text] {
            throw BackendJWTError(.config, "claim name \(quoted(text)) is reserved: \(why)")
        }
        guard !claims.contains(where: { $0.name == text }) else {
            throw BackendJWTError(.config, "claim \(quoted(text)) is declared twice at this level")
        }
        let type = option.isEmpty ? ClaimType.string : try ClaimType.parseOption(option)
        claims.append(Claim(name: text, type: type))
    }
}
