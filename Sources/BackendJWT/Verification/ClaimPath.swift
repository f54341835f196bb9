/// Where a claim is in the caller's token, as every directive that names one writes it: dotted
/// segments (`realm_access.roles`), and a segment in double quotes for a name that holds dots or
/// slashes (`"https://example.com/roles"`, with `\"` and `\\` inside). A segment is a member name
/// compared by its exact bytes: no case folding, no guessing where a dotted name ends.
public struct ClaimPath: Equatable, Hashable, Sendable {
    /// The member names, outermost first.
    public let segments: [[UInt8]]
    /// The path as written, for messages.
    public let text: [UInt8]

    /// Deeper than any identity provider nests its claims.
    public static let maximumDepth = 16

    /// Parses a path; the error says what is wrong with it.
    public static func parse(_ text: [UInt8]) throws(BackendJWTError) -> ClaimPath {
        func fail(_ why: String) -> BackendJWTError { BackendJWTError(.config, "claim path \(quoted(text)) \(why)") }
        guard !text.isEmpty else { throw fail("is empty") }
        var segments: [[UInt8]] = []
        var i = 0
        while true {
            var name: [UInt8] = []
            if text[i] == UInt8(ascii: "\"") {
                i += 1
                while true {
                    guard i < text.count else { throw fail("has a quote that is not closed") }
                    let c = text[i]
                    if c == UInt8(ascii: "\"") { break }
                    if c == UInt8(ascii: "\\") {
                        guard i + 1 < text.count, text[i + 1] == UInt8(ascii: "\"") || text[i + 1] == UInt8(ascii: "\\")
                        else { throw fail("has a backslash that is not \\\" or \\\\") }
                        i += 1
                    }
                    name.append(text[i])
                    i += 1
                }
                i += 1  // the closing quote
                guard i == text.count || text[i] == UInt8(ascii: ".") else {
                    throw fail("has text after a quoted name (quote the whole name, or put a dot after it)")
                }
            } else {
                while i < text.count, text[i] != UInt8(ascii: ".") {
                    guard text[i] != UInt8(ascii: "\""), text[i] != UInt8(ascii: "\\") else {
                        throw fail("has a quote or backslash inside a name (quote the whole name: \"a.b\")")
                    }
                    name.append(text[i])
                    i += 1
                }
            }
            guard !name.isEmpty else { throw fail("has an empty name (two dots, or a dot at an end)") }
            guard !name.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw fail("has a control character") }
            guard name.count <= ClaimList.maximumNameLength else {
                throw fail("has a name longer than \(ClaimList.maximumNameLength) bytes")
            }
            guard String(validating: name, as: UTF8.self) != nil else { throw fail("is not valid UTF-8") }
            segments.append(name)
            guard segments.count <= maximumDepth else { throw fail("is deeper than \(maximumDepth) names") }
            if i == text.count { break }
            i += 1  // the dot
            guard i < text.count else { throw fail("has an empty name (two dots, or a dot at an end)") }
        }
        return ClaimPath(segments: segments, text: text)
    }

    /// The value at this path in `claims` (objects all the way down), or nil.
    public func value(in claims: JSONValue) -> JSONValue? {
        var value = claims
        for name in segments {
            guard let inner = value[member: name] else { return nil }
            value = inner
        }
        return value
    }
}

/// How a claim named by an nginx variable (whose name nginx lowercased) is found: by its name in
/// any letter case, and only when exactly one member matches.
public enum ClaimLookup: Equatable, Sendable {
    case found(JSONValue)
    case absent
    /// Two members match (`tenantId` and `tenantid` for `$..._tenantid`): neither is used.
    case ambiguous

    /// The member of `object` whose name is `name` regardless of ASCII case.
    public static func member(_ name: UnsafeBufferPointer<UInt8>, in object: JSONValue) -> ClaimLookup {
        guard case .object(let members) = object else { return .absent }
        var found: JSONValue?
        for member in members where member.name.count == name.count {
            let same = member.name.withUnsafeBufferPointer { own in
                zip(own, name).allSatisfy { lowercase($0) == lowercase($1) }
            }
            guard same else { continue }
            if found != nil { return .ambiguous }
            found = member.value
        }
        return found.map { .found($0) } ?? .absent
    }

    private static func lowercase(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
}
