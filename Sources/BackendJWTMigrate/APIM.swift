import TOMLKit

/// WSO2 API Manager's `deployment.toml`: the `[apim.jwt]` table becomes http-level directives
/// and `backend_jwt_wso2_claims` with the dialect.
enum APIM {
    static let defaultGenerator = "org.wso2.carbon.apimgt.keymgt.token.JWTGenerator"

    static func convert(_ text: String, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Item] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw diag.error("not valid TOML: \(error.description)", line: error.source.begin.line)
        } catch {
            throw diag.error("not valid TOML: \(error)", line: nil)
        }
        guard let jwt = table["apim"]?.table?["jwt"]?.table else {
            throw diag.error("no [apim.jwt] table: nothing to convert", line: nil)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        /// The line of `key = ...` inside [apim.jwt].
        func line(_ key: String?, table name: String = "[apim.jwt]") -> Int? {
            var inTable = false
            for (index, raw) in lines.enumerated() {
                let l = raw.trimmingCharacters()
                if l.hasPrefix("[") {
                    inTable = l.replacingAll(" ", with: "") == name
                    if inTable && key == nil { return index + 1 }
                    continue
                }
                if inTable, let key, l.hasPrefix(key), l.dropFirst(key.count).trimmingCharacters().hasPrefix("=") { return index + 1 }
            }
            return nil
        }
        func string(_ key: String) throws(MigrationError) -> String? {
            guard let value = jwt[key] else { return nil }
            guard let s = value.string else { throw diag.error("apim.jwt.\(key) must be a string", line: line(key)) }
            return s
        }
        func bool(_ key: String) throws(MigrationError) -> Bool? {
            guard let value = jwt[key] else { return nil }
            guard let b = value.bool else { throw diag.error("apim.jwt.\(key) must be true or false", line: line(key)) }
            return b
        }

        var policy = Policy()
        var notes: [Item] = []
        policy.enabled = try bool("enable") ?? false
        if !policy.enabled {
            notes.append(.comment("apim.jwt.enable is not true: API Manager sends no backend JWT, so backend_jwt is off"))
        }
        let encoding = try string("encoding") ?? "base64"
        switch encoding.lowercased() {
        case "base64", "base64url": policy.encoding = encoding.lowercased()
        default: throw diag.error("apim.jwt.encoding must be base64 or base64url, not \"\(encoding)\"", line: line("encoding"))
        }
        if let algorithm = try string("signing_algorithm") {
            guard Algorithms.isAccepted(algorithm) else {
                throw diag.error("apim.jwt.signing_algorithm: unknown signing algorithm \"\(algorithm)\"", line: line("signing_algorithm"))
            }
            policy.algorithm = algorithm
        }
        if let header = try string("header") {
            guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw diag.error("apim.jwt.header: \"\(header)\" is not a header name nginx accepts (letters, digits, -)", line: line("header"))
            }
            policy.header = header
        }
        policy.issuer = "wso2.org/products/am"
        var dialect = try string("claim_dialect") ?? "http://wso2.org/claims"
        while dialect.hasSuffix("/") { dialect.removeLast() }
        guard !dialect.isEmpty, !dialect.contains(where: { $0 == " " || $0 == "$" || $0 == "=" }) else {
            throw diag.error("apim.jwt.claim_dialect: \"\(dialect)\" cannot be a claim prefix", line: line("claim_dialect"))
        }
        let apiName = options.apiName ?? "$bjwt_api_name"
        let apiVersion = options.apiVersion ?? "$bjwt_api_version"
        policy.wso2Claims = ["apiname=\(apiName)", "version=\(apiVersion)", "dialect=\(dialect)"]

        for key in jwt.keys.sorted() {
            switch key {
            case "enable", "encoding", "signing_algorithm", "header", "claim_dialect", "gateway_generator", "issuer": break
            case "enable_user_claims":
                if try bool(key) == true {
                    notes.append(diag.warn("apim.jwt.enable_user_claims", "the user's claims come from API Manager's user store, which nginx does not have; map the ones you need with backend_jwt_claim", line: line(key)))
                }
            case "claims_extractor_impl":
                notes.append(diag.warn("apim.jwt.claims_extractor_impl", "a Java class that reads user-store claims cannot run in nginx; map the claims with backend_jwt_claim", line: line(key)))
            case "convert_dialect":
                if try bool(key) == true {
                    notes.append(diag.warn("apim.jwt.convert_dialect", "converting user-store claims to another dialect needs the user store", line: line(key)))
                }
            case "generator_impl":
                if try string(key) != defaultGenerator {
                    notes.append(diag.warn("apim.jwt.generator_impl", "a custom Java generator cannot run in nginx; the default generator's claims are written", line: line(key)))
                }
            default:
                notes.append(diag.warn("apim.jwt.\(key)", "not a setting this tool knows", line: line(key)))
            }
        }
        if let generator = jwt["gateway_generator"]?.table, !generator.keys.isEmpty {
            notes.append(diag.warn("apim.jwt.gateway_generator", "a custom Java generator cannot run in nginx", line: line(nil, table: "[apim.jwt.gateway_generator]")))
        }

        let access = try accessTokens(table, lines: lines, jwtLine: line(nil), options: options, diag: diag)
        if access.verifies {
            policy.subject = Identity.subject
            policy.wso2Claims?.append("enduser=" + Identity.subject)
        }
        let key = KeySource(field: "the keystore", reason: "API Manager signs with its primary keystore (wso2carbon.jks by default), which deployment.toml only names",
                            line: line(nil)).items(policy.keyKind, options: options, diag: diag)
        var items: [Item] = [
            .comment("WSO2 API Manager [apim.jwt]: http-level settings, so every server and location inherits them."),
            .comment("deployment.toml sets no token lifetime here: 3600 s is this module's default."),
        ]
        if options.apiName == nil || options.apiVersion == nil {
            items.append(.comment("API Manager fills apiname and version per API: set $bjwt_api_name and $bjwt_api_version in each\nserver or location (set $bjwt_api_name PizzaShackAPI;), or give --api-name and --api-version"))
        }
        items += notes
        items += access.items + [.blank]
        items += policy.items(key: key)
        return finish(items, options: options)
    }

    /// The access-token checks deployment.toml holds: `[[apim.jwt.issuer]]` (the issuers of
    /// third-party key managers' JWTs: `name`, `jwks.url`, `claim_mapping`) and
    /// `[apim.oauth_config]` (`auth_header`, `enable_outbound_auth_header`), written to a file
    /// for each API server to include (with the JWK Set's location). The key managers
    /// themselves are set in the Admin Portal and kept in API Manager's database: when nothing
    /// here names a key, a warning says so and nothing is verified.
    static func accessTokens(_ table: TOMLTable, lines: [String], jwtLine: Int?, options: MigrationOptions,
                             diag: Diagnostics) throws(MigrationError) -> (items: [Item], verifies: Bool) {
        /// The lines of each `header` (`[[apim.jwt.issuer]]`), in order.
        func headers(_ header: String) -> [Int] {
            lines.enumerated().filter { $0.element.trimmingCharacters().replacingAll(" ", with: "") == header }.map { $0.offset + 1 }
        }
        /// The line of `key = ` after line `start`, before the next table.
        func keyLine(_ key: String, after start: Int?) -> Int? {
            guard let start else { return nil }
            for index in start..<lines.count {
                let l = lines[index].trimmingCharacters()
                if l.hasPrefix("[") && !l.hasPrefix("[apim.jwt.issuer.") { return nil }
                if l.hasPrefix(key), l.dropFirst(key.count).trimmingCharacters().hasPrefix("=") { return index + 1 }
            }
            return nil
        }
        var v = Verification()
        var notes: [Item] = []
        let issuerLines = headers("[[apim.jwt.issuer]]")
        for (n, value) in (table["apim"]?.table?["jwt"]?.table?["issuer"]?.array.map(Array.init) ?? []).enumerated() {
            let at = n < issuerLines.count ? issuerLines[n] : jwtLine
            guard let issuer = value.table else { throw diag.error("apim.jwt.issuer must be a [[apim.jwt.issuer]] table", line: at) }
            for key in issuer.keys.sorted() {
                let field = "apim.jwt.issuer[\(n)].\(key)"
                switch key {
                case "name":
                    guard let name = issuer[key]?.string, !name.isEmpty else { throw diag.error("\(field) must be a string", line: keyLine(key, after: at)) }
                    v.issuers.append(name)
                case "jwks":
                    guard let url = issuer[key]?.table?["url"]?.string, Upstream.parse(url, tail: .none) != nil else {
                        throw diag.error("\(field).url must be an http:// or https:// URL", line: keyLine("url", after: at) ?? at)
                    }
                    if v.jwksURL == nil {
                        v.jwksURL = url
                    } else {
                        notes.append(diag.warn(field, "one JWK Set per server: the first issuer's is fetched; give this one's keys with --verify-key", line: keyLine("url", after: at) ?? at))
                    }
                case "claim_mapping":
                    notes.append(diag.warn(field, "API Manager renames the caller's claims for its own use; copy the ones the backend needs with backend_jwt_copy_claims remote=local", line: at))
                default:
                    notes.append(diag.warn(field, "not an issuer setting this tool knows; left out", line: keyLine(key, after: at) ?? at))
                }
            }
        }
        let oauthLine = headers("[apim.oauth_config]").first
        for (key, value) in table["apim"]?.table?["oauth_config"]?.table.map({ t in t.keys.sorted().map { ($0, t[$0]) } }) ?? [] {
            switch key {
            case "enable_outbound_auth_header":
                guard let flag = value?.bool else { throw diag.error("apim.oauth_config.\(key) must be true or false", line: keyLine(key, after: oauthLine)) }
                v.forward = flag
            case "auth_header":
                guard let name = value?.string, Verification.isHeaderName(name) else {
                    throw diag.error("apim.oauth_config.\(key) must be a header name (letters, digits, -, _)", line: keyLine(key, after: oauthLine))
                }
                v.header = name.lowercased() == "authorization" ? nil : name
            default:
                notes.append(diag.warn("apim.oauth_config.\(key)", "not an access-token setting this tool converts", line: keyLine(key, after: oauthLine)))
            }
        }
        if table["apim"]?.table?["key_manager"] != nil {
            notes.append(diag.warn("apim.key_manager", "API Manager's key manager service (token introspection, subscriptions) has no counterpart: only JWT access tokens are verified", line: headers("[apim.key_manager]").first))
        }
        if !options.issuers.isEmpty { v.issuers = options.issuers }
        if let url = options.jwksURL { v.jwksURL = url }
        if let key = options.verifyKey { v.keyFiles = [key] }
        guard v.jwksURL != nil || !v.keyFiles.isEmpty else {
            return (notes + [diag.warn("apim.jwt.issuer", "API Manager validates access tokens with the key managers set in its Admin Portal (kept in its database, not in deployment.toml): give --jwks-url and --issuer, or add backend_jwt_verify yourself", line: jwtLine)], false)
        }
        // the checks go in each server that serves APIs (the JWK Set's location must be one of
        // its own), from a file written beside the output
        let path = diag.write("verify.conf", NginxText.render(v.items() + v.serverItems()), options: options)
        var out: [Item] = [.comment("Access tokens: API Manager checks the caller's JWT on every API. In every server that serves APIs:\n    include \(path);")]
        out += notes
        out += v.httpItems()
        return (out, true)
    }

    /// The two variables a location sets when --api-name/--api-version were not given: they
    /// need a definition at http level, which `map` gives (empty until a level sets them).
    static func finish(_ items: [Item], options: MigrationOptions) -> [Item] {
        var out = items
        var defaults: [Item] = []
        if options.apiName == nil {
            defaults.append(.block("map", ["", "$bjwt_api_name"], [.directive("default", [""])]))
        }
        if options.apiVersion == nil {
            defaults.append(.block("map", ["", "$bjwt_api_version"], [.directive("default", [""])]))
        }
        if !defaults.isEmpty { out += [.blank] + defaults }
        return out
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
