import Testing

@testable import BackendJWTMigrate

/// Bad input: a clear message with the file and the line, and no output.
@Suite("backend-jwt-migrate: bad input")
struct ErrorTests {
    static func error(_ text: String, file: String = "in.yaml", format: SourceFormat? = nil,
                      _ options: MigrationOptions = MigrationOptions()) -> MigrationError? {
        #expect(throws: MigrationError.self) {
            try Migrator.migrate(text: text, file: file, format: format, options: options)
        }
        do {
            _ = try Migrator.migrate(text: text, file: file, format: format, options: options)
            return nil
        } catch {
            return error
        }
    }

    static let apk = """
        basePath: /t
        version: v1
        endpointConfigurations:
          production:
            endpoint: http://b
        operations:
          - target: /a
            verb: GET
        apiPolicies:
          request:
            - policyName: BackendJwt
              parameters:
                customClaims:
                  - claim: n
                    value: "12x"
                    type: int

        """

    @Test func notYAML() {
        let error = Self.error("basePath: /t\noperations: [a, b\nfoo: {")
        #expect(error?.file == "in.yaml")
        #expect(error?.line == 3)
        #expect(error?.message.hasPrefix("not valid YAML") == true)
        #expect(error?.description.hasPrefix("in.yaml:3: error: not valid YAML") == true)
    }

    @Test func notAKnownFormat() {
        let error = Self.error("hello: world\n")
        #expect(error?.line == 1)
        #expect(error?.message.hasPrefix("not a format this tool reads") == true)
        #expect(Self.error("- a\n- b\n")?.message.hasPrefix("not a gateway configuration") == true)
        #expect(Self.error("")?.message == "the file is empty")
    }

    @Test func unknownKind() {
        let error = Self.error("apiVersion: v1\nkind: API\nmetadata: {name: a}\nspec: {basePath: /a, production: []}\n---\napiVersion: x/v1\nkind: Widget\nmetadata:\n  name: w\n")
        #expect(error?.line == 6)
        #expect(error?.message == "unknown kind \"Widget\" (w); expected API, APIPolicy, Authentication, Backend, BackendJWT, ConfigMap, HTTPRoute, Scope, Secret, TokenIssuer")
    }

    @Test func missingField() {
        let error = Self.error("basePath: /t\noperations:\n  - verb: GET\n")
        #expect(error?.line == 3)
        #expect(error?.message == "operations[0].target is missing")
        let reference = Self.error("apiVersion: v1\nkind: API\nmetadata: {name: a}\nspec:\n  basePath: /a\n  production:\n    - routeRefs: [nowhere]\n")
        #expect(reference?.line == 7)
        #expect(reference?.message == "API/a.spec.production[0].routeRefs[0]: no HTTPRoute named \"nowhere\" in the file")
    }

    @Test func aLiteralThatDoesNotFitItsType() {
        let error = Self.error(Self.apk, file: "api.apk-conf")
        #expect(error?.line == 15)
        #expect(error?.message == "apiPolicies.request[0].parameters.customClaims[0].value: \"12x\" is not a int, so every request would fail")
    }

    @Test func unknownClaimTypeAndAlgorithm() {
        let type = Self.error(Self.apk.replacingAll("type: int", with: "type: map"))
        #expect(type?.line == 16)
        #expect(type?.message.contains("unknown claim type \"map\"") == true)
        let algorithm = Self.error(Self.apk.replacingAll("customClaims:", with: "signingAlgorithm: SHA1withRSA\n        customClaims:"))
        #expect(algorithm?.message == "apiPolicies.request[0].parameters.signingAlgorithm: unknown signing algorithm \"SHA1withRSA\"")
    }

    @Test func methodsOfOnePathWithDifferentPolicies() {
        let text = """
            basePath: /t
            endpointConfigurations: {production: {endpoint: "http://b"}}
            operations:
              - {target: /a, verb: GET}
              - target: /a
                verb: POST
                operationPolicies:
                  request:
                    - {policyName: BackendJwt, parameters: {tokenTTL: 5}}

            """
        let error = Self.error(text)
        #expect(error?.line == 5)
        #expect(error?.message.contains("differ in backend JWT policy, endpoint, security or scopes by method") == true)
    }

    @Test func ibmWithoutAlgorithmOrBackend() {
        let base = """
            swagger: '2.0'
            basePath: /b
            paths:
              /a:
                get: {}
            x-ibm-configuration:
              assembly:
                execute:
                  - jwt-generate:
                      exp-claim: 60

            """
        #expect(Self.error(base)?.message == "assembly.execute[0].jwt-generate.jws-alg is missing")
        let noBackend = Self.error(base.replacingAll("exp-claim: 60", with: "jws-alg: RS256"))
        #expect(noBackend?.message == "GET /a: no invoke in the assembly, so no backend; give one with --upstream")
        #expect(noBackend?.line == 5)
    }

    @Test func toml() {
        let syntax = Self.error("[apim.jwt]\nenable = true\nheader = \n", file: "deployment.toml")
        #expect(syntax?.line == 3)
        #expect(syntax?.message.hasPrefix("not valid TOML") == true)
        #expect(Self.error("[server]\nhostname = \"x\"\n", file: "deployment.toml")?.message == "no [apim.jwt] table: nothing to convert")
        let type = Self.error("[server]\n\n[apim.jwt]\nenable = true\nencoding = 3\n", file: "deployment.toml")
        #expect(type?.line == 5)
        #expect(type?.message == "apim.jwt.encoding must be a string")
    }

    @Test func badOptions() {
        var options = MigrationOptions()
        options.upstream = "http://b:1/path"
        #expect(Self.error("basePath: /t\noperations: []\n", options)?.message.hasPrefix("--upstream must be scheme://host[:port]") == true)
        options.upstream = nil
        options.listen = "80;\nlisten 81"
        #expect(Self.error("basePath: /t\noperations: []\n", options)?.message == "--listen must be one line of text")
    }
}
