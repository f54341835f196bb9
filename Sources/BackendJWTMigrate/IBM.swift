/// IBM API Connect: an OpenAPI document with `x-ibm-configuration`, whose assembly holds
/// `jwt-generate` policies (top level: every operation; in an `operation-switch` case: its
/// operations) and `invoke` policies.
enum IBM {
    static let verbs = ["get", "put", "post", "delete", "options", "head", "patch"]

    struct Operation {
        var path: String
        var verb: String
        var id: String?
        var line: Int?
    }

    final class State {
        var operations: [Operation] = []
        var variables: [String: String] = [:]
        var properties: [String: String] = [:]
        var policies: [Int: Policy] = [:]
        var upstreams: [Int: Upstream] = [:]
        var notes: [Item] = []
        var policyNotes: [Int: [Item]] = [:]
        var keySources: [Int: KeySource] = [:]
    }

    static func convert(_ root: YNode, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> [Item] {
        let config = try root.require("x-ibm-configuration")
        let state = State()
        let title = try root["info"]?["title"]?.string() ?? ""
        let version = try root["info"]?["version"]?.string() ?? ""

        var basePath = try root["basePath"]?.string() ?? ""
        if basePath.isEmpty, let server = try root["servers"]?.array().first, let url = try server["url"]?.string() {
            // OpenAPI 3: the path of the first server's URL
            if let scheme = url.range(of: "://") {
                basePath = url[scheme.upperBound...].firstIndex(of: "/").map { String(url[$0...]) } ?? ""
            } else {
                basePath = url
            }
        }
        let context = basePath.isEmpty || basePath == "/" ? "" : try APK.context(basePath: basePath, version: "", node: root, diag: diag)

        for (path, item) in try root.require("paths").pairs() {
            guard path.hasPrefix("/") else { throw diag.error("\(item.path): a path must start with /", line: item.line) }
            for (verb, operation) in try item.pairs() where verbs.contains(verb.lowercased()) {
                state.operations.append(Operation(path: path, verb: verb.uppercased(), id: try operation["operationId"]?.string(), line: operation.line))
            }
        }
        guard !state.operations.isEmpty else { throw diag.error("paths: no operation to convert", line: root.line) }
        for (name, property) in try config["properties"]?.pairs() ?? [] {
            if let value = try property["value"]?.string() { state.properties[name] = value }
        }

        let assembly = YNode(node: try config.require("assembly").require("execute").node, path: "assembly.execute", diag: diag)
        try collectVariables(assembly, state: state)
        try walk(assembly, operations: Set(state.operations.indices), state: state, options: options, diag: diag)

        var plan = ServerPlan()
        plan.comments.append(.comment("IBM API Connect API \(title.isEmpty ? "(no title)" : "\"\(title)\"") \(version): \(context.isEmpty ? "/" : context)"))
        plan.comments += state.notes
        // one policy for every operation: the server's
        let all = state.operations.indices.map { state.policies[$0] }
        let shared: Policy? = all.allSatisfy({ $0 != nil && $0 == all[0] }) ? all[0] : nil
        if let shared, let source = state.keySources[0] {
            plan.settings = state.policyNotes[0, default: []] + shared.items(key: source.items(shared.keyKind, options: options, diag: diag))
        }
        var routes: [Route] = []
        for (index, operation) in state.operations.enumerated() {
            let upstream: Upstream
            if let found = state.upstreams[index] {
                upstream = found
            } else if let origin = options.upstream, let parsed = Upstream.parse(origin, tail: .requestPath) {
                upstream = parsed
            } else {
                throw diag.error("\(operation.verb) \(operation.path): no invoke in the assembly, so no backend; give one with --upstream", line: operation.line)
            }
            let (match, operationPath) = Route.match(target: operation.path, context: context)
            let notes: [Item] = [.comment("\(operation.verb) \(operation.path)\(operation.id.map { " (\($0))" } ?? "")")]
            routes.append(Route(match: match, context: context, operationPath: operationPath, methods: [operation.verb],
                                upstream: upstream, policy: shared == nil ? state.policies[index] : nil, notes: notes, line: operation.line))
        }
        plan.routes = try Route.merge(routes, diag: diag)
        plan.locationSettings = { route in
            guard let policy = route.policy,
                  let index = state.operations.indices.first(where: { state.policies[$0] == policy }),
                  let source = state.keySources[index] else { return [] }
            return state.policyNotes[index, default: []] + policy.items(key: source.items(policy.keyKind, options: options, diag: diag))
        }
        return plan.items(options: options)
    }

    /// `set-variable` actions that set a variable to a value, anywhere in the assembly (cases,
    /// otherwise branches): a claim may read them.
    static func collectVariables(_ node: YNode, state: State) throws(MigrationError) {
        switch node.node {
        case .mapping:
            for (name, body) in try node.pairs() {
                if name == "set-variable" {
                    for action in try body["actions"]?.array() ?? [] {
                        if let variable = try action["set"]?.string(), let value = try action["value"]?.string() {
                            state.variables[variable] = value
                        }
                    }
                } else {
                    try collectVariables(body, state: state)
                }
            }
        case .sequence:
            for item in try node.array() { try collectVariables(item, state: state) }
        default:
            break
        }
    }

    static func walk(_ list: YNode, operations: Set<Int>, state: State, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) {
        for step in try list.array() {
            for (name, body) in try step.pairs() {
                switch name {
                case "jwt-generate":
                    let (policy, notes, source) = try jwtGenerate(body, state: state, diag: diag)
                    for index in operations.sorted() {
                        if state.policies[index] != nil {
                            state.notes.append(diag.warn(body.path, "a second jwt-generate for \(state.operations[index].verb) \(state.operations[index].path); the last one is used", line: body.line))
                        }
                        state.policies[index] = policy
                        state.policyNotes[index] = notes
                        state.keySources[index] = source
                    }
                case "invoke", "proxy":
                    let url = try body.require("target-url")
                    let upstream = try targetURL(url, state: state, options: options, diag: diag)
                    for index in operations { state.upstreams[index] = upstream }
                case "operation-switch":
                    var rest = operations
                    for branch in try body.require("case").array() {
                        var chosen = Set<Int>()
                        for reference in try branch.require("operations").array() {
                            let found = try find(reference, state: state, diag: diag)
                            chosen.insert(found)
                        }
                        rest.subtract(chosen)
                        try walk(branch.require("execute"), operations: chosen.intersection(operations), state: state, options: options, diag: diag)
                    }
                    if let otherwise = body["otherwise"] {
                        try walk(otherwise, operations: rest, state: state, options: options, diag: diag)
                    }
                case "switch":
                    if containsPolicy(body, "jwt-generate") || containsPolicy(body, "invoke") {
                        state.notes.append(diag.warn(body.path, "a switch on conditions is not converted: the jwt-generate or invoke policies inside it are left out", line: body.line))
                    }
                case "jwt-validate":
                    state.notes.append(diag.warn(body.path, "verifying the caller's JWT is not part of this conversion", line: body.line))
                default:
                    break
                }
            }
        }
    }

    static func containsPolicy(_ node: YNode, _ name: String) -> Bool {
        switch node.node {
        case .mapping(let mapping):
            return mapping.contains { $0.key.string == name || containsPolicy(YNode(node: $0.value, path: "", diag: node.diag), name) }
        case .sequence(let sequence):
            return sequence.contains { containsPolicy(YNode(node: $0, path: "", diag: node.diag), name) }
        default:
            return false
        }
    }

    /// An `operation-switch` case's operation: an operationId, or `{verb, path}`.
    static func find(_ reference: YNode, state: State, diag: Diagnostics) throws(MigrationError) -> Int {
        if reference.isMapping {
            let verb = try reference.require("verb").string().uppercased()
            let path = try reference.require("path").string()
            if let index = state.operations.firstIndex(where: { $0.verb == verb && $0.path == path }) { return index }
            throw diag.error("\(reference.path): no operation \(verb) \(path) in paths", line: reference.line)
        }
        let id = try reference.string()
        if let index = state.operations.firstIndex(where: { $0.id == id }) { return index }
        throw diag.error("\(reference.path): no operation with operationId \"\(id)\" in paths", line: reference.line)
    }

    /// A runtime variable as an nginx value: request headers, and variables a set-variable
    /// sets to text made of them.
    static func variable(_ name: String, state: State) -> String? {
        for prefix in ["request.headers.", "message.headers."] where name.lowercased().hasPrefix(prefix) {
            let header = name.dropFirst(prefix.count)
            guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
            return "$http_" + header.lowercased().replacingAll("-", with: "_")
        }
        guard let value = state.variables[name] else { return nil }
        // $(request.headers.x) inside a set-variable value
        var out = ""
        var rest = value[...]
        while let start = rest.range(of: "$(") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: ")"),
                  let inner = variable(String(rest[start.upperBound..<end]), state: state) else { return nil }
            out += inner
            rest = rest[rest.index(after: end)...]
        }
        out += rest
        return out.contains("$") && !out.contains("$http_") ? nil : out
    }

    static func jwtGenerate(_ body: YNode, state: State, diag: Diagnostics) throws(MigrationError) -> (Policy, [Item], KeySource) {
        var policy = Policy()
        var notes: [Item] = [.comment("jwt-generate at \(body.path)")]
        policy.encoding = "base64url"
        policy.ttl = 3600
        policy.jti = false
        policy.bearer = true
        var algorithm: String?
        var keySource = KeySource(field: "jws-crypto", reason: "the policy names no signing key", line: body.line)
        func claim(_ key: String, _ node: YNode?, default fallback: String?) throws(MigrationError) -> [String] {
            let names = try node?.string() ?? fallback ?? ""
            var out: [String] = []
            for name in names.split(separator: ",").map({ $0.trimmingBlanks() }) where !name.isEmpty {
                if let value = variable(name, state: state) {
                    out.append(value)
                } else {
                    notes.append(diag.warn(node?.path ?? body.child(key), "runtime variable \(name) has no nginx counterpart (request.headers.X or a set-variable of them); left out", line: node?.line ?? body.line))
                }
            }
            return out
        }
        for (key, value) in try body.pairs() {
            switch key {
            case "title", "description", "version": break
            case "jwt":
                let variable = try value.string()
                if !variable.isEmpty {
                    policy.bearer = false
                    notes.append(diag.warn(value.path, "the token goes to the runtime variable \(variable); here it is $backend_jwt and the \(policy.header) header: use $backend_jwt where the assembly used \(variable)", line: value.line))
                }
            case "jti-claim": policy.jti = try value.bool()
            case "exp-claim": policy.ttl = try value.integer(1...4_294_967_295)
            case "iss-claim", "sub-claim", "aud-claim", "private-claims": break  // below, with defaults
            case "jws-alg":
                let given = try value.string()
                guard Algorithms.isAccepted(given), given.lowercased() != "none" else {
                    throw diag.error("\(value.path): unknown signing algorithm \"\(given)\"", line: value.line)
                }
                algorithm = given
            case "jws-crypto":
                keySource = KeySource(field: value.path, reason: "the crypto object \(try value.string()) lives in DataPower, not in a file nginx reads", line: value.line)
            case "jws-jwk":
                if body["jws-crypto"] == nil {
                    keySource = KeySource(field: value.path, reason: "the signing JWK comes from the runtime variable \(try value.string())", line: value.line)
                }
            case "jwe-enc", "jwe-alg", "jwe-crypto", "jwe-jwk":
                notes.append(diag.warn(value.path, "JWE: the module signs tokens but does not encrypt them", line: value.line))
            case "custom-kid-value-jws":
                notes.append(diag.warn(value.path, "the kid is the key's RFC 7638 thumbprint (or backend_jwt_key_id)", line: value.line))
            default:
                notes.append(diag.warn(value.path, "not a jwt-generate property this tool knows", line: value.line))
            }
        }
        guard let algorithm else { throw diag.error("\(body.path).jws-alg is missing", line: body.line) }
        policy.algorithm = algorithm
        policy.issuer = try claim("iss-claim", body["iss-claim"], default: "iss.claim").first
        policy.subject = try claim("sub-claim", body["sub-claim"], default: nil).first
        policy.audience = try claim("aud-claim", body["aud-claim"], default: nil)
        if let privateClaims = body["private-claims"] {
            notes.append(diag.warn(privateClaims.path, "claims from a JSON runtime variable; declare each with backend_jwt_claim", line: privateClaims.line))
        }
        policy.notes = []
        return (policy, notes, keySource)
    }

    /// An invoke's `target-url`: `$(property)` replaced, `$(request.path)` and
    /// `$(api.operation.path)` as the tail, `$(request.search)` dropped (nginx passes the query).
    static func targetURL(_ node: YNode, state: State, options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> Upstream {
        var url = try node.string()
        for _ in 0..<8 {
            var changed = false
            for (name, value) in state.properties.sorted(by: { $0.key < $1.key }) where url.contains("$(\(name))") {
                url = url.replacingAll("$(\(name))", with: value)
                changed = true
            }
            if !changed { break }
        }
        url = url.replacingAll("$(request.search)", with: "")
        var tail = Upstream.Tail.none
        if url.hasSuffix("$(request.path)") {
            tail = .requestPath
            url.removeLast("$(request.path)".count)
        } else if url.hasSuffix("$(api.operation.path)") {
            tail = .operationPath
            url.removeLast("$(api.operation.path)".count)
        }
        guard let upstream = Upstream.parse(url, tail: tail) else {
            if let origin = options.upstream, let parsed = Upstream.parse(origin, tail: .requestPath) {
                return parsed
            }
            throw diag.error("\(node.path): \"\(url)\" is not a URL this tool can follow (runtime variables other than properties, request.path and api.operation.path); give the backend with --upstream", line: node.line)
        }
        return upstream.replacingOrigin(options.upstream)
    }
}

extension Substring {
    func trimmingBlanks() -> String {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
