/// `backend_jwt_verify_require_claim PATH OPERATOR VALUE... [error=401|403]`: a condition on a
/// claim of the caller's verified token, compared by JSON type (kjdev's `auth_jwt_require_claim`
/// and NGINX Plus's `auth_jwt_require` are the references). A claim the token lacks, or of
/// another type than the operator takes, never meets it: not even `ne`.
public struct ClaimRequirement: Equatable, Sendable {
    public enum Operator: String, CaseIterable, Sendable {
        case eq, ne, gt, ge, lt, le
        /// The claim equals one of the values.
        case `in`
        /// An array claim holds every value, or a space-separated string claim (OAuth's `scope`)
        /// holds every value as a word.
        case contains
        /// An array claim or a space-separated string claim shares at least one value.
        case any
        /// The claim is there, whatever its value.
        case exists

        var comparesNumbers: Bool { self == .gt || self == .ge || self == .lt || self == .le }

        var operands: ClosedRange<Int> {
            switch self {
            case .exists: 0...0
            case .in, .contains, .any: 1...Int.max
            default: 1...1
            }
        }
    }

    /// A value to compare with: constant, or a template (nginx variables) read per request.
    public enum Operand: Equatable, Sendable {
        case constant(JSONValue)
        case template(Int)
    }

    public let path: ClaimPath
    public let op: Operator
    public let operands: [Operand]
    /// 403 (`insufficient_scope`) unless `error=401`.
    public let status: Int

    /// Parses the directive's arguments; `template` registers a value that holds variables.
    static func parse(_ args: [[UInt8]], template: ([UInt8]) -> Int) throws(BackendJWTError) -> ClaimRequirement {
        var args = args
        let status = try Self.status(&args)
        guard args.count >= 2 else {
            throw BackendJWTError(.config, "give a claim path, an operator and the values it takes")
        }
        let path = try ClaimPath.parse(args[0])
        guard let op = Operator(rawValue: String(decoding: args[1], as: UTF8.self)) else {
            let names = Operator.allCases.map(\.rawValue).joined(separator: ", ")
            throw BackendJWTError(.config, "unknown operator \(quoted(args[1])); use one of \(names)")
        }
        let values = args.dropFirst(2)
        guard op.operands.contains(values.count) else {
            let wanted = op.operands.upperBound == 0 ? "no value" : op.operands.upperBound == 1 ? "one value" : "values"
            throw BackendJWTError(.config, "operator \(op.rawValue) takes \(wanted), not \(values.count)")
        }
        var operands: [Operand] = []
        for value in values {
            if value.contains(UInt8(ascii: "$")) {
                operands.append(.template(template(value)))
                continue
            }
            guard !value.isEmpty else { throw BackendJWTError(.config, "a value is empty (\"\" is written '\"\"')") }
            let operand = Self.operand(value)
            if op.comparesNumbers, !operand.isNumber {
                throw BackendJWTError(.config, "operator \(op.rawValue) compares numbers: \(quoted(value)) is not one")
            }
            operands.append(.constant(operand))
        }
        return ClaimRequirement(path: path, op: op, operands: operands, status: status)
    }

    /// A trailing `error=401` or `error=403` (removed from `args`); 403 without one.
    static func status(_ args: inout [[UInt8]]) throws(BackendJWTError) -> Int {
        guard let last = args.last, last.starts(with: Array("error=".utf8)) else { return 403 }
        switch String(decoding: last.dropFirst(6), as: UTF8.self) {
        case "401": args.removeLast(); return 401
        case "403": args.removeLast(); return 403
        default: throw BackendJWTError(.config, "invalid option \(quoted(last)); use error=401 or error=403")
        }
    }

    /// A value as written (its variables replaced): a JSON scalar (`true`, `42`, `"text"`,
    /// `null`) is that value, any other text a string (`orders:read`).
    public static func operand(_ text: [UInt8]) -> JSONValue {
        if let value = try? JSONParser.parse(text) {
            switch value {
            case .object, .array: break
            default: return value
            }
        }
        return .string(text)
    }

    /// Whether `claims` meets the requirement, with `values` the texts of its templates.
    public func isMet(by claims: JSONValue, values: (Int) -> [UInt8]?) -> Bool {
        guard let claim = path.value(in: claims) else { return false }
        var wanted: [JSONValue] = []
        for operand in operands {
            switch operand {
            case .constant(let value): wanted.append(value)
            case .template(let index):
                // a variable that is empty names nothing to compare with: never met
                guard let text = values(index), !text.isEmpty else { return false }
                wanted.append(Self.operand(text))
            }
        }
        switch op {
        case .exists: return true
        case .eq: return Self.same(claim, wanted[0])
        case .ne:
            // a number no double holds compares with nothing: neither equal nor unequal
            if case .number(let a) = claim, case .number(let b) = wanted[0] { return (Self.order(a, b) ?? 0) != 0 }
            return Self.sameType(claim, wanted[0]) && !Self.same(claim, wanted[0])
        case .in: return wanted.contains { Self.same(claim, $0) }
        case .gt, .ge, .lt, .le:
            guard case .number(let a) = claim, case .number(let b) = wanted[0],
                let order = Self.order(a, b)
            else { return false }
            switch op {
            case .gt: return order > 0
            case .ge: return order >= 0
            case .lt: return order < 0
            default: return order <= 0
            }
        case .contains, .any:
            let held: [JSONValue]
            switch claim {
            case .array(let elements): held = elements
            case .string(let words):
                held = words.split(separator: UInt8(ascii: " ")).map { .string(Array($0)) }
            default: return false
            }
            let found = { (value: JSONValue) in held.contains { Self.same($0, value) } }
            return op == .contains ? wanted.allSatisfy(found) : wanted.contains(where: found)
        }
    }

    /// JSON equality of scalars: strings by bytes, numbers by value (`1` is `1.0`; integers
    /// beyond a double's precision by their digits); arrays and objects equal nothing here.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.number(let x), .number(let y)):
            guard isFinite(x) && isFinite(y) else { return false }
            if isInteger(x) && isInteger(y) { return withoutSignOfZero(x) == withoutSignOfZero(y) }
            guard let dx = double(x), let dy = double(y) else { return false }
            return dx == dy
        default: return false
        }
    }

    static func sameType(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string, .string), (.bool, .bool), (.null, .null), (.number, .number): true
        default: false
        }
    }

    /// An integer as JSON writes it (no fraction, no exponent): equal ones have equal digits.
    private static func isInteger(_ text: [UInt8]) -> Bool {
        !text.contains { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }
    }

    private static func withoutSignOfZero(_ text: [UInt8]) -> [UInt8] { text == Array("-0".utf8) ? [0x30] : text }

    /// Whether a double's range holds the number (parsers disagree on one beyond it: infinity,
    /// an error, or its digits): it compares with nothing, equal or not, as `type=json` and
    /// copied claims refuse it.
    private static func isFinite(_ text: [UInt8]) -> Bool {
        text.withUnsafeBufferPointer { JSONParser.isFiniteNumber($0) }
    }

    /// How JSON number `a` compares with `b` (-1, 0, 1): integers by their digits, exactly (a
    /// double holds 9007199254740993 as ...992), others as doubles; nil beyond a double's range.
    static func order(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        guard isFinite(a) && isFinite(b) else { return nil }
        guard isInteger(a) && isInteger(b) else {
            guard let x = double(a), let y = double(b) else { return nil }
            return x < y ? -1 : x > y ? 1 : 0
        }
        let (x, y) = (withoutSignOfZero(a), withoutSignOfZero(b))
        let (negative, other) = (x.first == UInt8(ascii: "-"), y.first == UInt8(ascii: "-"))
        if negative != other { return negative ? -1 : 1 }
        // JSON has no leading zeros: the longer magnitude is the larger one
        let (m, n) = (x.drop { $0 == UInt8(ascii: "-") }, y.drop { $0 == UInt8(ascii: "-") })
        let magnitude = m.count != n.count ? (m.count < n.count ? -1 : 1)
            : m.elementsEqual(n) ? 0 : (m.lexicographicallyPrecedes(n) ? -1 : 1)
        return negative ? -magnitude : magnitude
    }

    /// A JSON number's value, if a double holds it.
    private static func double(_ text: [UInt8]) -> Double? {
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}

extension JSONValue {
    /// `bytes` as strict JSON (the verifier's parser), or nil.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? { try? JSONParser.parse(bytes) }

    var isNumber: Bool {
        if case .number = self { return true }
        return false
    }

    /// `backend_jwt_verify_require`'s rule for a value's text: empty, or JSON that `isTruthy`
    /// says no to, does not meet it (other text does: a `map`'s `yes`).
    public static func meetsRequire(_ text: [UInt8]) -> Bool {
        guard !text.isEmpty else { return false }
        return (try? JSONParser.parse(text))?.isTruthy ?? true
    }

    /// Whether the value meets `backend_jwt_verify_require` as a claim would: `false`, `null`,
    /// zero, `""`, `[]` and `{}` do not (a claim variable holds `false` as the text `false`).
    public var isTruthy: Bool {
        switch self {
        case .bool(let value): return value
        case .null: return false
        case .string(let bytes): return !bytes.isEmpty
        case .array(let elements): return !elements.isEmpty
        case .object(let members): return !members.isEmpty
        case .number(let text): return Double(String(decoding: text, as: UTF8.self)).map { $0 != 0 } ?? true
        }
    }
}
