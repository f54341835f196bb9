import ArgumentParser
import BackendJWTMigrate
import CBackendJWT
import Foundation

/// backend-jwt-migrate: a gateway's backend JWT settings in, nginx configuration out.
struct BackendJWTMigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backend-jwt-migrate",
        abstract: "Converts WSO2 APK, WSO2 API Manager and IBM API Connect JWT settings (caller verification, backend JWT) to nginx configuration.",
        discussion: """
            Reads an apk-conf file, APK custom resources (API, HTTPRoute, Backend, APIPolicy, BackendJWT, \
            Authentication, TokenIssuer, Scope), a WSO2 API Manager deployment.toml ([apim.jwt], \
            [[apim.jwt.issuer]], [apim.oauth_config]) or an IBM API Connect OpenAPI document with \
            jwt-validate and jwt-generate policies, and writes the nginx configuration for \
            ngx_http_backend_jwt_module: the caller's token verified where the gateway verified it, \
            operations whose authentication cannot be converted refused, the backend JWT minted. \
            What does not map is a comment in the output and a warning on standard error. \
            Relative key paths are written absolute (resolved against the current folder); keys \
            a source holds inline are written beside the output.
            """,
        version: BJWT_VERSION)

    @Argument(help: "The file to convert.")
    var file: String

    @Option(help: "The format, when the file's name and contents do not tell: \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String?

    @Option(name: .customLong("signing-key"), help: "PEM private key to sign with (the gateway's key pair, IBM's crypto object).")
    var signingKey: String?

    @Option(name: .customLong("signing-secret"), help: "Secret file for HS256/384/512.")
    var signingSecret: String?

    @Option(name: .customLong("verify-key"), help: "The identity provider's public keys (JWK Set, JWK, PEM): IBM's jws-crypto, an apk-conf's issuer.")
    var verifyKey: String?

    @Option(name: .customLong("jwks-url"), help: "The identity provider's JWK Set URL (replaces the one a source names).")
    var jwksURL: String?

    @Option(name: .customLong("issuer"), help: "An accepted iss of callers' tokens (repeatable; replaces the source's).")
    var issuers: [String] = []

    @Option(help: "scheme://host[:port] that replaces the origin of every endpoint; the backend of an assembly without invoke.")
    var upstream: String?

    @Option(help: "A listen line for the server block (127.0.0.1:8080).")
    var listen: String?

    @Option(name: .customLong("server-name"), help: "A server_name for the server block.")
    var serverName: String?

    @Flag(help: "Use APK's sandbox endpoints and routes instead of the production ones.")
    var sandbox = false

    @Option(name: .customLong("api-name"), help: "deployment.toml: the apiname claim.")
    var apiName: String?

    @Option(name: .customLong("api-version"), help: "deployment.toml: the version claim.")
    var apiVersion: String?

    @Option(name: [.short, .customLong("output")], help: "Write here instead of standard output (replaced whole, or left alone on error).")
    var output: String?

    @Flag(help: "Treat every warning as an error: nothing is written.")
    var strict = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw Failure("\(file): error: cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure("\(file): error: not UTF-8 text")
        }
        var format: SourceFormat?
        if let name = self.format {
            guard let known = SourceFormat(rawValue: name) else {
                throw Failure("error: --format must be one of \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            format = known
        }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String?) -> String? {
            guard let path, !path.isEmpty, !path.hasPrefix("/") else { return path }
            return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        var options = MigrationOptions()
        options.signingKey = absolute(signingKey)
        options.signingSecret = absolute(signingSecret)
        options.verifyKey = absolute(verifyKey)
        options.jwksURL = jwksURL
        options.issuers = issuers
        // files the conversion makes go beside the output (or into this folder), named after it
        let outputURL = output.map { URL(fileURLWithPath: absolute($0)!) }
        options.outputDirectory = outputURL?.deletingLastPathComponent().path ?? cwd
        options.outputBase = (outputURL ?? URL(fileURLWithPath: file)).deletingPathExtension().lastPathComponent
        options.upstream = upstream
        options.listen = listen
        options.serverName = serverName
        options.sandbox = sandbox
        options.apiName = apiName
        options.apiVersion = apiVersion

        let migration: Migration
        do {
            migration = try Migrator.migrate(text: text, file: file, format: format, options: options)
        } catch {
            throw Failure(error.description)
        }
        for warning in migration.warnings {
            FileHandle.standardError.write(Data("\(warning)\n".utf8))
        }
        if strict && !migration.warnings.isEmpty {
            throw Failure("\(file): error: \(migration.warnings.count) warning(s) and --strict: nothing written")
        }
        for written in migration.files {
            try write(written.contents, to: written.path)
            FileHandle.standardError.write(Data("\(file): wrote \(written.path)\n".utf8))
        }
        if let output {
            try write(migration.output, to: output)
        } else {
            FileHandle.standardOutput.write(Data(migration.output.utf8))
        }
    }

    /// Writes a temporary file beside `path` and renames it over it: never half-written.
    func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw Failure("\(path): error: cannot write: \(error.localizedDescription)")
        }
    }
}

/// An error already worded for the user: printed as it is, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

do {
    // --help and --version come back as a CleanExit error, which exit(withError:) prints
    let command = try BackendJWTMigrateCommand.parse()
    try command.run()
} catch let failure as Failure {
    FileHandle.standardError.write(Data("\(failure.description)\n".utf8))
    exit(1)
} catch {
    BackendJWTMigrateCommand.exit(withError: error)
}
