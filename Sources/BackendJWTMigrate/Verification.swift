/// How a source checks the caller's token, in the module's terms (`backend_jwt_verify_*`).
struct Verification: Equatable {
    /// `backend_jwt_verify_issuer`: `iss` equals one of these; empty: not checked.
    var issuers: [String] = []
    /// `backend_jwt_verify_audience`.
    var audiences: [String] = []
    /// The identity provider's JWK Set, fetched through the internal location `jwksURI`.
    var jwksURL: String?
    /// `backend_jwt_verify_key` files (absolute, or relative to nginx's prefix).
    var keyFiles: [String] = []
    /// The request header holding the token; nil: `Authorization: Bearer`.
    var header: String?
    /// `backend_jwt_verify_forward`: the caller's `Authorization` goes upstream too.
    var forward = false
    /// The claim with the caller's scopes (APK's `scopesClaim`).
    var scopesClaim = "scope"
    /// Further checks (`backend_jwt_verify_require` on a `map` of IBM's patterns).
    var requirements: [Item] = []
    /// Comments that go before the directives.
    var notes: [Item] = []

    /// The internal location that fetches the JWK Set.
    static let jwksURI = "/_bjwt_jwks"
    /// Where the key file goes when the source names none and no option gives one.
    static let placeholderKey = "/etc/nginx/jwt/idp-jwks.json"

    /// The `backend_jwt_verify` lines of a level.
    func items() -> [Item] {
        var out = notes
        var verify = ["on"]
        if let header { verify.append("token=" + Self.tokenVariable(header)) }
        out.append(.directive("backend_jwt_verify", verify))
        for file in keyFiles { out.append(.directive("backend_jwt_verify_key", [file])) }
        if jwksURL != nil { out.append(.directive("backend_jwt_verify_jwks", [Self.jwksURI])) }
        if !issuers.isEmpty { out.append(.directive("backend_jwt_verify_issuer", issuers)) }
        if !audiences.isEmpty { out.append(.directive("backend_jwt_verify_audience", audiences)) }
        if let header {
            // token= takes the token from a variable, so the module leaves the header alone
            if !forward { out.append(.directive("proxy_set_header", [header, ""])) }
        } else {
            out.append(.directive("backend_jwt_verify_forward", [forward ? "on" : "off"]))
        }
        out += requirements
        return out
    }

    /// What goes beside the server: the `map` that takes the token out of a header of its own
    /// (with or without `Bearer `, as APK and IBM accept it).
    func httpItems() -> [Item] {
        guard let header else { return [] }
        let source = "$http_" + Self.variableName(header)
        return [.block("map", [source, Self.tokenVariable(header)], [
            .directive("\"~*^bearer[ ]+([^ ]+)$\"", ["$1"]),
            .directive("default", [source]),
        ])]
    }

    /// What goes in the server: the internal location that fetches the JWK Set, with the
    /// timeouts of the README's recipe (a provider that does not answer fails the fetch in
    /// seconds, not nginx's default minute).
    func serverItems() -> [Item] {
        guard let url = jwksURL else { return [] }
        var body: [Item] = [
            .directive("internal", []),
            .directive("backend_jwt_verify", ["off"]),
            .directive("proxy_connect_timeout", ["2s"]),
            .directive("proxy_read_timeout", ["3s"]),
            .directive("subrequest_output_buffer_size", ["64k"]),
            .directive("proxy_ignore_client_abort", ["on"]),
            .directive("proxy_pass", [url]),
        ]
        if url.lowercased().hasPrefix("https://") {
            body += [.directive("proxy_ssl_server_name", ["on"]), .directive("proxy_ssl_verify", ["on"]),
                     .directive("proxy_ssl_trusted_certificate", ["/etc/ssl/certs/ca-certificates.crt"])]
        }
        return [.comment("the identity provider's keys, fetched by the module (never by a client: internal)"),
                .block("location", ["=", Self.jwksURI], body)]
    }

    static func variableName(_ header: String) -> String {
        header.lowercased().replacingAll("-", with: "_")
    }

    static func tokenVariable(_ header: String) -> String { "$bjwt_token_" + variableName(header) }

    /// Whether `name` can be a header nginx gives as `$http_name`.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// `backend_jwt_verify_require_claim` on the scopes claim; nil when a scope cannot be
    /// written as a value (it would read as a variable or an option).
    ///
    /// APK's rule: a token with any one of the operation's scopes passes. The Java enforcer that
    /// checked REST operations, `gateway/enforcer/org.wso2.apk.enforcer/src/main/java/org/wso2/apk/
    /// enforcer/security/KeyValidator.java` (`validateScopes`, wso2/apk before commit 8b0b67c0a
    /// removed it), breaks out at the first scope of the resource the token holds (exact, case
    /// sensitive) and refuses with 403 otherwise; the scopes claim is split at spaces when it is
    /// a string (`gateway/enforcer/internal/transformer/jwtTransformer.go`). (Its Go successor
    /// checks scopes only for GraphQL, in `gateway/enforcer/internal/mediation/graphql.go`.)
    func scopeRequirement(_ scopes: [String]) -> Item? {
        guard !scopes.isEmpty, let path = Self.claimPath(scopesClaim) else { return nil }
        var values: [String] = []
        for scope in scopes {
            guard !scope.isEmpty, !scope.contains("$"), !scope.hasPrefix("error="),
                  !scope.contains(where: { $0.isNewline || $0 == "\"" || $0 == "\\" }) else { return nil }
            values.append(Self.readsAsJSON(scope) ? "\"" + scope + "\"" : scope)
        }
        return .directive("backend_jwt_verify_require_claim", [path, "any"] + values + ["error=403"])
    }

    /// A claim name as a `backend_jwt_verify_require_claim` path: one segment, in double quotes
    /// when it holds a dot or a slash (a URI claim); nil when it cannot be written.
    static func claimPath(_ name: String) -> String? {
        guard !name.isEmpty, !name.contains(where: { $0 == "\"" || $0 == "$" || $0.isNewline }) else { return nil }
        return name.contains(where: { $0 == "." || $0 == "/" }) ? "\"" + name + "\"" : name
    }

    /// Whether the module would read `value` as a JSON scalar rather than a string.
    static func readsAsJSON(_ value: String) -> Bool {
        ["true", "false", "null"].contains(value) || Double(value) != nil
    }
}

/// What a secured operation gets.
enum Access: Equatable {
    /// The caller's token is verified.
    case verify(Verification)
    /// The source's authentication cannot be converted: the operation is refused.
    case refuse(String)
    /// The source checks no caller (its authentication disabled).
    case open
}

/// The caller's identity in the token the gateway mints: `sub` and WSO2's end-user claim from
/// the verified token, as APK's Java enforcer (which copied the token's claims with `sub`) and
/// API Manager (`http://wso2.org/claims/enduser` from the authenticated user) send it.
enum Identity {
    static let subject = "$backend_jwt_in_claim_sub"
    static let endUser = "http://wso2.org/claims/enduser"

    static func add(to policy: inout Policy) {
        if policy.subject == nil { policy.subject = subject }
        if policy.wso2Claims == nil, !policy.claims.contains(where: { $0.name == endUser }) {
            policy.claims.append(Claim(name: endUser, value: subject, type: "string"))
        }
    }

    /// The lines of a location whose operation the source refuses.
    static func refused(_ reason: String) -> [Item] {
        [.comment("refused: \(reason)"), .directive("deny", ["all"])]
    }
}

/// A file the conversion writes beside its output (a key the source holds inline).
public struct WrittenFile: Equatable, Sendable {
    /// As the output names it: absolute when the output's folder is known.
    public let path: String
    public let contents: String
}
