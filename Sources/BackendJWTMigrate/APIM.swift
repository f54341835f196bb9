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
            case "enable", "encoding", "signing_algorithm", "header", "claim_dialect", "gateway_generator": break
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
        items += policy.items(key: key)
        return finish(items, options: options)
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
