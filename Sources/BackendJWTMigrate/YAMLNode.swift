import Yams

/// A node of the YAML input with the path that names it in messages (`operations[2].target`)
/// and its line.
struct YNode {
    let node: Node
    let path: String
    let diag: Diagnostics

    var line: Int? { node.mark?.line }

    func child(_ name: String) -> String { path.isEmpty ? name : path + "." + name }

    /// The value of `key` in this mapping, or nil when absent, null or this is not a mapping.
    subscript(key: String) -> YNode? {
        guard let value = node.mapping?[key], value.null == nil else { return nil }
        return YNode(node: value, path: child(key), diag: diag)
    }

    func require(_ key: String) throws(MigrationError) -> YNode {
        guard node.mapping != nil else { throw diag.error("\(path) must be a mapping", line: line) }
        guard let value = self[key] else {
            throw diag.error("\(child(key)) is missing", line: line)
        }
        return value
    }

    var isMapping: Bool { node.mapping != nil }

    /// A scalar as text; a null scalar is "".
    func string() throws(MigrationError) -> String {
        guard case .scalar(let scalar) = node else {
            throw diag.error("\(path) must be a single value, not a list or a mapping", line: line)
        }
        return node.null != nil ? "" : scalar.string
    }

    func bool() throws(MigrationError) -> Bool {
        guard let value = node.bool else { throw diag.error("\(path) must be true or false", line: line) }
        return value
    }

    /// A whole number in `range`.
    func integer(_ range: ClosedRange<Int>) throws(MigrationError) -> Int {
        guard let value = Int(try string()), range.contains(value) else {
            throw diag.error(
                "\(path) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(try string())\"",
                line: line)
        }
        return value
    }

    func array() throws(MigrationError) -> [YNode] {
        guard case .sequence(let sequence) = node else { throw diag.error("\(path) must be a list", line: line) }
        return sequence.enumerated().map { YNode(node: $1, path: "\(path)[\($0)]", diag: diag) }
    }

    /// The pairs of a mapping, in the file's order.
    func pairs() throws(MigrationError) -> [(key: String, value: YNode)] {
        guard let mapping = node.mapping else { throw diag.error("\(path) must be a mapping", line: line) }
        var out: [(key: String, value: YNode)] = []
        for (key, value) in mapping {
            let name = key.string ?? ""
            out.append((name, YNode(node: value, path: child(name), diag: diag)))
        }
        return out
    }
}

enum YAMLInput {
    /// Every document of `text`; a YAML error becomes a MigrationError with its line.
    static func documents(_ text: String, diag: Diagnostics) throws(MigrationError) -> [YNode] {
        do {
            var out: [YNode] = []
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                out.append(YNode(node: node, path: "", diag: diag))
            }
            if let error = sequence.error { throw error }
            return out
        } catch let error as YamlError {
            throw diag.error(message(error), line: line(error))
        } catch {
            throw diag.error("not YAML: \(error)", line: nil)
        }
    }

    static func line(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        case .duplicatedKeysInMapping(_, let context): return context.mark.line
        default: return nil
        }
    }

    static func message(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            return "not valid YAML: \(context.map { "\($0.text), " } ?? "")\(problem)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "not valid YAML: duplicate key \(duplicates.sorted().joined(separator: ", "))"
        default:
            return "not valid YAML: \(error)"
        }
    }
}
