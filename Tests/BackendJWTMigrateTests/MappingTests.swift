import Testing

@testable import BackendJWTMigrate

/// How single fields map, on small inline documents.
@Suite("backend-jwt-migrate: field mapping")
struct MappingTests {
    static func conf(policy: String = "", operations: String = "  - target: /a\n    verb: GET\n") -> String {
        """
        name: t
        basePath: /t
        version: v1
        endpointConfigurations:
          production:
            endpoint: http://backend:8080/base
        operations:
        \(operations)apiPolicies:
          request:
            - policyName: BackendJwt
              parameters:
        \(policy.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n"))

        """
    }

    /// Converts `text`; an apk-conf's callers are verified with a key file unless `options` say
    /// otherwise (AuthenticationTests has the rest).
    static func convert(_ text: String, file: String = "api.apk-conf", _ options: MigrationOptions = MigrationOptions()) throws -> Migration {
        var options = options
        if options.jwksURL == nil && options.verifyKey == nil { options.verifyKey = "/etc/nginx/jwt/idp.jwks" }
        return try Migrator.migrate(text: text, file: file, options: options)
    }

    static func lines(_ migration: Migration) -> [String] {
        migration.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test(arguments: [
        ("/a", "location = /t/v1/a {", "proxy_pass http://backend:8080/base/a;"),
        ("/a/*", "location /t/v1/a/ {", "proxy_pass http://backend:8080/base/a/;"),
        ("/*", "location /t/v1/ {", "proxy_pass http://backend:8080/base/;"),
        ("/a/{id}", "location ~ ^/t/v1/a/[^/]+$ {", "rewrite ^/t/v1(/.*)$ /base$1 break;"),
        ("/a/{id}/b.json", "location ~ ^/t/v1/a/[^/]+/b\\.json$ {", "rewrite ^/t/v1(/.*)$ /base$1 break;"),
        ("/a/*/c", "location ~ ^/t/v1/a/.*/c$ {", "rewrite ^/t/v1(/.*)$ /base$1 break;"),
    ])
    func targetsBecomeLocations(target: String, location: String, proxy: String) throws {
        let migration = try Self.convert(Self.conf(policy: "tokenTTL: 60", operations: "  - target: \"\(target)\"\n    verb: get\n"))
        let lines = Self.lines(migration)
        let start = try #require(lines.firstIndex(of: location), "\(migration.output)")
        #expect(lines[start + 1] == "limit_except GET { deny all; }")
        #expect(lines[start...].contains(proxy))
    }

    @Test func anyMethodHasNoLimitExcept() throws {
        let migration = try Self.convert(Self.conf(operations: "  - target: /a\n"))
        #expect(!migration.output.contains("limit_except"))
        #expect(migration.output.contains("# any method /a"))
    }

    @Test func everyClaimTypeAndTheRegisteredNames() throws {
        let policy = """
            customClaims:
              - {claim: s, value: x}
              - {claim: i, value: "-7", type: integer}
              - {claim: l, value: "9223372036854775807", type: long}
              - {claim: f, value: "2.5", type: double}
              - {claim: b, value: "0", type: boolean}
              - {claim: d, value: "2025-01-31T12:00:00+02:00", type: date}
              - {claim: iss, value: me}
              - {claim: aud, value: them}
              - {claim: exp, value: "5"}
              - {claim: "a.b\\\\c", value: nested}
            """
        let migration = try Self.convert(Self.conf(policy: policy))
        let lines = Self.lines(migration)
        for expected in [
            "backend_jwt_claim s x;", "backend_jwt_claim i -7 type=int;", "backend_jwt_claim l 9223372036854775807 type=long;",
            "backend_jwt_claim f 2.5 type=float;", "backend_jwt_claim b 0 type=bool;",
            "backend_jwt_claim d 2025-01-31T12:00:00+02:00 type=date;", "backend_jwt_issuer me;", "backend_jwt_audience them;",
            // nginx reads \\ as \ and leaves \. and \c: the module gets a\.b\\c, the flat name a.b\c
            #"backend_jwt_claim "a\.b\\\c" nested;"#,
        ] {
            #expect(lines.contains(expected), "\(expected) in\n\(migration.output)")
        }
        #expect(migration.warnings.map(\.field) == ["the gateway's key pair", "apiPolicies.request[0].parameters.customClaims[8].claim"])
        #expect(!migration.output.contains("claim exp"))
    }

    /// A custom claim a Go backend reads as a registered one (`Sub` is `sub` to its encoding/json)
    /// is left out with a warning: the module would refuse it, and it would replace the subject.
    @Test func namesAGoBackendFoldsOntoRegisteredOnesAreLeftOut() throws {
        let policy = """
            customClaims:
              - {claim: Sub, value: mallory}
              - {claim: "\\u017Fub", value: mallory}
              - {claim: EXP, value: "5"}
              - {claim: Subject, value: kept}
            """
        let migration = try Self.convert(Self.conf(policy: policy))
        let claims = Self.lines(migration).filter { $0.hasPrefix("backend_jwt_claim") && !$0.contains("://") }
        #expect(claims == ["backend_jwt_claim Subject kept;"], "\(migration.output)")
        let warnings = migration.warnings.filter { $0.field.hasSuffix(".claim") }
        #expect(warnings.map(\.field) == (0..<3).map { "apiPolicies.request[0].parameters.customClaims[\($0)].claim" })
        #expect(warnings.first?.message == "Sub is sub to a Go backend, which the module sets itself; left out")
    }

    @Test func encodingDefaultsToBase64urlWithAComment() throws {
        let migration = try Self.convert(Self.conf(policy: "tokenTTL: 60"))
        #expect(Self.lines(migration).contains("backend_jwt_encoding base64url;"))
        #expect(migration.output.contains("# encoding not set: APK's documented default is Base64"))
        #expect(Self.lines(migration).contains("backend_jwt_token_ttl 60;"))
    }

    @Test func theSigningKeyOptionSilencesTheKeyWarning() throws {
        let without = try Self.convert(Self.conf(policy: "tokenTTL: 60"))
        #expect(without.warnings.map(\.field) == ["the gateway's key pair"])
        #expect(Self.lines(without).contains("backend_jwt_signing_key /etc/nginx/jwt/signing.pem;"))
        var options = MigrationOptions()
        options.signingKey = "/keys/my key.pem"
        let with = try Self.convert(Self.conf(policy: "tokenTTL: 60"), options)
        #expect(with.warnings.isEmpty)
        #expect(Self.lines(with).contains(#"backend_jwt_signing_key "/keys/my key.pem";"#))
    }

    @Test func noneNeedsNoKey() throws {
        let migration = try Self.convert(Self.conf(policy: "signingAlgorithm: NONE"))
        #expect(migration.warnings.isEmpty)
        #expect(!migration.output.contains("backend_jwt_signing_key"))
    }

    @Test func hmacTakesTheSecretOption() throws {
        var options = MigrationOptions()
        options.signingSecret = "/keys/hmac"
        let migration = try Self.convert(Self.conf(policy: "signingAlgorithm: HmacSHA512"), options)
        #expect(Self.lines(migration).contains("backend_jwt_signing_secret /keys/hmac;"))
        #expect(migration.warnings.isEmpty)
    }

    @Test func aValueWithADollarIsLeftOutWithAWarning() throws {
        let migration = try Self.convert(Self.conf(policy: "customClaims:\n  - {claim: price, value: \"$5\"}"))
        #expect(migration.warnings.map(\.field).contains("apiPolicies.request[0].parameters.customClaims[0].value"))
        #expect(!migration.output.contains("backend_jwt_claim price"))
    }

    @Test func quoting() {
        #expect(NginxText.quote("plain") == "plain")
        #expect(NginxText.quote("") == "\"\"")
        #expect(NginxText.quote("a b") == "\"a b\"")
        #expect(NginxText.quote("a;b{c}") == "\"a;b{c}\"")
        #expect(NginxText.quote(#"say "hi""#) == #""say \"hi\"""#)
        #expect(NginxText.quote(#"^/a\.b$"#) == #"^/a\.b$"#)
        // nginx unescapes \\ (and \", \', \t, \r, \n) in every token: a\\b comes back as a\\b
        #expect(NginxText.quote(#"a\\b"#) == #""a\\\b""#)
        #expect(NginxText.quote("tab\there") == #""tab\there""#)
    }

    @Test func ibmRuntimeVariables() {
        let state = IBM.State()
        state.variables = ["iss.claim": "https://$(request.headers.X-Host)/id", "lit": "plain", "bad": "$(client.app.id)"]
        #expect(IBM.variable("request.headers.X-User-Id", state: state) == "$http_x_user_id")
        #expect(IBM.variable("message.headers.aud", state: state) == "$http_aud")
        #expect(IBM.variable("iss.claim", state: state) == "https://$http_x_host/id")
        #expect(IBM.variable("lit", state: state) == "plain")
        #expect(IBM.variable("bad", state: state) == nil)
        #expect(IBM.variable("client.app.name", state: state) == nil)
    }

    @Test func ibmWithoutAnOutputVariableSendsBearer() throws {
        let migration = try Fixtures.migrate("seed-ibm.yaml", .options { $0.upstream = "http://127.0.0.1:1" })
        let lines = Self.lines(migration)
        #expect(lines.contains(#"proxy_set_header Authorization "Bearer $backend_jwt";"#))
        #expect(lines.contains(#"proxy_set_header X-JWT-Assertion "";"#))
        #expect(lines.contains("backend_jwt_issuer $http_iss_claim;"))
        #expect(lines.contains("backend_jwt_audience $http_aud_claim;"))
        #expect(lines.contains("backend_jwt_token_ttl 60;"))
        #expect(lines.contains("backend_jwt_jti off;"))
        #expect(lines.contains("backend_jwt_signing_algorithm RS256;"))
    }

    @Test func apkSandboxEndpoints() throws {
        let migration = try Fixtures.migrate("large.apk-conf", .options { $0.sandbox = true })
        #expect(migration.output.contains("proxy_pass http://orders-sandbox.internal:8080/v2/orders;"))
        #expect(migration.output.contains("# endpointConfigurations.production: http://orders.internal:8080/v2/ is not used here"))
    }

    @Test func upstreamReplacesTheOriginOnly() throws {
        let migration = try Fixtures.migrate("seed.apk-conf", .options { $0.upstream = "http://127.0.0.1:9000" })
        #expect(migration.output.contains("proxy_pass http://127.0.0.1:9000/anything/test;"))
        #expect(!migration.output.contains("proxy_ssl_server_name"))
    }

    /// A top-level jwt-generate holds for every operation: the server's settings. Its issuer comes
    /// from a set-variable inside a case; invoke URLs are fixed or end in $(api.operation.path).
    @Test func ibmTopLevelPolicyAndInvokeForms() throws {
        let text = """
            swagger: '2.0'
            basePath: /shop
            paths:
              /items/{id}:
                get: {operationId: item}
              /cart:
                post: {operationId: cart}
            x-ibm-configuration:
              properties:
                backend: {value: "http://shop.internal:81/v1"}
              assembly:
                execute:
                  - jwt-generate:
                      iss-claim: my.iss
                      sub-claim: request.headers.X-User
                      jws-alg: ES256
                      jti-claim: true
                  - operation-switch:
                      case:
                        - operations: [item]
                          execute:
                            - set-variable:
                                actions: [{set: my.iss, value: "https://$(request.headers.host)"}]
                            - invoke: {target-url: "$(backend)$(api.operation.path)"}
                      otherwise:
                        - invoke: {target-url: "http://cart.internal/checkout"}

            """
        var options = MigrationOptions()
        options.signingKey = "/k/ec.pem"
        let migration = try Self.convert(text, file: "shop.yaml", options)
        #expect(migration.warnings.isEmpty)
        let lines = Self.lines(migration)
        let server = try #require(lines.firstIndex(of: "backend_jwt on;"))
        let firstLocation = try #require(lines.firstIndex(where: { $0.hasPrefix("location") }))
        #expect(server < firstLocation)
        #expect(lines.filter { $0 == "backend_jwt on;" }.count == 1)
        for expected in [
            "backend_jwt_issuer https://$http_host;", "backend_jwt_subject $http_x_user;", "backend_jwt_jti on;",
            "backend_jwt_signing_algorithm ES256;", "backend_jwt_signing_key /k/ec.pem;",
            "location ~ ^/shop/items/[^/]+$ {", "rewrite ^/shop(/.*)$ /v1$1 break;", "proxy_pass http://shop.internal:81;",
            "location = /shop/cart {", "limit_except POST { deny all; }", "proxy_pass http://cart.internal/checkout;",
        ] {
            #expect(lines.contains(expected), "\(expected) in\n\(migration.output)")
        }
    }
}
