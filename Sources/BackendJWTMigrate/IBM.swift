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
        /// An operation's jwt-validate, and its comments.
        var validations: [Int: (access: Access, notes: [Item])] = [:]
        /// The runtime variable an operation's jwt-validate put the caller's claims in.
        var claimPrefixes: [Int: String] = [:]
        /// `map`s for IBM's claim patterns, before the server.
        var maps: [Item] = []
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
            var notes: [Item] = [.comment("\(operation.verb) \(operation.path)\(operation.id.map { " (\($0))" } ?? "")")]
            var route = Route(match: match, context: context, operationPath: operationPath, methods: [operation.verb],
                              upstream: upstream, policy: shared == nil ? state.policies[index] : nil, notes: notes, line: operation.line)
            if let validation = state.validations[index] {
                notes += validation.notes
                route.notes = notes
                route.access = validation.access
                if case .verify(let v) = validation.access { plan.before += v.httpItems().filter { !plan.before.contains($0) } }
            }
            routes.append(route)
        }
        plan.routes = try Route.merge(routes, diag: diag)
        plan.before = state.maps + plan.before
        for (access, _) in state.validations.values {
            if case .verify(let v) = access, v.jwksURL != nil { plan.locations = v.serverItems() }
        }
        plan.locationSettings = { route in
            var guarding: [Item] = []
            switch route.access {
            case .verify(let v)?: guarding = v.items()
            case .refuse(let reason)?: guarding = Identity.refused(reason)
            default: break
            }
            guard let policy = route.policy,
                  let index = state.operations.indices.first(where: { state.policies[$0] == policy }),
                  let source = state.keySources[index] else { return guarding }
            return guarding + state.policyNotes[index, default: []] + policy.items(key: source.items(policy.keyKind, options: options, diag: diag))
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
                    // the claims of a jwt-validate before it, when every operation here has one
                    let prefixes = Set(operations.map { state.claimPrefixes[$0] })
                    let claims = prefixes.count == 1 ? prefixes.first! : nil
                    let (policy, notes, source) = try jwtGenerate(body, state: state, claims: claims, diag: diag)
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
                    let (access, notes, prefix) = try jwtValidate(body, state: state, options: options, diag: diag)
                    for index in operations.sorted() {
                        if state.validations[index] != nil {
                            state.notes.append(diag.warn(body.path, "a second jwt-validate for \(state.operations[index].verb) \(state.operations[index].path); the last one is used", line: body.line))
                        }
                        state.validations[index] = (access, notes)
                        state.claimPrefixes[index] = prefix
                    }
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
    static func variable(_ name: String, state: State, claims: String? = nil) -> String? {
        // a claim of the token a jwt-validate verified: decoded.claims.sub
        if let claims, name.hasPrefix(claims + ".") {
            let claim = name.dropFirst(claims.count + 1)
            guard !claim.isEmpty, claim.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            return "$backend_jwt_in_claim_" + claim
        }
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

    static func jwtGenerate(_ body: YNode, state: State, claims: String?, diag: Diagnostics) throws(MigrationError) -> (Policy, [Item], KeySource) {
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
                if let value = variable(name, state: state, claims: claims) {
                    out.append(value)
                } else {
                    notes.append(diag.warn(node?.path ?? body.child(key), "runtime variable \(name) has no nginx counterpart (request.headers.X, a set-variable of them, or a claim of a jwt-validate before it); left out", line: node?.line ?? body.line))
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

    /// Runtime variables' first names (IBM's contexts), to tell a variable from a pattern.
    static let contexts = ["request.", "message.", "decoded.", "api.", "client.", "system.", "session.", "context."]

    /// A `jwt-validate`: the token (`jwt`, `request.headers.authorization` by default), its key
    /// (`jws-jwk`, a JWK written beside the output, or `jws-crypto`, which `--verify-key` gives),
    /// `iss-claim` and `aud-claim` (IBM's PCRE patterns: a `map` and `backend_jwt_verify_require`,
    /// or the exact directive for `^literal$`), and `output-claims`, the runtime variable whose
    /// claims a later jwt-generate may read (`decoded.claims.sub` is `$backend_jwt_in_claim_sub`).
    /// A failed validation is 401, as IBM's.
    static func jwtValidate(_ body: YNode, state: State, options: MigrationOptions,
                            diag: Diagnostics) throws(MigrationError) -> (Access, [Item], String) {
        var v = Verification()
        v.forward = true  // IBM's invoke passes the caller's Authorization on
        var notes: [Item] = [.comment("jwt-validate at \(body.path): the caller's token, 401 when it does not verify")]
        var prefix = "decoded.claims"
        var refusal: String?
        var keyGiven = false
        func isVariable(_ text: String) -> Bool {
            state.variables[text] != nil || contexts.contains(where: { text.lowercased().hasPrefix($0) })
                && text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        }
        func key(_ node: YNode, _ why: String) -> [String] {
            if let key = options.verifyKey { return [key] }
            if let url = options.jwksURL {
                v.jwksURL = url
                return []
            }
            notes.append(diag.warn(node.path, "\(why); give its certificate or public key with --verify-key (or its JWK Set with --jwks-url)", line: node.line))
            return [Verification.placeholderKey]
        }
        for (name, value) in try body.pairs() {
            switch name {
            case "title", "description", "version":
                break
            case "jwt":
                let variable = try value.string()
                let lower = variable.lowercased()
                if variable.isEmpty || lower == "request.headers.authorization" { break }
                let header = String(variable.dropFirst("request.headers.".count))
                if lower.hasPrefix("request.headers."), Verification.isHeaderName(header) {
                    v.header = header
                } else {
                    refusal = "its token comes from the runtime variable \(variable)"
                    notes.append(diag.warn(value.path, "the token is read from the runtime variable \(variable), which nginx does not have: the operation is refused (deny all)", line: value.line))
                }
            case "output-claims":
                prefix = try value.string()
            case "iss-claim", "aud-claim":
                let pattern = try value.string()
                let claim = name == "iss-claim" ? "iss" : "aud"
                if pattern.isEmpty { break }
                if isVariable(pattern) {
                    notes.append(diag.warn(value.path, "the pattern comes from the runtime variable \(pattern), which the caller may set: \(claim) is not checked\(claim == "iss" ? "; give the issuer with --issuer" : "")", line: value.line))
                } else if let literal = anchoredLiteral(pattern) {
                    if claim == "iss" { v.issuers = [literal] } else { v.audiences = [literal] }
                } else {
                    let variable = "$bjwt_\(claim)_matches_\(state.maps.count / 2 + 1)"
                    state.maps += [
                        .comment("\(value.path): IBM's pattern\(claim == "aud" ? " (an aud array is matched as its JSON text, [\"a\",\"b\"])" : "")"),
                        .block("map", ["$backend_jwt_in_claim_" + claim, variable], [
                            .directive(NginxText.quote("~" + pattern), ["1"]), .directive("default", ["0"]),
                        ]),
                    ]
                    v.requirements.append(.directive("backend_jwt_verify_require", [variable, "error=401"]))
                }
            case "jws-crypto":
                keyGiven = true
                v.keyFiles = key(value, "the crypto object \(try value.string()) lives in DataPower, not in a file nginx reads")
            case "jws-jwk":
                keyGiven = true
                let given = try value.string()
                let json = given.hasPrefix("{") ? given : state.variables[given] ?? state.properties[given]
                if let json, json.hasPrefix("{") {
                    v.keyFiles = [diag.write("jwk-\(state.validations.count + 1).json", json + "\n", options: options)]
                } else {
                    v.keyFiles = key(value, "the JWK comes from the runtime variable \(given), set outside this assembly")
                }
            case "jwe-crypto", "jwe-jwk":
                notes.append(diag.warn(value.path, "JWE: the module verifies signed tokens (JWS) only, so encrypted ones are refused", line: value.line))
            default:
                notes.append(diag.warn(value.path, "not a jwt-validate property this tool knows; left out", line: value.line))
            }
        }
        if !keyGiven { v.keyFiles = key(body, "the policy names no key (jws-jwk or jws-crypto)") }
        if !options.issuers.isEmpty { v.issuers = options.issuers }
        if let refusal { return (.refuse(refusal), notes, prefix) }
        return (.verify(v), notes, prefix)
    }

    /// The text `^literal$` matches exactly, if that is all the pattern says.
    static func anchoredLiteral(_ pattern: String) -> String? {
        guard pattern.hasPrefix("^"), pattern.hasSuffix("$"), pattern.count >= 2 else { return nil }
        var out = ""
        var escaped = false
        for c in pattern.dropFirst().dropLast() {
            if escaped {
                guard !c.isLetter, !c.isNumber else { return nil }  // \d, \w, \1...
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if "^$.|?*+()[]{}".contains(c) {
                return nil
            } else {
                out.append(c)
            }
        }
        return escaped || out.isEmpty ? nil : out
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
