import Foundation

/// How a location matches: `location = path`, `location path` or `location ~ regex`.
enum PathMatch: Equatable {
    case exact(String)
    case prefix(String)
    case regex(String)

    var arguments: [String] {
        switch self {
        case .exact(let path): return ["=", path]
        case .prefix(let path): return [path]
        case .regex(let pattern): return ["~", pattern]
        }
    }
}

/// Where requests go, and which path the gateway sends there.
struct Upstream: Equatable {
    enum Tail: Equatable {
        /// APK: the endpoint's path, then the operation's path (the API's context taken off).
        case operationPath
        /// IBM `$(request.path)`: the endpoint's path, then the whole path as received.
        case requestPath
        /// A fixed URL: the endpoint's path alone.
        case none
        /// Gateway API's ReplacePrefixMatch: the endpoint's path, `with`, then what follows
        /// `matched` (the whole matched prefix, context included).
        case replacePrefix(matched: String, with: String)
    }

    /// `scheme://host[:port]`
    var origin: String
    /// The endpoint's path, without a trailing `/` ("" for none).
    var path: String
    var tail: Tail

    var isHTTPS: Bool { origin.lowercased().hasPrefix("https://") }

    /// Splits `url` (`http[s]://host[:port][/path]`); nil when it is not such a URL.
    static func parse(_ url: String, tail: Tail) -> Upstream? {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
        let schemeEnd = url.range(of: "://")!.upperBound
        let rest = url[schemeEnd...]
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains(where: { $0 == " " || $0 == "$" }) else { return nil }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard slash > rest.startIndex else { return nil }
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        return Upstream(origin: String(url[..<slash]), path: path, tail: tail)
    }

    /// This upstream with the origin of `--upstream` instead of its own.
    func replacingOrigin(_ origin: String?) -> Upstream {
        guard let origin else { return self }
        return Upstream(origin: origin, path: path, tail: tail)
    }
}

/// One operation (or several with the same path) of an API, as an nginx location.
struct Route {
    var match: PathMatch
    /// The API's context (`/backend_jwt/1.0.0`), "" for none.
    var context: String
    /// The operation's own path: the whole target of an exact match, the part before `*` of a
    /// prefix; unused for a regex.
    var operationPath: String
    /// Upper-case methods; empty for any.
    var methods: [String]
    var upstream: Upstream
    /// The operation's own policy, if it has one.
    var policy: Policy?
    /// Comments about the operations (`GET /test`), and warnings.
    var notes: [Item]
    var line: Int?
    /// Whether the source checks the caller here, and the scopes it requires.
    var secured = true
    var scopes: [String] = []
    /// The operation's own authentication, where it has one (an `Authentication` resource).
    var access: Access?
    /// Where `scopes` and `secured` come from, for warnings.
    var accessField = ""

    /// An APK or IBM target (`/employee/{id}`, `/orders/*`) under `context`.
    static func match(target: String, context: String) -> (PathMatch, String) {
        let hasParameter = target.contains("{")
        let star = target.firstIndex(of: "*")
        if !hasParameter && star == nil { return (.exact(context + target), target) }
        if !hasParameter, let star, star == target.index(before: target.endIndex) {
            let prefix = String(target[..<star])
            return (.prefix(context + (prefix.isEmpty ? "/" : prefix)), prefix.isEmpty ? "/" : prefix)
        }
        var pattern = "^" + NginxText.regexLiteral(context)
        var rest = target[...]
        while let c = rest.first {
            if c == "{", let close = rest.firstIndex(of: "}") {
                pattern += "[^/]+"
                rest = rest[rest.index(after: close)...]
            } else if c == "*" {
                pattern += ".*"
                rest = rest.dropFirst()
            } else {
                pattern += NginxText.regexLiteral(String(c))
                rest = rest.dropFirst()
            }
        }
        return (.regex(pattern + "$"), target)
    }

    /// `proxy_pass` (and the `rewrite` a regex location needs) for this route.
    func proxyItems() -> [Item] {
        let u = upstream
        switch match {
        case .exact(let full):
            var uri = u.path
            switch u.tail {
            case .operationPath: uri += operationPath
            case .requestPath: uri += full
            case .none: break
            case .replacePrefix(_, let with): uri += with
            }
            return [.directive("proxy_pass", [u.origin + (uri.isEmpty ? "/" : uri)])]
        case .prefix(let full):
            switch u.tail {
            case .operationPath: return [.directive("proxy_pass", [u.origin + u.path + operationPath])]
            case .requestPath: return [.directive("proxy_pass", [u.origin + (u.path.isEmpty ? "" : u.path + full)])]
            case .none: return [.directive("rewrite", ["^", u.path.isEmpty ? "/" : u.path, "break"]), .directive("proxy_pass", [u.origin])]
            case .replacePrefix(let matched, let with): return Self.replacing(matched, with: u.path + with, origin: u.origin)
            }
        case .regex:
            switch u.tail {
            case .operationPath:
                if context.isEmpty && u.path.isEmpty { return [.directive("proxy_pass", [u.origin])] }
                return [.directive("rewrite", ["^" + NginxText.regexLiteral(context) + "(/.*)$", u.path + "$1", "break"]),
                        .directive("proxy_pass", [u.origin])]
            case .requestPath:
                if u.path.isEmpty { return [.directive("proxy_pass", [u.origin])] }
                return [.directive("rewrite", ["^(.*)$", u.path + "$1", "break"]), .directive("proxy_pass", [u.origin])]
            case .none:
                return [.directive("rewrite", ["^", u.path.isEmpty ? "/" : u.path, "break"]), .directive("proxy_pass", [u.origin])]
            case .replacePrefix(let matched, let with):
                return Self.replacing(matched, with: u.path + with, origin: u.origin)
            }
        }
    }

    /// A rewrite of the prefix `matched` to `replacement`, the rest kept.
    static func replacing(_ matched: String, with replacement: String, origin: String) -> [Item] {
        var prefix = matched
        while prefix.hasSuffix("/") { prefix.removeLast() }
        var target = replacement
        while target.hasSuffix("/") { target.removeLast() }
        return [.directive("rewrite", ["^" + NginxText.regexLiteral(prefix) + "(/.*)?$", target + "$1", "break"]),
                .directive("proxy_pass", [origin])]
    }

    /// Operations with one path become one location: their methods joined. Two operations of
    /// one path with different policies or backends cannot be told apart by nginx's location.
    static func merge(_ routes: [Route], diag: Diagnostics) throws(MigrationError) -> [Route] {
        var out: [Route] = []
        for route in routes {
            if let index = out.firstIndex(where: { $0.match == route.match }) {
                guard out[index].policy == route.policy, out[index].upstream == route.upstream, out[index].secured == route.secured,
                      out[index].scopes == route.scopes, out[index].access == route.access else {
                    throw diag.error(
                        "operations on \(route.operationPath) differ in backend JWT policy, endpoint, security or scopes by method; nginx chooses a location by path, so they cannot be converted apart",
                        line: route.line)
                }
                if out[index].methods.isEmpty || route.methods.isEmpty {
                    out[index].methods = []
                } else {
                    for m in route.methods where !out[index].methods.contains(m) { out[index].methods.append(m) }
                }
                out[index].notes += route.notes
            } else {
                out.append(route)
            }
        }
        return out
    }
}

/// A `server` block: the API's settings, its locations, and a 404 for the rest.
struct ServerPlan {
    var comments: [Item] = []
    var settings: [Item] = []
    var routes: [Route] = []
    /// Builds each route's own policy lines (key handling is the source's).
    var locationSettings: (Route) -> [Item] = { _ in [] }
    /// What goes before the server at http level (`map`s).
    var before: [Item] = []
    /// Locations after the routes' (the JWK Set's).
    var locations: [Item] = []
    /// Whether the server verifies callers: the 404 location does not (as the gateway, which
    /// finds no operation before it asks for a token).
    var verifies = false

    func items(options: MigrationOptions) -> [Item] {
        var body: [Item] = []
        if let listen = options.listen { body.append(.directive("listen", [listen])) }
        if let name = options.serverName { body.append(.directive("server_name", [name])) }
        if options.listen == nil && options.serverName == nil {
            body.append(.comment("listen, server_name and TLS: add yours (or use --listen and --server-name)"))
        }
        body += comments
        if !settings.isEmpty { body.append(.blank) }
        body += settings
        if routes.contains(where: { $0.upstream.isHTTPS }) {
            body.append(.blank)
            body.append(.directive("proxy_ssl_server_name", ["on"]))
        }
        for route in routes {
            body.append(.blank)
            body += route.notes
            var location: [Item] = []
            if !route.methods.isEmpty {
                location.append(.block("limit_except", route.methods, [.directive("deny", ["all"])]))
            }
            location += locationSettings(route)
            location += route.proxyItems()
            body.append(.block("location", route.match.arguments, location))
        }
        if !locations.isEmpty {
            body.append(.blank)
            body += locations
        }
        if !routes.contains(where: { $0.match == .prefix("/") }) {
            body.append(.blank)
            body.append(.comment("what matches no operation: 404, as the gateway answers"))
            body.append(.block("location", ["/"], (verifies ? [.directive("backend_jwt_verify", ["off"])] : []) + [.directive("return", ["404"])]))
        }
        return before + (before.isEmpty ? [] : [.blank]) + [.block("server", [], body)]
    }
}
