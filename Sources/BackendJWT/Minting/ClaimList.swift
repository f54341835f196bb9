/// The custom claims of one configuration level, in directive order: what its
/// `backend_jwt_claim` (and `backend_jwt_wso2_claims`) directives declare. Values are evaluated
/// per request.
public final class ClaimList {
    /// What an empty value becomes (`if_empty=`).
    public enum IfEmpty: String, Sendable, CaseIterable {
        /// The claim is left out (the default).
        case omit
        /// The claim is JSON `null`.
        case null
        /// `""` for a string, `[]` for a list.
        case empty
        /// The request fails, as a value that does not convert does.
        case fail
    }

    public struct Claim: Sendable, Equatable {
        /// The name as written, for messages.
        public let name: String
        /// Where the claim goes: one member, or nested objects for a dotted name.
        public let path: [String]
        public let type: ClaimType
        public let separator: [UInt8]
        public let ifEmpty: IfEmpty
        /// The value as written, for claims a recipe declares (nginx compiles it); nil otherwise.
        public let template: [UInt8]?
    }

    public private(set) var claims: [Claim] = []

    /// Claims the module sets itself or through their own directive; a custom claim may not
    /// reuse them (JSON with a duplicate member name is ambiguous).
    static let reserved: [(name: String, why: String)] = [
        ("iss", "set it with backend_jwt_issuer"), ("sub", "set it with backend_jwt_subject"),
        ("aud", "set it with backend_jwt_audience"), ("iat", "the module sets it"), ("exp", "the module sets it"),
        ("nbf", "set it with backend_jwt_not_before"), ("jti", "the module sets it (backend_jwt_jti)"),
    ]

    /// Why `name` is reserved, or nil: by its bytes, and as Go's encoding/json matches names
    /// (`Sub`, `ſub`), whose last duplicate wins: a `Sub` after `sub` would replace the subject.
    static func whyReserved(_ name: String) -> String? {
        let folded = ClaimCopies.goFolded(Array(name.utf8))
        guard let hit = reserved.first(where: { $0.name.utf8.elementsEqual(folded) }) else { return nil }
        return hit.name == name ? hit.why : "a Go backend reads it as \"\(hit.name)\"; \(hit.why)"
    }

    public static let maximumNameLength = 256
    public static let maximumDepth = 8

    public init() {}

    init(copying other: ClaimList) { claims = other.claims }

    func replaceClaims(with other: ClaimList) { claims = other.claims }

    /// Adds one `backend_jwt_claim name value [type=T] [separator=S] [if_empty=E]`. A `literal`
    /// name is one member even with dots in it.
    public func add<Name: Collection>(name: Name, options: [[UInt8]], template: [UInt8]? = nil, literal: Bool = false)
        throws(BackendJWTError) where Name.Element == UInt8
    {
        let text = try Self.checkedName(name)
        let path = try Self.path(of: text, literal: literal)
        var type = ClaimType.string
        var separator: [UInt8]?
        var ifEmpty = IfEmpty.omit
        var seen: Set<[UInt8]> = []
        for option in options {
            guard String(validating: option, as: UTF8.self) != nil else {
                throw BackendJWTError(.config, "option \(quoted(option)) is not valid UTF-8")
            }
            let (keyBytes, value) = Self.split(option)
            guard seen.insert(keyBytes).inserted else {
                throw BackendJWTError(.config, "option \(quoted(keyBytes + [UInt8(ascii: "=")])) is given twice")
            }
            switch String(decoding: keyBytes, as: UTF8.self) {
            case "type": type = try ClaimType.parse(value)
            case "separator":
                guard !value.isEmpty else { throw BackendJWTError(.config, "separator= needs at least one character") }
                separator = Array(value.utf8)
            case "if_empty":
                guard let parsed = IfEmpty.allCases.first(where: { Array($0.rawValue.utf8) == asciiLowercased(value.utf8) }) else {
                    throw BackendJWTError(.config, "unknown if_empty value \(quoted(value)); use omit, null, empty or fail")
                }
                ifEmpty = parsed
            default:
                throw BackendJWTError(
                    .config, "unknown option \(quoted(option)); use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail")
            }
        }
        if separator != nil && type != .list {
            throw BackendJWTError(.config, "separator= is for type=list claims")
        }
        if ifEmpty == .empty && type != .string && type != .list {
            throw BackendJWTError(.config, "if_empty=empty is for string and list claims; type=\(type) has no empty form")
        }
        try Self.checkConflicts(path, name: text, with: claims)
        claims.append(
            Claim(name: text, path: path, type: type, separator: separator ?? [UInt8(ascii: ",")], ifEmpty: ifEmpty,
                  template: template))
    }

    /// This list followed by `lower`'s claims, for a level under `backend_jwt_enforce`: the
    /// enforced claims stay, the level adds its own. Throws naming the first claim of `lower`
    /// that collides; `conflict` gets its index.
    public func appending(_ lower: ClaimList, conflict: inout Int) throws(BackendJWTError) -> ClaimList {
        let merged = ClaimList()
        merged.claims = claims
        for (index, claim) in lower.claims.enumerated() {
            conflict = index
            do {
                try Self.checkConflicts(claim.path, name: claim.name, with: merged.claims)
            } catch {
                throw BackendJWTError(.config, "\(error.message), which backend_jwt_enforce keeps")
            }
            merged.claims.append(claim)
        }
        return merged
    }

    /// A claim at `path` beside `existing` ones: the same path twice, or one path inside another
    /// (`a` and `a.b`), cannot be written as JSON; nor, for a Go backend, names that differ only
    /// as its encoding/json folds them (`tenant` and `Tenant`: the last would win).
    static func checkConflicts(_ path: [String], name: String, with existing: [Claim]) throws(BackendJWTError) {
        // By their folded bytes, not by Swift's String equality (canonical equivalence):
        // "\u{E9}" and "e\u{301}" are two JSON member names.
        let same: (String, String) -> Bool = { ClaimCopies.goFolded(Array($0.utf8)) == ClaimCopies.goFolded(Array($1.utf8)) }
        for other in existing {
            if other.path.elementsEqual(path, by: same) {
                throw BackendJWTError(.config, "claim \(quoted(name)) is declared twice")
            }
            if other.path.starts(with: path, by: same) || path.starts(with: other.path, by: same) {
                throw BackendJWTError(.config, "claim \(quoted(name)) conflicts with claim \(quoted(other.name))")
            }
        }
    }

    private static func checkedName<Name: Collection>(_ name: Name) throws(BackendJWTError) -> String
    where Name.Element == UInt8 {
        guard !name.isEmpty else { throw BackendJWTError(.config, "claim name is empty") }
        guard name.count <= maximumNameLength else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) is longer than \(maximumNameLength) bytes")
        }
        guard let text = String(validating: name, as: UTF8.self),
            !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) is not printable UTF-8")
        }
        return text
    }

    /// A dotted name nests (`realm_access.roles`); `\.` is a literal dot; a URI name (one with
    /// `://`, as WSO2's `http://wso2.org/claims/enduser`) is always one member.
    static func path(of name: String, literal: Bool = false) throws(BackendJWTError) -> [String] {
        var segments = [String.UnicodeScalarView()]
        if literal || KeyFile.contains(Array(name.utf8), "://") {
            segments = [name.unicodeScalars]
        } else {
            // `\.` is a dot and `\\` a backslash; any other backslash stays as written.
            // Scalar by scalar: a dot followed by a combining mark is still a separator.
            var escaped = false
            for c in name.unicodeScalars {
                if escaped {
                    if c != "." && c != "\\" { segments[segments.count - 1].append("\\") }
                    segments[segments.count - 1].append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "." {
                    segments.append(String.UnicodeScalarView())
                } else {
                    segments[segments.count - 1].append(c)
                }
            }
            if escaped { segments[segments.count - 1].append("\\") }
        }
        let parts = segments.map { String($0) }
        guard !parts.contains(where: \.isEmpty) else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) has an empty part between dots")
        }
        guard parts.count <= maximumDepth else {
            throw BackendJWTError(.config, "claim name \(quoted(name)) nests deeper than \(maximumDepth) levels")
        }
        if let why = whyReserved(parts[0]) {
            throw BackendJWTError(.config, "claim name \(quoted(parts[0])) is reserved: \(why)")
        }
        return parts
    }

    /// `key=value` (the key lowercased, ASCII only); a bare word is a key with an empty value.
    private static func split(_ option: [UInt8]) -> ([UInt8], String) {
        guard let equals = option.firstIndex(of: UInt8(ascii: "=")) else { return (asciiLowercased(option), "") }
        return (asciiLowercased(option[..<equals]), String(decoding: option[(equals + 1)...], as: UTF8.self))
    }
}
