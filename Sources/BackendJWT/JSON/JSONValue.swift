/// A parsed JSON value (RFC 8259), as the verifier reads a token's header and payload and a JWK
/// Set: objects keep their members in order, strings are unescaped UTF-8, numbers stay the text
/// they were written as (so no precision is lost when a claim is copied into another token).
///
/// Not `indirect`: the arrays already hold nested values out of line, and a boxed case cost an
/// allocation per value of every token.
public enum JSONValue: Equatable, Sendable {
    case object([JSONMember])
    case array([JSONValue])
    /// The unescaped bytes of the string: valid UTF-8 (it may hold U+0000, written `\u0000`).
    case string([UInt8])
    /// The number's text, exactly as written (`1`, `-0.5`, `1e3`).
    case number([UInt8])
    case bool(Bool)
    case null

    /// The value of the member named `name` if this is an object (names are unique: the parser
    /// refuses duplicates).
    public subscript(member name: [UInt8]) -> JSONValue? { name.withUnsafeBufferPointer { self[member: $0] } }

    /// Same, with the name as text.
    public subscript(member name: String) -> JSONValue? { self[member: Array(name.utf8)] }

    /// Same, with the name in a buffer (as C hands it over), compared in place.
    public subscript(member name: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.name.count == name.count {
            if member.name.withUnsafeBufferPointer({ $0.elementsEqual(name) }) { return member.value }
        }
        return nil
    }

    /// Same, for a name the code spells out: found per request without making an array of it.
    subscript(known name: StaticString) -> JSONValue? {
        self[member: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)]
    }

    /// Whether both are objects whose members are the same array in memory, not only equal (a
    /// parsed value never changes: whoever holds one keeps its storage from being reused).
    func isSameObject(as other: JSONValue) -> Bool {
        guard case .object(let a) = self, case .object(let b) = other, a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress } }
    }

    /// The bytes of a string value; nil for anything else.
    public var stringBytes: [UInt8]? {
        if case .string(let bytes) = self { return bytes }
        return nil
    }

    /// The value as compact JSON text (no white space), strings escaped as `JSONWriter` does.
    public var compactJSON: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }

    /// The length of `compactJSON`, counted without writing it (for token bounds).
    var compactLength: Int {
        switch self {
        case .object(let members):
            // Braces, a colon per member and the commas between them.
            return members.reduce(1 + max(members.count, 1)) {
                $0 + JSONWriter.stringLength($1.name) + 1 + $1.value.compactLength
            }
        case .array(let elements): return elements.reduce(1 + max(elements.count, 1)) { $0 + $1.compactLength }
        case .string(let bytes): return JSONWriter.stringLength(bytes)
        case .number(let text): return text.count
        case .bool(let value): return value ? 4 : 5
        case .null: return 4
        }
    }

    /// A string as it is (unescaped); any other value as compact JSON. This is what a claim
    /// variable holds.
    public var text: [UInt8] {
        if case .string(let bytes) = self { return bytes }
        return compactJSON
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .object(let members):
            writer.append("{")
            for (index, member) in members.enumerated() {
                if index > 0 { writer.append(",") }
                writer.appendString(member.name)
                writer.append(":")
                member.value.write(to: &writer)
            }
            writer.append("}")
        case .array(let elements):
            writer.append("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { writer.append(",") }
                element.write(to: &writer)
            }
            writer.append("]")
        case .string(let bytes): writer.appendString(bytes)
        case .number(let text): writer.append(contentsOf: text)
        case .bool(let value): writer.append(value ? "true" : "false")
        case .null: writer.append("null")
        }
    }
}

/// One member of a JSON object: its unescaped name and its value.
public struct JSONMember: Equatable, Sendable {
    public let name: [UInt8]
    public let value: JSONValue

    public init(name: [UInt8], value: JSONValue) {
        self.name = name
        self.value = value
    }
}
