/// The formats `backend-jwt-migrate` reads.
public enum SourceFormat: String, CaseIterable, Sendable {
    /// WSO2 APK's apk-conf file (the REST API's input).
    case apkConf = "apk-conf"
    /// WSO2 APK's custom resources: API, HTTPRoute, Backend, APIPolicy, BackendJWT.
    case apkCRs = "apk-crs"
    /// WSO2 API Manager's deployment.toml.
    case apimTOML = "apim-toml"
    /// IBM API Connect's OpenAPI document with x-ibm-configuration.
    case ibm = "ibm-apic"

    var title: String {
        switch self {
        case .apkConf: return "WSO2 APK apk-conf"
        case .apkCRs: return "WSO2 APK custom resources"
        case .apimTOML: return "WSO2 API Manager deployment.toml"
        case .ibm: return "IBM API Connect OpenAPI"
        }
    }

    /// Where the output goes in nginx.conf.
    var context: String { self == .apimTOML ? "http" : "http (a server block)" }
}

/// A converted file: the nginx text, the warnings, and the format it was read as.
public struct Migration: Equatable {
    public let format: SourceFormat
    public let output: String
    public let warnings: [MigrationWarning]
    /// Files to write beside the output (keys the source holds inline).
    public let files: [WrittenFile]
}

public enum Migrator {
    /// Converts `text` (the contents of `file`) to nginx configuration. `format` nil: decided
    /// from the name (`.toml`) and the contents. The output depends only on the arguments.
    public static func migrate(text: String, file: String, format: SourceFormat? = nil,
                               options: MigrationOptions = MigrationOptions()) throws(MigrationError) -> Migration {
        let diag = Diagnostics(file: file)
        var options = options
        if let upstream = options.upstream {
            guard let parsed = Upstream.parse(upstream, tail: .none), parsed.path.isEmpty else {
                throw MigrationError(file: file, line: nil, message: "--upstream must be scheme://host[:port] (http or https, no path), not \"\(upstream)\"")
            }
            options.upstream = parsed.origin
        }
        if let url = options.jwksURL, Upstream.parse(url, tail: .none) == nil {
            throw MigrationError(file: file, line: nil, message: "--jwks-url must be an http:// or https:// URL without query, not \"\(url)\"")
        }
        let given: [(String, String?)] = [
            ("--signing-key", options.signingKey), ("--signing-secret", options.signingSecret), ("--listen", options.listen),
            ("--server-name", options.serverName), ("--api-name", options.apiName), ("--api-version", options.apiVersion),
            ("--verify-key", options.verifyKey), ("--jwks-url", options.jwksURL),
        ] + options.issuers.map { ("--issuer", $0) }
        for (name, value) in given {
            if let value, value.isEmpty || value.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw MigrationError(file: file, line: nil, message: "\(name) must be one line of text")
            }
        }

        let detected: SourceFormat
        var documents: [YNode] = []
        if let format {
            detected = format
            if format != .apimTOML { documents = try YAMLInput.documents(text, diag: diag) }
        } else if file.lowercased().hasSuffix(".toml") {
            detected = .apimTOML
        } else {
            documents = try YAMLInput.documents(text, diag: diag)
            detected = try detect(documents, diag: diag)
        }

        let items: [Item]
        switch detected {
        case .apimTOML:
            items = try APIM.convert(text, options: options, diag: diag)
        case .apkCRs:
            items = try APKCRs.convert(documents, options: options, diag: diag)
        case .apkConf, .ibm:
            let roots = documents.filter { $0.node.null == nil }
            guard roots.count == 1, roots[0].isMapping else {
                throw diag.error("expected one YAML document that is a mapping", line: roots.dropFirst().first?.line ?? roots.first?.line)
            }
            items = detected == .ibm
                ? try IBM.convert(roots[0], options: options, diag: diag)
                : try APK.convertConf(roots[0], options: options, diag: diag)
        }

        let base = file.split(separator: "/").last.map(String.init) ?? file
        var header: [Item] = [
            .comment("Made by backend-jwt-migrate from \(base) (\(detected.title)); goes in nginx.conf's \(detected.context)."),
            .comment("Needs: load_module modules/ngx_http_backend_jwt_module.so;"),
        ]
        if items.contains(where: Self.namesRelativeFile) {
            header.append(.comment("Relative file names are resolved by nginx against its prefix (nginx -V: --prefix), not this folder."))
        }
        // warnings in the file's order (a stable sort: the same input gives the same list)
        let warnings = diag.warnings.enumerated().sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }.map(\.element)
        return Migration(format: detected, output: NginxText.render(header + items), warnings: warnings, files: diag.files)
    }

    static let fileDirectives: Set<String> = ["backend_jwt_signing_key", "backend_jwt_signing_secret", "backend_jwt_verify_key", "include"]

    /// Whether `item` (or one inside it) names a file by a relative path.
    static func namesRelativeFile(_ item: Item) -> Bool {
        switch item {
        case .directive(let name, let arguments): return fileDirectives.contains(name) && arguments.first?.hasPrefix("/") == false
        case .block(_, _, let body): return body.contains(where: namesRelativeFile)
        default: return false
        }
    }

    /// The format of YAML documents.
    static func detect(_ documents: [YNode], diag: Diagnostics) throws(MigrationError) -> SourceFormat {
        let roots = documents.filter { $0.node.null == nil }
        guard let first = roots.first else { throw diag.error("the file is empty", line: nil) }
        guard roots.allSatisfy(\.isMapping) else {
            throw diag.error("not a gateway configuration: expected a YAML mapping", line: roots.first(where: { !$0.isMapping })?.line)
        }
        if roots.contains(where: { $0["kind"] != nil && $0["apiVersion"] != nil }) { return .apkCRs }
        if first["x-ibm-configuration"] != nil { return .ibm }
        if first["basePath"] != nil && (first["operations"] != nil || first["apiPolicies"] != nil) { return .apkConf }
        throw diag.error(
            "not a format this tool reads: expected an apk-conf (basePath, operations), APK custom resources (kind, apiVersion), an IBM API Connect OpenAPI document (x-ibm-configuration) or a deployment.toml",
            line: first.line)
    }
}
