/// What went wrong with the input: the file, the line where one is known, and what was wrong.
/// Nothing is written when a conversion throws one.
public struct MigrationError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: error: message`, the form compilers and nginx use.
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): error: \(message)"
    }
}

/// A setting of the source that the nginx configuration does not carry out as the gateway did.
/// Each one is also a comment in the output, beside what it concerns.
public struct MigrationWarning: Equatable, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    /// The source's name of the setting (`jwe-crypto`, `enable_user_claims`, ...).
    public let field: String
    public let message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): warning: \(field): \(message)"
    }
}

/// Collects the warnings of one conversion and makes errors that name the file.
final class Diagnostics {
    let file: String
    private(set) var warnings: [MigrationWarning] = []
    /// Files to write beside the output, in the order they were made.
    private(set) var files: [WrittenFile] = []

    init(file: String) { self.file = file }

    func error(_ message: String, line: Int?) -> MigrationError {
        MigrationError(file: file, line: line, message: message)
    }

    /// Records a file to write beside the output (`<base>-<name>` in `options.outputDirectory`)
    /// and returns the path the configuration names it by.
    func write(_ name: String, _ contents: String, options: MigrationOptions) -> String {
        let file = (options.outputBase ?? "migrated") + "-" + name
        let path = options.outputDirectory.map { $0 + (($0.hasSuffix("/")) ? "" : "/") + file } ?? file
        if !files.contains(where: { $0.path == path }) { files.append(WrittenFile(path: path, contents: contents)) }
        return path
    }

    /// Records a warning and returns the comment the output carries for it.
    func warn(_ field: String, _ message: String, line: Int?) -> Item {
        let warning = MigrationWarning(file: file, line: line, field: field, message: message)
        if !warnings.contains(warning) { warnings.append(warning) }
        return .comment("not converted: \(field): \(message)")
    }
}
