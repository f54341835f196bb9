/// WSO2 APK custom resources: `API`, `HTTPRoute`, `Backend`, `APIPolicy` (`default` and
/// `override`, each with `backendJwtToken` or a `backendJwtPolicy` reference) and `BackendJWT`.
enum APKCRs {
    /// Kinds of an APK deployment that carry nothing about backend JWTs.
    static let otherKinds: Set<String> = [
        "RateLimitPolicy", "InterceptorService", "Service", "Gateway", "GQLRoute", "GRPCRoute", "AIProvider", "AIRateLimitPolicy", "Application",
        "Subscription", "ApplicationMapping",
    ]
    static let kinds: Set<String> = [
        "API", "HTTPRoute", "Backend", "APIPolicy", "BackendJWT", "Authentication", "TokenIssuer", "Scope", "ConfigMap", "Secret",
    ]

    struct Documents {
        var byKind: [String: [(name: String, node: YNode)]] = [:]

        func find(_ kind: String, _ name: String) -> YNode? {
            byKind[kind]?.first(where: { $0.name == name })?.node
        }
    }

    static func convert(_ documents: [YNode], options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Item] {
        var docs = Documents()
        var skipped: [Item] = []
        for document in documents where document.node.null == nil {
            let kind = try document.require("kind").string()
            let metadata = try document.require("metadata")
            let name = try metadata.require("name").string()
            if kinds.contains(kind) {
                docs.byKind[kind, default: []].append((name, YNode(node: document.node, path: "\(kind)/\(name)", diag: diag)))
            } else if otherKinds.contains(kind) {
                skipped.append(diag.warn("\(kind)/\(name)", "only backend JWT settings are converted", line: document.line))
            } else {
                throw diag.error("unknown kind \"\(kind)\" (\(name)); expected \(kinds.sorted().joined(separator: ", "))", line: document.line)
            }
        }
        guard let apis = docs.byKind["API"], !apis.isEmpty else {
            throw diag.error("no API resource: nothing to convert", line: documents.first?.line)
        }
        var out: [Item] = skipped
        for (name, api) in apis {
            if !out.isEmpty { out.append(.blank) }
            out += try server(api: api, name: name, docs: docs, options: options, diag: diag)
        }
        return out
    }

    /// The APIPolicy's backend JWT settings of `section` (`default` or `override`), if any.
    static func section(_ policy: YNode, _ section: String, docs: Documents, diag: Diagnostics) throws(MigrationError) -> Policy? {
        guard let spec = try policy.require("spec")[section] else { return nil }
        if let token = spec["backendJwtToken"] {
            return try APK.policy(token, diag: diag)
        }
        if let reference = spec["backendJwtPolicy"] {
            let name = try reference.require("name").string()
            guard let cr = docs.find("BackendJWT", name) else {
                throw diag.error("\(reference.path): no BackendJWT named \"\(name)\" in the file", line: reference.line)
            }
            return try APK.policy(cr.require("spec"), diag: diag)
        }
        return nil
    }

    static func server(api: YNode, name: String, docs: Documents, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Item] {
        let spec = try api.require("spec")
        let basePathNode = try spec.require("basePath")
        let context = try APK.context(basePath: basePathNode.string(), version: "", node: basePathNode, diag: diag)
        let environment = options.sandbox ? "sandbox" : "production"
        var plan = ServerPlan()
        plan.comments.append(.comment("WSO2 APK API \(name) (\(try spec["apiName"]?.string() ?? name) \(try spec["apiVersion"]?.string() ?? "")): \(context.isEmpty ? "/" : context)"))

        // authentication: an Authentication aimed at the API (override before default), else
        // APK's default, OAuth2 with the TokenIssuers' keys
        let verification = { () throws(MigrationError) -> Verification in
            try APKAuth.verification(issuers: docs.byKind["TokenIssuer"] ?? [], docs: docs, line: api.line, options: options, diag: diag)
        }
        var access: Access?
        for (authName, node) in docs.byKind["Authentication"] ?? [] {
            guard let target = try node.require("spec")["targetRef"], try target.require("kind").string() == "API",
                  try target.require("name").string() == name else { continue }
            let spec = try node.require("spec")
            guard let section = spec["override"] ?? spec["default"] else { continue }
            let (found, notes) = try APKAuth.resource(section, verification: verification, diag: diag)
            plan.comments.append(.comment("Authentication \(authName)"))
            plan.comments += notes
            access = found
        }
        if access == nil {
            access = .verify(try verification())
            plan.comments.append(.comment("no Authentication resource: APK's default, OAuth2 with the TokenIssuer's keys"))
        }
        let serverAccess = access!
        if case .verify(let v) = serverAccess {
            plan.settings = v.items()
            plan.before = v.httpItems()
            plan.locations = v.serverItems()
            plan.verifies = true
        }

        // API-level policies: override enforces, default is inherited
        var apiPolicy: Policy?
        var enforce = false
        for (policyName, policyNode) in docs.byKind["APIPolicy"] ?? [] {
            guard let target = try policyNode.require("spec")["targetRef"],
                  try target.require("kind").string() == "API", try target.require("name").string() == name else { continue }
            let over = try section(policyNode, "override", docs: docs, diag: diag)
            let def = try section(policyNode, "default", docs: docs, diag: diag)
            if let over {
                apiPolicy = over
                enforce = true
                plan.comments.append(.comment("APIPolicy \(policyName): override, so backend_jwt_enforce: no location may change these settings"))
                if def != nil { plan.comments.append(.comment("APIPolicy \(policyName): its default is shadowed by its override, as in APK")) }
            } else if let def {
                if apiPolicy == nil {
                    apiPolicy = def
                    plan.comments.append(.comment("APIPolicy \(policyName): default, inherited by every location that sets nothing"))
                }
            }
        }
        // the override still wins over operation policies (they are left out below); the
        // directive is not written where the server verifies: backend_jwt_enforce would also
        // forbid the locations' own backend_jwt_verify (the JWK Set's, unsecured operations, the 404)
        var writeEnforce = enforce
        if case .verify = serverAccess, apiPolicy != nil {
            Identity.add(to: &apiPolicy!)
            if enforce {
                writeEnforce = false
                plan.comments.append(.comment("... but backend_jwt_enforce is not written where the server verifies: it would also forbid each location's own backend_jwt_verify (operation policies are left out all the same)"))
            }
        }
        if let apiPolicy {
            if !plan.settings.isEmpty { plan.settings.append(.blank) }
            plan.settings += apiPolicy.items(key: APK.keySource(api.line).items(apiPolicy.keyKind, options: options, diag: diag), enforce: writeEnforce)
        }

        guard let routeRefs = spec[environment] else {
            throw diag.error("\(spec.child(environment)) is missing: no routes\(options.sandbox ? "" : " (for sandbox routes use --sandbox)")", line: spec.line)
        }
        var routes: [Route] = []
        for group in try routeRefs.array() {
            for reference in try group.require("routeRefs").array() {
                let routeName = try reference.string()
                guard let route = docs.find("HTTPRoute", routeName) else {
                    throw diag.error("\(reference.path): no HTTPRoute named \"\(routeName)\" in the file", line: reference.line)
                }
                routes += try self.routes(route, context: context, apiPolicy: apiPolicy, enforce: enforce, access: serverAccess,
                                          verification: verification, docs: docs, options: options, diag: diag)
            }
        }
        plan.routes = try Route.merge(routes, diag: diag)
        let serverKind = apiPolicy?.keyKind
        for route in plan.routes {
            if case .verify(let own)? = route.access { plan.before += own.httpItems().filter { !plan.before.contains($0) } }
        }
        plan.locationSettings = { route in
            let guarding = APKAuth.locationItems(server: serverAccess, own: route.access, secured: route.secured, scopes: route.scopes,
                                                 field: route.accessField, line: route.line, diag: diag)
            guard let policy = route.policy else { return guarding }
            let key = serverKind == policy.keyKind ? [] : APK.keySource(route.line).items(policy.keyKind, options: options, diag: diag)
            return guarding + policy.items(key: key, parent: apiPolicy)
        }
        return plan.items(options: options)
    }

    static func routes(_ route: YNode, context: String, apiPolicy: Policy?, enforce: Bool, access: Access,
                       verification: () throws(MigrationError) -> Verification, docs: Documents,
                       options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Route] {
        var out: [Route] = []
        for rule in try route.require("spec").require("rules").array() {
            // the backend
            let backendRef = try rule.require("backendRefs").array().first
            guard let backendRef else { throw diag.error("\(rule.path).backendRefs is empty", line: rule.line) }
            let backendName = try backendRef.require("name").string()
            guard let backend = docs.find("Backend", backendName) else {
                throw diag.error("\(backendRef.path): no Backend named \"\(backendName)\" in the file", line: backendRef.line)
            }
            let upstream = try self.upstream(backend, diag: diag).replacingOrigin(options.upstream)

            // operation-level policies and path rewrites
            var policy: Policy?
            var notes: [Item] = []
            var replacePrefix: String?
            var scopes: [String] = []
            var scopeField = ""
            var own: Access?
            for filter in try rule["filters"]?.array() ?? [] {
                let type = try filter.require("type").string()
                if type == "ExtensionRef", let ref = filter["extensionRef"], try ref.require("kind").string() == "Scope" {
                    let name = try ref.require("name").string()
                    guard let node = docs.find("Scope", name) else {
                        throw diag.error("\(ref.path): no Scope named \"\(name)\" in the file", line: ref.line)
                    }
                    let names = try node.require("spec").require("names")
                    scopes += try names.array().map { (scope) throws(MigrationError) in try scope.string() }
                    scopeField = names.path
                } else if type == "ExtensionRef", let ref = filter["extensionRef"], try ref.require("kind").string() == "Authentication" {
                    let name = try ref.require("name").string()
                    guard let node = docs.find("Authentication", name) else {
                        throw diag.error("\(ref.path): no Authentication named \"\(name)\" in the file", line: ref.line)
                    }
                    let spec = try node.require("spec")
                    guard let section = spec["override"] ?? spec["default"] else { continue }
                    let (found, authNotes) = try APKAuth.resource(section, verification: verification, diag: diag)
                    notes += authNotes
                    own = found
                } else if type == "ExtensionRef", let ref = filter["extensionRef"], try ref.require("kind").string() == "APIPolicy" {
                    let name = try ref.require("name").string()
                    guard let node = docs.find("APIPolicy", name) else {
                        throw diag.error("\(ref.path): no APIPolicy named \"\(name)\" in the file", line: ref.line)
                    }
                    var found = try section(node, "override", docs: docs, diag: diag)
                    if found == nil { found = try section(node, "default", docs: docs, diag: diag) }
                    guard let found else { continue }
                    if enforce {
                        notes.append(diag.warn("APIPolicy \(name)", "the API's override policy wins over this operation policy, as in APK; left out", line: node.line))
                    } else {
                        policy = found
                        if case .verify = access { Identity.add(to: &policy!) }
                        if found.claims.isEmpty, apiPolicy?.claims.isEmpty == false {
                            notes.append(diag.warn("APIPolicy \(name)", "it has no customClaims, but nginx gives the location the API's claims (a level without claims inherits them)", line: node.line))
                        }
                    }
                } else if type == "URLRewrite", let path = filter["urlRewrite"]?["path"],
                          try path.require("type").string() == "ReplacePrefixMatch" {
                    replacePrefix = try path.require("replacePrefixMatch").string()
                } else {
                    notes.append(diag.warn("\(filter.path) (\(type))", "only APIPolicy references and prefix rewrites are converted", line: filter.line))
                }
            }

            for match in try rule["matches"]?.array() ?? [] {
                let pathNode = try match.require("path")
                let type = try pathNode["type"]?.string() ?? "PathPrefix"
                let value = try pathNode.require("value").string()
                let method = try match["method"]?.string().uppercased() ?? ""
                let pathMatch: PathMatch
                var operationPath = value
                switch type {
                case "Exact":
                    pathMatch = .exact(context + value)
                case "PathPrefix":
                    if value.hasSuffix("/") || value.isEmpty {
                        pathMatch = .prefix(context + (value.isEmpty ? "/" : value))
                        if value.isEmpty { operationPath = "/" }
                    } else {
                        // element-wise: /orders and /orders/..., not /ordersx
                        pathMatch = .regex("^" + NginxText.regexLiteral(context + value) + "(/.*)?$")
                    }
                case "RegularExpression":
                    pathMatch = .regex("^" + NginxText.regexLiteral(context) + value + (value.hasSuffix("$") ? "" : "$"))
                default:
                    throw diag.error("\(pathNode.path).type: unknown path match \"\(type)\"", line: pathNode.line)
                }
                var routeUpstream = upstream
                if let replacePrefix {
                    var prefix = replacePrefix
                    while prefix.hasSuffix("/") { prefix.removeLast() }
                    if case .exact = pathMatch {
                        operationPath = prefix.isEmpty ? "/" : prefix
                    } else {
                        routeUpstream.tail = .replacePrefix(matched: context + value, with: prefix)
                    }
                }
                var converted = Route(match: pathMatch, context: context, operationPath: operationPath, methods: method.isEmpty ? [] : [method],
                                      upstream: routeUpstream, policy: policy,
                                      notes: [.comment("HTTPRoute \(try route.require("metadata").require("name").string()): \(method.isEmpty ? "any method" : method) \(type) \(value)")] + notes,
                                      line: match.line)
                converted.scopes = scopes
                converted.accessField = scopeField
                // an operation whose Authentication checks nothing is APK's unsecured one
                if own == .open { converted.secured = false } else { converted.access = own }
                out.append(converted)
            }
        }
        return out
    }

    /// A Backend CR's URL: protocol://host:port/basePath.
    static func upstream(_ backend: YNode, diag: Diagnostics) throws(MigrationError) -> Upstream {
        let spec = try backend.require("spec")
        guard let service = try spec.require("services").array().first else {
            throw diag.error("\(spec.path).services is empty", line: spec.line)
        }
        let host = try service.require("host").string()
        let port = try service["port"]?.string()
        let scheme = try spec["protocol"]?.string().lowercased() ?? "http"
        let basePath = try spec["basePath"]?.string() ?? ""
        let url = "\(scheme)://\(host)\(port.map { ":" + $0 } ?? "")\(basePath.hasPrefix("/") || basePath.isEmpty ? "" : "/")\(basePath)"
        guard let upstream = Upstream.parse(url, tail: .operationPath) else {
            throw diag.error("\(backend.path): \"\(url)\" is not an http:// or https:// URL", line: backend.line)
        }
        return upstream
    }
}
