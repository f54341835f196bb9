/// The strict JSON parser (RFC 8259) for every JSON the core reads from outside: the verifier's
/// token headers, payloads and JWKs, and the request values of `type=json` claims. Beyond the
/// grammar it refuses what RFC 7515 and RFC 8725 ask a verifier to refuse: a duplicate member name
/// in any object (not last-wins), invalid UTF-8, lone surrogates. Nesting is limited, so hostile
/// input cannot exhaust the worker's stack.
struct JSONParser {
    /// What a reader allows beyond the grammar.
    struct Options: Sendable {
        /// Containers nested deeper than this are refused; keeps recursion on a small, fixed stack.
        let maximumDepth: Int
        /// Numbers must be within a double's range (`isFiniteNumber`).
        let finiteNumbers: Bool

        /// The verifier's: deeper than any claim set or JWK needs; numbers kept as written.
        static let verifier = Options(maximumDepth: 64, finiteNumbers: false)
        /// A `type=json` claim's value, which goes into a minted token as it is.
        static let claimValue = Options(maximumDepth: 32, finiteNumbers: true)
    }

    /// Up to this many members, a name is checked for duplicates against each one before it
    /// (a token's header and claims), beyond it with a set (hashing each name costs more).
    static let linearNames = 16

    /// Why the text was refused and at which byte offset.
    struct Failure: Error {
        let reason: String
        let offset: Int
        /// An object has two members of one name (after unescaping): parsers disagree on which
        /// one counts, which is how a value gets past one reader and means another thing to the
        /// next (RFC 8259 4, RFC 8725 3.11).
        var isDuplicateName = false
        var description: String { "\(reason) at byte \(offset)" }
    }

    private let s: UnsafeBufferPointer<UInt8>
    private let options: Options
    private var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>, _ options: Options) {
        s = bytes
        self.options = options
    }

    /// Parses `bytes` as exactly one JSON value, white space around it allowed.
    static func parse(_ bytes: [UInt8], options: Options = .verifier) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (s) throws(Failure) in try read(s, options).value }
    }

    /// `s` checked as `parse` reads it, for a value copied into a token as it is: its bytes
    /// without the white space around them (a JSON text never ends in significant white space).
    static func validated(_ s: UnsafeBufferPointer<UInt8>, options: Options) throws(Failure) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: s[try read(s, options).range])
    }

    /// Whether all of `s` is one number by RFC 8259's grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?`, of a magnitude an IEEE 754 double holds: beyond it (`1e99999`)
    /// parsers disagree (infinity, an error), which RFC 8259 section 6 warns of, and a backend's
    /// may refuse the whole token.
    static func isFiniteNumber(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var parser = JSONParser(s, .claimValue)
        return (try? parser.number()) != nil && parser.i == s.count
    }

    /// The one value of `s` and where it stands in `s`, without the white space around it.
    private static func read(_ s: UnsafeBufferPointer<UInt8>, _ options: Options) throws(Failure)
        -> (value: JSONValue, range: Range<Int>)
    {
        var parser = JSONParser(s, options)
        parser.skipSpace()
        let start = parser.i
        let value = try parser.value(depth: 0)
        let end = parser.i
        parser.skipSpace()
        guard parser.i == s.count else { throw parser.failure("text after the JSON value") }
        return (value, start..<end)
    }

    private func failure(_ reason: String) -> Failure { Failure(reason: reason, offset: i) }

    private mutating func skipSpace() {
        while i < s.count, s[i] == 0x20 || s[i] == 0x09 || s[i] == 0x0A || s[i] == 0x0D { i += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard i < s.count else { throw failure("unexpected end") }
        switch s[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return .number(Array(s[try number()]))
        }
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= options.maximumDepth else { throw failure("nesting deeper than \(options.maximumDepth)") }
        i += 1
        var members: [JSONMember] = []
        members.reserveCapacity(8)  // a token's header or claims in one allocation, not four
        // names seen, once there are enough of them that comparing with each costs more
        var names: Set<[UInt8]>?
        skipSpace()
        if i < s.count, s[i] == UInt8(ascii: "}") {
            i += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard i < s.count, s[i] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
            let start = i
            let name = try string()
            let duplicate: Bool
            if members.count < Self.linearNames {
                duplicate = members.contains { $0.name == name }
            } else {
                if names == nil { names = Set(members.map(\.name)) }
                duplicate = !names!.insert(name).inserted
            }
            guard !duplicate else {
                i = start
                var duplicateName = failure("duplicate member name \(quoted(name))")
                duplicateName.isDuplicateName = true
                throw duplicateName
            }
            skipSpace()
            guard i < s.count, s[i] == UInt8(ascii: ":") else { throw failure("expected ':'") }
            i += 1
            skipSpace()
            members.append(JSONMember(name: name, value: try value(depth: depth)))
            skipSpace()
            guard i < s.count else { throw failure("unexpected end") }
            if s[i] == UInt8(ascii: ",") {
                i += 1
            } else if s[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            } else {
                throw failure("expected ',' or '}'")
            }
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= options.maximumDepth else { throw failure("nesting deeper than \(options.maximumDepth)") }
        i += 1
        var elements: [JSONValue] = []
        skipSpace()
        if i < s.count, s[i] == UInt8(ascii: "]") {
            i += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value(depth: depth))
            skipSpace()
            guard i < s.count else { throw failure("unexpected end") }
            if s[i] == UInt8(ascii: ",") {
                i += 1
            } else if s[i] == UInt8(ascii: "]") {
                i += 1
                return .array(elements)
            } else {
                throw failure("expected ',' or ']'")
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        let matches = i + n <= s.count && word.withUTF8Buffer { s[i..<(i + n)].elementsEqual($0) }
        guard matches else { throw failure("invalid literal") }
        i += n
    }

    /// Where a number by the RFC 8259 grammar stands (see `isFiniteNumber`).
    private mutating func number() throws(Failure) -> Range<Int> {
        let start = i
        func digits() -> Int {
            let from = i
            while i < s.count, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") { i += 1 }
            return i - from
        }
        if i < s.count, s[i] == UInt8(ascii: "-") { i += 1 }
        guard i < s.count, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") else { throw failure("invalid value") }
        if s[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            _ = digits()
        }
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw failure("invalid number") }
        }
        if i < s.count, s[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw failure("invalid number") }
        }
        guard !options.finiteNumbers || Double(String(decoding: s[start..<i], as: UTF8.self))?.isFinite == true else {
            i = start
            throw failure("number beyond a double's range")
        }
        return start..<i
    }

    /// A string starting at the quote: escapes decoded, UTF-8 validated, no raw control characters.
    private mutating func string() throws(Failure) -> [UInt8] {
        i += 1
        // Most strings are plain ASCII: copied at once up to the first byte that needs more.
        let start = i
        i = JSONWriter.plainRun(s, from: start)
        var out = Array(s[start..<i])
        if i < s.count, s[i] == UInt8(ascii: "\"") {
            i += 1
            return out
        }
        while i < s.count {
            let c = s[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return out
            case UInt8(ascii: "\\"):
                guard i + 1 < s.count else { throw failure("unterminated string") }
                let escaped = s[i + 1]
                i += 2
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): try unicodeEscape(into: &out)
                default:
                    i -= 2
                    throw failure("invalid escape")
                }
            case 0..<0x20: throw failure("control character in a string")
            case 0x80...:
                let length = JSONWriter.validUTF8SequenceLength(s, at: i)
                guard length > 0 else { throw failure("invalid UTF-8") }
                out.append(contentsOf: s[i..<(i + length)])
                i += length
            default:
                out.append(c)
                i += 1
            }
        }
        throw failure("unterminated string")
    }

    /// `\uXXXX` (the `\u` already read), a surrogate pair as two escapes; appends its UTF-8.
    private mutating func unicodeEscape(into out: inout [UInt8]) throws(Failure) {
        guard let unit = hexUnit(at: i) else { throw failure("invalid \\u escape") }
        i += 4
        var scalar = UInt32(unit)
        if unit >= 0xDC00 && unit <= 0xDFFF { throw failure("lone surrogate") }
        if unit >= 0xD800 && unit <= 0xDBFF {
            guard i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                let low = hexUnit(at: i + 2), low >= 0xDC00 && low <= 0xDFFF
            else { throw failure("lone surrogate") }
            i += 6
            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        }
        guard let character = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
        out.append(contentsOf: character.utf8)
    }

    private func hexUnit(at start: Int) -> UInt16? {
        guard start + 4 <= s.count else { return nil }
        var unit: UInt16 = 0
        for c in s[start..<(start + 4)] {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }
}
