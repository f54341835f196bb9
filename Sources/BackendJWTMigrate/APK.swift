import Foundation

/// WSO2 APK: the `backendJwtToken` settings (apk-conf `BackendJwt` parameters, an APIPolicy's
/// `backendJwtToken`, a `BackendJWT` CR's spec) and the apk-conf file.
enum APK {
    static func keySource(_ line: Int?) -> KeySource {
        KeySource(field: "the gateway's key pair", reason: "APK signs with its gateway's key, which no API file holds", line: line)
    }

    /// A policy from APK's backend JWT fields.
    static func policy(_ node: YNode, diag: Diagnostics) throws(MigrationError) -> Policy {
        var policy = Policy()
        for (key, value) in try node.pairs() {
            switch key {
            case "enabled":
                policy.enabled = try value.bool()
            case "encoding":
                let encoding = try value.string()
                switch encoding.lowercased() {
                case "base64": policy.encoding = "base64"
                case "base64url": policy.encoding = "base64url"
                default: throw diag.error("\(value.path) must be Base64 or Base64url, not \"\(encoding)\"", line: value.line)
                }
            case "signingAlgorithm":
                let algorithm = try value.string()
                guard Algorithms.isAccepted(algorithm) else {
                    throw diag.error("\(value.path): unknown signing algorithm \"\(algorithm)\"", line: value.line)
                }
                policy.algorithm = algorithm
            case "header":
                let header = try value.string()
                guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                    throw diag.error("\(value.path): \"\(header)\" is not a header name nginx accepts (letters, digits, -)", line: value.line)
                }
                policy.header = header
            case "tokenTTL":
                policy.ttl = try value.integer(1...4_294_967_295)
            case "customClaims":
                for item in try value.array() {
                    if let claim = try customClaim(item, policy: &policy, diag: diag) { policy.claims.append(claim) }
                }
            default:
                policy.notes.append(diag.warn(value.path, "not a backend JWT field this tool knows; left out", line: value.line))
            }
        }
        if policy.encoding == nil {
            policy.notes.append(.comment("encoding not set: APK's documented default is Base64 (the legacy form) but its current enforcer sends base64url, the JWS form written here"))
        }
        if policy.ttl == nil { policy.ttl = 3600 }
        return policy
    }

    /// One `customClaims` item; registered names go to their own directives.
    static func customClaim(_ item: YNode, policy: inout Policy, diag: Diagnostics) throws(MigrationError) -> Claim? {
        let name = try item.require("claim").string()
        let valueNode = try item.require("value")
        let value = try valueNode.string()
        var type = "string"
        if let typeNode = item["type"] {
            let given = try typeNode.string()
            guard let known = ClaimTypes.names[given.lowercased()] else {
                throw diag.error("\(typeNode.path): unknown claim type \"\(given)\" (string, int, long, float, bool, date)", line: typeNode.line)
            }
            type = known
        }
        guard !name.isEmpty else { throw diag.error("\(item.path).claim is empty", line: item.line) }
        if NginxText.hasVariable(value) {
            policy.notes.append(diag.warn("\(item.path).value", "\"\(value)\" holds $, which nginx reads as a variable; claim \(name) left out", line: valueNode.line))
            return nil
        }
        guard ClaimTypes.literalFits(value, type) else {
            throw diag.error("\(valueNode.path): \"\(value)\" is not a \(type), so every request would fail", line: valueNode.line)
        }
        switch name {
        case "iss": policy.issuer = value; return nil
        case "sub": policy.subject = value; return nil
        case "aud": policy.audience = [value]; return nil
        case _ where Policy.registered.contains(name):
            policy.notes.append(diag.warn("\(item.path).claim", "\(name) is made by the module itself; left out", line: item.line))
            return nil
        case _ where Policy.registered.contains(Policy.goFolded(name)):
            let folded = Policy.goFolded(name)
            policy.notes.append(
                diag.warn("\(item.path).claim", "\(name) is \(folded) to a Go backend, which the module sets itself; left out",
                          line: item.line))
            return nil
        default:
            return Claim(name: name, value: value, type: type)
        }
    }

    // MARK: apk-conf

    static let policyName = "backendjwt"
    /// The apk-conf fields read (or that say nothing nginx needs: `id`, `type`); any other is a warning.
    static let confFields: Set<String> = [
        "name", "basePath", "version", "type", "id", "defaultVersion", "endpointConfigurations", "operations", "apiPolicies",
        "authentication", "definitionPath",
    ]
    static let operationFields: Set<String> = ["target", "verb", "secured", "scopes", "operationPolicies", "endpointConfigurations"]

    static func convertConf(_ root: YNode, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Item] {
        let name = try root["name"]?.string() ?? ""
        let basePath = try root.require("basePath").string()
        let version = try root["version"]?.string() ?? ""
        let context = try Self.context(basePath: basePath, version: version, node: root.require("basePath"), diag: diag)
        let environment = options.sandbox ? "sandbox" : "production"

        var plan = ServerPlan()
        plan.comments.append(.comment("WSO2 APK API \(name.isEmpty ? "(no name)" : "\"\(name)\"")\(version.isEmpty ? "" : " " + version): \(context.isEmpty ? "/" : context)"))
        let apiUpstream = try endpoint(root, environment: environment, options: options, diag: diag)
        if let other = root["endpointConfigurations"]?[options.sandbox ? "production" : "sandbox"]?["endpoint"],
           let url = try? other.string() {
            plan.comments.append(.comment("endpointConfigurations.\(options.sandbox ? "production" : "sandbox"): \(url) is not used here (\(options.sandbox ? "without" : "with") --sandbox it would be)"))
        }
        if (try root["defaultVersion"]?.bool()) == true, let node = root["defaultVersion"] {
            plan.comments.append(diag.warn(node.path, "APK also serves the API without its version; add a copy of the locations under \(basePath) if you need that", line: node.line))
        }

        // authentication: the server verifies, locations say where it does not
        let (access, accessNotes) = try APKAuth.conf(root, verification: { () throws(MigrationError) in
            try APKAuth.verification(issuers: [], docs: nil, line: root["authentication"]?.line ?? root.line, options: options, diag: diag)
        }, diag: diag)
        plan.comments += accessNotes
        if case .verify(let verification) = access {
            plan.comments.append(.comment("APK checks the caller's access token (OAuth2) on secured operations, with the scopes each names"))
            plan.settings = verification.items()
            plan.before = verification.httpItems()
            plan.locations = verification.serverItems()
            plan.verifies = true
        }

        // apiPolicies: the server's settings, inherited by every location
        var apiPolicy: Policy?
        if let policies = root["apiPolicies"] {
            apiPolicy = try backendJwt(in: policies, notes: &plan.comments, diag: diag)
        }
        if case .verify = access, apiPolicy != nil { Identity.add(to: &apiPolicy!) }
        if let apiPolicy {
            if !plan.settings.isEmpty { plan.settings.append(.blank) }
            plan.settings += apiPolicy.items(key: keySource(root["apiPolicies"]?.line).items(apiPolicy.keyKind, options: options, diag: diag))
        }

        var routes: [Route] = []
        for (key, value) in try root.pairs() where !confFields.contains(key) {
            plan.comments.append(diag.warn(key, "not an apk-conf field this tool converts", line: value.line))
        }
        for operation in try root.require("operations").array() {
            for (key, value) in try operation.pairs() where !operationFields.contains(key) {
                plan.comments.append(diag.warn(value.path, "not an operation field this tool converts", line: value.line))
            }
            let target = try operation.require("target").string()
            guard target.hasPrefix("/") else {
                throw diag.error("\(operation.path).target must start with /, not \"\(target)\"", line: operation.line)
            }
            let verb = try operation["verb"]?.string().uppercased() ?? ""
            var notes: [Item] = [.comment("\(verb.isEmpty ? "any method" : verb) \(target)")]
            var policy: Policy?
            if let policies = operation["operationPolicies"] {
                policy = try backendJwt(in: policies, notes: &notes, diag: diag)
            }
            if case .verify = access, policy != nil { Identity.add(to: &policy!) }
            var upstream = apiUpstream
            if operation["endpointConfigurations"]?[environment] != nil {
                upstream = try endpoint(operation, environment: environment, options: options, diag: diag)
            }
            guard let upstream else {
                throw diag.error("endpointConfigurations.\(environment).endpoint is missing (or give --upstream)", line: root.line)
            }
            if policy != nil, apiPolicy != nil, policy?.claims.isEmpty == true, apiPolicy?.claims.isEmpty == false {
                notes.append(diag.warn("\(operation.path).operationPolicies", "its BackendJwt has no customClaims, but nginx gives the location the API's claims (a level without claims inherits them)", line: operation.line))
            }
            let (match, operationPath) = Route.match(target: target, context: context)
            var route = Route(match: match, context: context, operationPath: operationPath, methods: verb.isEmpty ? [] : [verb],
                              upstream: upstream, policy: policy, notes: notes, line: operation.line)
            route.secured = try operation["secured"]?.bool() ?? true
            route.scopes = try operation["scopes"]?.array().map { (scope) throws(MigrationError) in try scope.string() } ?? []
            route.accessField = operation.child("scopes")
            routes.append(route)
        }
        plan.routes = try Route.merge(routes, diag: diag)
        let serverKind = apiPolicy?.keyKind
        plan.locationSettings = { route in
            let guarding = APKAuth.locationItems(server: access, own: nil, secured: route.secured, scopes: route.scopes,
                                                 field: route.accessField, line: route.line, diag: diag)
            guard let policy = route.policy else { return guarding }
            let key = serverKind == policy.keyKind ? [] : keySource(route.line).items(policy.keyKind, options: options, diag: diag)
            return guarding + policy.items(key: key, parent: apiPolicy)
        }
        return plan.items(options: options)
    }

    /// basePath/version, as APK joins them.
    static func context(basePath: String, version: String, node: YNode, diag: Diagnostics) throws(MigrationError) -> String {
        guard basePath.hasPrefix("/") else { throw diag.error("\(node.path) must start with /, not \"\(basePath)\"", line: node.line) }
        var context = basePath
        while context.hasSuffix("/") { context.removeLast() }
        if !version.isEmpty { context += "/" + version }
        guard !context.contains(where: { $0 == " " || $0 == "{" || $0 == "*" || $0 == "$" }) else {
            throw diag.error("\(node.path): \"\(context)\" is not a plain path", line: node.line)
        }
        return context
    }

    /// The endpoint of `environment` under `owner.endpointConfigurations`.
    static func endpoint(_ owner: YNode, environment: String, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> Upstream? {
        guard let node = owner["endpointConfigurations"]?[environment] else {
            return options.upstream.flatMap { Upstream.parse($0, tail: .operationPath) }
        }
        let endpoint = try node.require("endpoint")
        guard !endpoint.isMapping else {
            // a Kubernetes service reference: name, namespace, port
            let name = try endpoint.require("name").string()
            let port = try endpoint["port"]?.string() ?? "80"
            let namespace = try endpoint["namespace"]?.string()
            let url = "http://\(name)\(namespace.map { "." + $0 } ?? ""):\(port)"
            return Upstream.parse(url, tail: .operationPath)?.replacingOrigin(options.upstream)
        }
        let url = try endpoint.string()
        guard let upstream = Upstream.parse(url, tail: .operationPath) else {
            throw diag.error("\(endpoint.path): \"\(url)\" is not an http:// or https:// URL without query", line: endpoint.line)
        }
        return upstream.replacingOrigin(options.upstream)
    }

    /// The BackendJwt policy of a `request`/`response` policy list; other policies are named
    /// in warnings.
    static func backendJwt(in policies: YNode, notes: inout [Item], diag: Diagnostics) throws(MigrationError) -> Policy? {
        var found: Policy?
        for (flow, list) in try policies.pairs() {
            for item in try list.array() {
                let name = try item.require("policyName").string()
                if name.lowercased() == policyName && flow == "request" {
                    if found != nil {
                        notes.append(diag.warn(item.path, "a second BackendJwt policy; the first one is used", line: item.line))
                        continue
                    }
                    found = try policy(item["parameters"] ?? YNode(node: [:], path: item.child("parameters"), diag: diag), diag: diag)
                } else {
                    notes.append(diag.warn("\(item.path) (\(name))", "only BackendJwt request policies are converted", line: item.line))
                }
            }
        }
        return found
    }
}
