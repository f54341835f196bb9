/// One piece of nginx configuration text.
indirect enum Item: Equatable {
    case directive(String, [String])
    case block(String, [String], [Item])
    case comment(String)
    case blank
}

enum NginxText {
    /// The configuration text of `items`, four spaces per level, ending in a newline.
    static func render(_ items: [Item]) -> String {
        var out = ""
        render(items, depth: 0, into: &out)
        return out
    }

    private static func render(_ items: [Item], depth: Int, into out: inout String) {
        let indent = String(repeating: "    ", count: depth)
        for (index, item) in items.enumerated() {
            switch item {
            case .directive(let name, let arguments):
                out += indent + ([name] + arguments.map(quote)).joined(separator: " ") + ";\n"
            case .block(let name, let arguments, let body) where body.count == 1:
                guard case .directive(let inner, let innerArguments) = body[0] else { fallthrough }
                out += indent + ([name] + arguments.map(quote)).joined(separator: " ") + " { "
                    + ([inner] + innerArguments.map(quote)).joined(separator: " ") + "; }\n"
            case .block(let name, let arguments, let body):
                out += indent + ([name] + arguments.map(quote)).joined(separator: " ") + " {\n"
                render(body, depth: depth + 1, into: &out)
                out += indent + "}\n"
            case .comment(let text):
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    out += indent + "#" + (line.isEmpty ? "" : " " + line) + "\n"
                }
            case .blank:
                // never two in a row, never first or last in a block
                if index > 0, index < items.count - 1, items[index - 1] != .blank { out += "\n" }
            }
        }
    }

    /// An nginx argument: as it is when nginx reads it back the same, else in double quotes.
    /// nginx unescapes `\"`, `\'`, `\\`, `\t`, `\r` and `\n` in both forms, so a backslash
    /// before one of those (or at the end) is doubled; any other (`\.` in a regex) stays.
    /// `$` is left alone: nginx reads it as a variable in both forms.
    static func quote(_ argument: String) -> String {
        let special: Set<Character> = [" ", "\t", "\n", "\r", ";", "{", "}", "\"", "'", "#"]
        let escaped: Set<Character> = ["\"", "'", "\\", "t", "r", "n"]
        let characters = Array(argument)
        func doubled(_ i: Int) -> Bool {
            characters[i] == "\\" && (i + 1 == characters.count || escaped.contains(characters[i + 1]))
        }
        let plain = !characters.isEmpty && !characters.contains(where: special.contains)
            && !characters.indices.contains(where: doubled)
        if plain { return argument }
        var quoted = "\""
        for (i, character) in characters.enumerated() {
            switch character {
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case "\\" where doubled(i): quoted += "\\\\"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }

    /// `text` as a PCRE pattern that matches it literally.
    static func regexLiteral(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { out += "\\" }
            out.append(character)
        }
        return out
    }

    /// Whether `text` holds a `$` that nginx would read as the start of a variable.
    static func hasVariable(_ text: String) -> Bool { text.contains("$") }
}
