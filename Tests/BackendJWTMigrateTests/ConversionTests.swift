import Foundation
import Testing

@testable import BackendJWTMigrate

/// Each seed's sample and a larger file per format, converted and compared with the nginx text
/// in `Fixtures/<file>.conf` (reviewed by hand; the harness runs them in nginx).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    static func migrate(_ name: String, _ options: MigrationOptions = MigrationOptions()) throws -> Migration {
        try Migrator.migrate(text: text(name), file: name, options: options)
    }
}

struct FixtureCase: CustomTestStringConvertible, Sendable {
    let file: String
    let format: SourceFormat
    let options: MigrationOptions
    /// The fields named by the warnings, in order.
    let warnings: [String]

    var testDescription: String { file }
}

extension MigrationOptions {
    static func options(_ set: (inout MigrationOptions) -> Void) -> MigrationOptions {
        var options = MigrationOptions()
        set(&options)
        return options
    }
}

@Suite("backend-jwt-migrate: the fixtures")
struct ConversionTests {
    /// The identity provider of the fixtures that name none (an apk-conf, resources without a
    /// TokenIssuer).
    static func idp(_ options: inout MigrationOptions) {
        options.jwksURL = "https://idp.example.com/realms/acme/protocol/openid-connect/certs"
        options.issuers = ["https://idp.example.com/realms/acme"]
    }

    static let cases: [FixtureCase] = [
        FixtureCase(file: "seed.apk-conf", format: .apkConf, options: .options { $0.signingKey = "/etc/nginx/jwt/apk.pem"; idp(&$0) }, warnings: []),
        FixtureCase(file: "large.apk-conf", format: .apkConf, options: MigrationOptions(),
                    warnings: ["authentication", "the gateway's key pair", "apiPolicies.request[0] (AddHeader)"]),
        FixtureCase(file: "secured.apk-conf", format: .apkConf, options: .options { $0.signingKey = "/etc/nginx/jwt/apk.pem"; idp(&$0) },
                    warnings: ["authentication[1].authType"]),
        FixtureCase(file: "seed-crs.yaml", format: .apkCRs, options: .options { $0.signingKey = "/etc/nginx/jwt/apk.pem"; idp(&$0) }, warnings: []),
        FixtureCase(file: "large-crs.yaml", format: .apkCRs,
                    options: .options { $0.signingKey = "/etc/nginx/jwt/ec.pem"; $0.listen = "8080"; $0.verifyKey = "/etc/nginx/jwt/idp.jwks" },
                    warnings: ["HTTPRoute/payments-route.spec.rules[2].filters[1] (RequestHeaderModifier)", "APIPolicy audit-operation-policy",
                               "RateLimitPolicy/payments-ratelimit"]),
        FixtureCase(file: "secured-crs.yaml", format: .apkCRs, options: .options { $0.signingKey = "/etc/nginx/jwt/ec.pem" },
                    warnings: ["TokenIssuer/acme-idp.spec.consumerKeyClaim", "TokenIssuer/acme-idp.spec.claimMappings"]),
        FixtureCase(file: "seed-ibm.yaml", format: .ibm, options: .options { $0.upstream = "http://127.0.0.1:8080" },
                    warnings: ["assembly.execute[0].operation-switch.case[0].execute[0].jwt-generate.jws-crypto"]
                        + ["iss-claim", "aud-claim", "jws-crypto"].map { "assembly.execute[0].operation-switch.case[1].execute[0].jwt-validate." + $0 }),
        FixtureCase(file: "large-ibm.yaml", format: .ibm, options: .options { $0.signingSecret = "/etc/nginx/jwt/hmac.secret" },
                    warnings: ["jwt", "aud-claim", "jwe-enc", "jwe-alg", "jwe-crypto", "private-claims", "custom-kid-value-jws"]
                        .map { "assembly.execute[1].operation-switch.case[0].execute[0].jwt-generate." + $0 }
                        + ["assembly.execute[1].operation-switch.otherwise[0].switch"]),
        FixtureCase(file: "validate-ibm.yaml", format: .ibm,
                    options: .options { $0.signingKey = "/etc/nginx/jwt/gateway.pem"; $0.verifyKey = "/etc/nginx/jwt/idp.pem" },
                    warnings: ["assembly.execute[0].operation-switch.case[2].execute[0].jwt-validate.jwt"]),
        FixtureCase(file: "seed-deployment.toml", format: .apimTOML, options: .options { $0.signingKey = "/etc/nginx/jwt/apim.pem" },
                    warnings: ["apim.jwt.issuer", "apim.jwt.enable_user_claims", "apim.jwt.claims_extractor_impl"]),
        FixtureCase(file: "large-deployment.toml", format: .apimTOML,
                    options: .options { $0.apiName = "Orders"; $0.apiVersion = "v1"; $0.outputDirectory = "/etc/nginx"; $0.outputBase = "apim" },
                    warnings: ["apim.jwt.generator_impl", "apim.jwt.convert_dialect", "apim.jwt.use_kid", "apim.jwt.gateway_generator",
                               "apim.oauth_config.revoke_endpoint", "apim.jwt.issuer[0].claim_mapping"]),
    ]

    @Test(arguments: cases)
    func convertsToTheExpectedText(_ fixture: FixtureCase) throws {
        let migration = try Fixtures.migrate(fixture.file, fixture.options)
        #expect(migration.format == fixture.format)
        if ProcessInfo.processInfo.environment["BJWT_UPDATE_FIXTURES"] == "1" {
            // regenerates the expected texts: review `git diff` before committing them
            try migration.output.write(toFile: Fixtures.directory + "/" + fixture.file + ".conf", atomically: true, encoding: .utf8)
        }
        let expected = try Fixtures.text(fixture.file + ".conf")
        #expect(migration.output == expected)
        #expect(migration.warnings.map(\.field) == fixture.warnings)
        #expect(migration.warnings.allSatisfy { $0.file == fixture.file && $0.line != nil })
        // every warning is also a comment in the output
        for warning in migration.warnings {
            #expect(migration.output.contains("# not converted: \(warning.field): \(warning.message)"), "\(warning.field)")
        }
    }

    /// Same input, same bytes: also for a second conversion in the same process.
    @Test(arguments: cases)
    func isStable(_ fixture: FixtureCase) throws {
        let first = try Fixtures.migrate(fixture.file, fixture.options)
        let second = try Fixtures.migrate(fixture.file, fixture.options)
        #expect(first == second)
    }

    /// Blocks balance and every line outside comments ends a directive or a block.
    @Test(arguments: cases)
    func writesWellFormedNginxText(_ fixture: FixtureCase) throws {
        let output = try Fixtures.migrate(fixture.file, fixture.options).output
        var depth = 0
        for line in output.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("#") || text.isEmpty { continue }
            if text.hasSuffix("{") { depth += 1 } else if text == "}" { depth -= 1 } else {
                #expect(text.hasSuffix(";") || text.hasSuffix("; }"), "\(text)")
            }
            #expect(depth >= 0)
        }
        #expect(depth == 0)
        #expect(output.hasSuffix("\n") && !output.hasSuffix("\n\n"))
    }
}
