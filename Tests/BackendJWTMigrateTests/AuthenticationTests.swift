import Testing

@testable import BackendJWTMigrate

/// The caller's side: APK's authentication and scopes, IBM's jwt-validate, API Manager's issuers,
/// key paths. Every field left out is a warning with its line; nothing secured is left open.
@Suite("backend-jwt-migrate: authentication")
struct AuthenticationTests {
    static let idp = MigrationOptions.options {
        $0.jwksURL = "https://idp.example.com/certs"
        $0.issuers = ["https://idp.example.com"]
        $0.signingKey = "/k.pem"
    }

    static func apk(_ authentication: String, operations: String = "  - target: /a\n    verb: GET\n    scopes: [orders:read]\n",
                    _ options: MigrationOptions = idp) throws -> Migration {
        let text = """
            basePath: /t
            version: v1
            endpointConfigurations:
              production:
                endpoint: http://backend:8080
            \(authentication)
            operations:
            \(operations)
            """
        return try Migrator.migrate(text: text, file: "api.apk-conf", options: options)
    }

    /// The body of the location `name` (`location = /t/v1/a`), one trimmed line each.
    static func location(_ migration: Migration, _ name: String) throws -> [String] {
        let lines = MappingTests.lines(migration)
        let start = try #require(lines.firstIndex(of: name + " {"), "\(migration.output)")
        let end = try #require(lines[start...].firstIndex(of: "}"))
        return Array(lines[(start + 1)..<end])
    }

    @Test func oauth2IsVerifiedWithTheScopesOfEachOperation() throws {
        let migration = try Self.apk("", operations: """
              - target: /a
                verb: GET
                scopes: ["orders:read", "reports:read", "42", "true"]
              - target: /open
                secured: false
              - target: /token
                scopes: []
            """)
        #expect(migration.warnings.isEmpty, "\(migration.warnings)")
        let lines = MappingTests.lines(migration)
        for line in ["backend_jwt_verify on;", "backend_jwt_verify_jwks /_bjwt_jwks;", "backend_jwt_verify_issuer https://idp.example.com;",
                     "backend_jwt_verify_forward off;", "location = /_bjwt_jwks {", "internal;", "proxy_connect_timeout 2s;",
                     "proxy_read_timeout 3s;", "proxy_pass https://idp.example.com/certs;", "proxy_ssl_verify on;"] {
            #expect(lines.contains(line), "\(line)")
        }
        // any of the scopes (APK's rule); JSON-looking scopes are quoted so they stay strings
        #expect(try Self.location(migration, "location = /t/v1/a").contains(
            #"backend_jwt_verify_require_claim scope any orders:read reports:read "\"42\"" "\"true\"" error=403;"#))
        #expect(try Self.location(migration, "location = /t/v1/open") == ["# not secured in APK: no token asked for", "backend_jwt_verify off;", "proxy_pass http://backend:8080/open;"])
        #expect(MappingTests.lines(migration).contains("location = /t/v1/token { proxy_pass http://backend:8080/token; }"))
        #expect(try Self.location(migration, "location = /_bjwt_jwks").contains("backend_jwt_verify off;"))
        #expect(try Self.location(migration, "location /") == ["backend_jwt_verify off;", "return 404;"])
    }

    @Test func theTokenOfAHeaderOfItsOwnAndSentOn() throws {
        let migration = try Self.apk("""
            authentication:
              - authType: OAuth2
                sendTokenToUpstream: true
                headerName: X-Access-Token
            """)
        let lines = MappingTests.lines(migration)
        #expect(lines.contains("map $http_x_access_token $bjwt_token_x_access_token {"))
        #expect(lines.contains(#""~*^bearer[ ]+([^ ]+)$" $1;"#))
        #expect(lines.contains("backend_jwt_verify on token=$bjwt_token_x_access_token;"))
        #expect(!lines.contains { $0.hasPrefix("backend_jwt_verify_forward") || $0.hasPrefix("proxy_set_header") })
    }

    @Test func theBackendTokenCarriesTheCaller() throws {
        let migration = try Self.apk("""
            apiPolicies:
              request:
                - policyName: BackendJwt
                  parameters: {tokenTTL: 60}
            """)
        let lines = MappingTests.lines(migration)
        #expect(lines.contains("backend_jwt_subject $backend_jwt_in_claim_sub;"))
        #expect(lines.contains("backend_jwt_claim http://wso2.org/claims/enduser $backend_jwt_in_claim_sub;"))
    }

    @Test(arguments: [
        // API keys alone: refused
        ("authentication:\n  - {authType: OAuth2, enabled: false}\n  - {authType: APIKey, enabled: true}", "authentication[1].authType", true),
        // mTLS required: refused
        ("authentication:\n  - {authType: mTLS, enabled: true, required: mandatory}", "authentication[0].authType", true),
        // Basic beside OAuth2: OAuth2 verified, the Basic callers refused by that
        ("authentication:\n  - {authType: Basic, enabled: true}", "authentication[0].authType", false),
        // an unknown OAuth2 field
        ("authentication:\n  - {authType: OAuth2, tokenType: opaque}", "authentication[0].tokenType", false),
    ])
    func whatCannotBeConvertedIsRefusedWithAWarning(authentication: String, field: String, denied: Bool) throws {
        let migration = try Self.apk(authentication)
        #expect(migration.warnings.map(\.field) == [field])
        #expect(migration.warnings.allSatisfy { $0.line != nil && $0.file == "api.apk-conf" })
        let location = try Self.location(migration, "location = /t/v1/a")
        #expect(location.contains("deny all;") == denied, "\(location)")
        #expect(location.contains { $0.hasPrefix("backend_jwt_verify_require_claim") } == !denied)
    }

    @Test func disabledAuthenticationIsOpenAndSaysSo() throws {
        let migration = try Self.apk("authentication:\n  - {authType: OAuth2, enabled: false}")
        #expect(migration.warnings.isEmpty)
        #expect(!migration.output.contains("backend_jwt_verify"))
        #expect(migration.output.contains("APK's authentication is disabled for this API"))
    }

    @Test func withoutKeysAPlaceholderAndAWarning() throws {
        let migration = try Self.apk("", MigrationOptions.options { $0.signingKey = "/k.pem" })
        #expect(migration.warnings.map(\.field) == ["authentication"])
        #expect(MappingTests.lines(migration).contains("backend_jwt_verify_key /etc/nginx/jwt/idp-jwks.json;"))
    }

    @Test func aScopeThatCannotBeWrittenRefusesTheOperation() throws {
        let migration = try Self.apk("", operations: "  - target: /a\n    scopes: [\"$admin\"]\n")
        #expect(migration.warnings.map(\.field) == ["operations[0].scopes"])
        #expect(try Self.location(migration, "location = /t/v1/a").contains("deny all;"))
    }

    @Test func claimPaths() {
        #expect(Verification.claimPath("scp") == "scp")
        #expect(Verification.claimPath("https://example.com/scopes") == "\"https://example.com/scopes\"")
        #expect(Verification.claimPath("a\"b") == nil)
        // rendered for nginx: the quotes kept by escaping
        #expect(NginxText.quote("\"https://example.com/scopes\"") == #""\"https://example.com/scopes\"""#)
    }

    @Test func ibmPatterns() {
        #expect(IBM.anchoredLiteral("^https://idp\\.example\\.com$") == "https://idp.example.com")
        #expect(IBM.anchoredLiteral("^a.b$") == nil)
        #expect(IBM.anchoredLiteral("idp") == nil)
        #expect(IBM.anchoredLiteral("^\\d+$") == nil)
        #expect(IBM.anchoredLiteral("^$") == nil)
    }

    @Test func ibmJWKInTheAssemblyIsWrittenBesideTheOutput() throws {
        let text = """
            swagger: '2.0'
            info: {title: t, version: 1.0.0}
            basePath: /b
            paths:
              /a:
                get: {operationId: a}
            x-ibm-configuration:
              assembly:
                execute:
                  - set-variable:
                      actions:
                        - set: idp.jwk
                          value: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}'
                  - jwt-validate:
                      jws-jwk: idp.jwk
                      jwe-crypto: dp-key
                      iss-claim: 'idp\\.example'
                      unknown-thing: 1
                  - invoke:
                      target-url: http://backend:8080$(request.path)
            """
        var options = MigrationOptions()
        options.outputDirectory = "/srv/nginx"
        options.outputBase = "api"
        let migration = try Migrator.migrate(text: text, file: "api.yaml", options: options)
        #expect(migration.files == [WrittenFile(path: "/srv/nginx/api-jwk-1.json", contents: "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\",\"y\":\"y\"}\n")])
        let lines = MappingTests.lines(migration)
        #expect(lines.contains("backend_jwt_verify_key /srv/nginx/api-jwk-1.json;"))
        #expect(lines.contains("map $backend_jwt_in_claim_iss $bjwt_iss_matches_1 {"))
        #expect(lines.contains("~idp\\.example 1;"))
        #expect(lines.contains("backend_jwt_verify_require $bjwt_iss_matches_1 error=401;"))
        #expect(migration.warnings.map(\.field) == ["assembly.execute[1].jwt-validate.jwe-crypto", "assembly.execute[1].jwt-validate.unknown-thing"])
        #expect(!migration.output.contains("resolved by nginx against its prefix"))
    }

    @Test func relativeKeyPathsAreSaid() throws {
        let migration = try Self.apk("", MigrationOptions.options { $0.signingKey = "k.pem"; $0.verifyKey = "idp.json" })
        #expect(migration.output.contains("# Relative file names are resolved by nginx against its prefix"))
        #expect(MappingTests.lines(migration).contains("backend_jwt_verify_key idp.json;"))
    }

    @Test func apiManagerIssuersAndOAuthSettings() throws {
        let toml = """
            [apim.jwt]
            enable = true

            [apim.oauth_config]
            enable_outbound_auth_header = true
            auth_header = "X-Token"
            white_listed_scopes = ["^device_.*"]

            [[apim.jwt.issuer]]
            name = "https://a.example"
            [apim.jwt.issuer.jwks]
            url = "https://a.example/jwks"

            [[apim.jwt.issuer]]
            name = "https://b.example"
            certificate = "b"
            [apim.jwt.issuer.jwks]
            url = "https://b.example/jwks"
            """
        var options = MigrationOptions.options { $0.signingKey = "/k.pem" }
        options.outputDirectory = "/etc/nginx"
        options.outputBase = "apim"
        let migration = try Migrator.migrate(text: toml, file: "deployment.toml", options: options)
        #expect(migration.warnings.map(\.field) == ["apim.oauth_config.white_listed_scopes", "apim.jwt.issuer[1].certificate", "apim.jwt.issuer[1].jwks"])
        #expect(migration.warnings.map(\.line) == [7, 16, 18])
        let lines = MappingTests.lines(migration)
        #expect(lines.contains("map $http_x_token $bjwt_token_x_token {"))
        #expect(lines.contains { $0.hasSuffix("include /etc/nginx/apim-verify.conf;") })
        #expect(lines.contains("backend_jwt_subject $backend_jwt_in_claim_sub;"))
        #expect(lines.contains { $0.hasPrefix("backend_jwt_wso2_claims ") && $0.hasSuffix(" enduser=$backend_jwt_in_claim_sub;") })
        #expect(!lines.contains { $0.hasPrefix("backend_jwt_verify") })
        #expect(migration.files.map(\.path) == ["/etc/nginx/apim-verify.conf"])
        let snippet = migration.files[0].contents.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(snippet.contains("backend_jwt_verify on token=$bjwt_token_x_token;"))
        #expect(snippet.contains("backend_jwt_verify_issuer https://a.example https://b.example;"))
        #expect(snippet.contains("location = /_bjwt_jwks {"))
        #expect(migration.files[0].contents.contains("proxy_pass https://a.example/jwks;"))
    }

    @Test func resourcesThatOnlyTakeAPIKeysAreRefused() throws {
        let text = """
            apiVersion: dp.wso2.com/v1alpha2
            kind: API
            metadata: {name: a}
            spec:
              basePath: /a
              production:
                - routeRefs: [r]
            ---
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              rules:
                - matches:
                    - path: {type: Exact, value: /x}
                  backendRefs:
                    - {name: b}
            ---
            apiVersion: dp.wso2.com/v1alpha2
            kind: Backend
            metadata: {name: b}
            spec:
              services:
                - {host: backend, port: 8080}
            ---
            apiVersion: dp.wso2.com/v1alpha2
            kind: Authentication
            metadata: {name: keys-only}
            spec:
              override:
                rateLimited: true
                authTypes:
                  oauth2: {disabled: true}
                  apiKey:
                    - {in: Header, name: apikey}
              targetRef: {kind: API, name: a}
            """
        let migration = try Migrator.migrate(text: text, file: "crs.yaml", options: Self.idp)
        #expect(migration.warnings.map(\.field) == ["Authentication/keys-only.spec.override.rateLimited", "Authentication/keys-only.spec.override.authTypes.apiKey"])
        #expect(migration.warnings.map(\.line) == [31, 35])
        #expect(try Self.location(migration, "location = /a/x").contains("deny all;"))
        #expect(!migration.output.contains("backend_jwt_verify on"))
    }

    @Test func otherAPKConfFieldsAreWarnings() throws {
        let migration = try Self.apk("corsConfiguration:\n  corsConfigurationEnabled: true",
                                     operations: "  - target: /a\n    verb: GET\n    operationRateLimit: {requestsPerUnit: 5, unit: Minute}\n")
        #expect(migration.warnings.map(\.field) == ["corsConfiguration", "operations[0].operationRateLimit"])
        #expect(migration.warnings.allSatisfy { $0.line != nil })
    }
}
