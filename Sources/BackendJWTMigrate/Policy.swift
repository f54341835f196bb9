/// What the sources do not hold, given on the command line.
public struct MigrationOptions: Sendable, Equatable {
    /// `backend_jwt_signing_key`: the PEM private key (APK's gateway key pair, IBM's crypto
    /// object, API Manager's keystore).
    public var signingKey: String?
    /// `backend_jwt_signing_secret`, for HS256/384/512.
    public var signingSecret: String?
    /// `scheme://host[:port]` that replaces the origin of every endpoint (their paths stay), and
    /// the backend of an IBM assembly without an `invoke`.
    public var upstream: String?
    /// A `listen` line for the generated `server`.
    public var listen: String?
    /// A `server_name` line for the generated `server`.
    public var serverName: String?
    /// Use APK's sandbox endpoints instead of the production ones.
    public var sandbox = false
    /// `apiname=` and `version=` of `backend_jwt_wso2_claims` (deployment.toml has no API).
    public var apiName: String?
    public var apiVersion: String?
    /// `backend_jwt_verify_key`: the identity provider's public keys, for sources whose keys
    /// live elsewhere (IBM's crypto objects, an apk-conf, whose TokenIssuer is a resource).
    public var verifyKey: String?
    /// The identity provider's JWK Set URL; replaces the one a source names.
    public var jwksURL: String?
    /// `backend_jwt_verify_issuer` values; replace the ones a source names.
    public var issuers: [String] = []
    /// The folder (absolute) where files the conversion makes are written and named from; nil:
    /// named relative, which nginx resolves against its prefix (the output says so).
    public var outputDirectory: String?
    /// The start of those files' names (the output's or the input's name).
    public var outputBase: String?

    public init() {}
}

/// Where key files go when no option names them.
enum Placeholder {
    static let key = "/etc/nginx/jwt/signing.pem"
    static let secret = "/etc/nginx/jwt/signing.secret"
}

/// One custom claim: its name as the source spells it, a value nginx evaluates, a claim type.
struct Claim: Equatable {
    var name: String
    var value: String
    var type: String
}

/// One backend JWT policy of a source, in the module's terms.
struct Policy: Equatable {
    var enabled = true
    var algorithm = "SHA256withRSA"
    /// `base64` or `base64url`; nil when the source does not say.
    var encoding: String?
    var header = "X-JWT-Assertion"
    /// IBM's default: the token goes upstream as `Authorization: Bearer <token>`.
    var bearer = false
    var ttl: Int?
    var issuer: String?
    var subject: String?
    var audience: [String] = []
    var jti: Bool?
    /// The arguments of `backend_jwt_wso2_claims`.
    var wso2Claims: [String]?
    var claims: [Claim] = []
    /// Comments that go before the directives.
    var notes: [Item] = []

    static let registered: Set<String> = ["iss", "sub", "aud", "iat", "exp", "nbf", "jti"]

    /// A claim name as a Go backend's encoding/json matches it (ASCII letters in any case, and ſ,
    /// K, ı, İ as s, k, i): `Sub` is `sub` to it. The module refuses a custom claim that folds onto
    /// a registered one (its `ClaimCopies.goFolded`, on bytes; the tool does not link the core).
    static func goFolded(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { c -> Unicode.Scalar in
            switch c.value {
            case 0x41...0x5A: Unicode.Scalar(c.value | 0x20)!
            case 0x17F: "s"
            case 0x212A: "k"
            case 0x130, 0x131: "i"
            default: c
            }
        }))
    }

    var keyKind: KeyKind { Algorithms.keyKind(algorithm) }

    /// The directives of this policy at one level. `key` is what signs (from `keyItems`);
    /// `claimsOnly` writes only the claims (below an enforcing level). `parent` is the policy of
    /// the level above, whose `iss`, `sub` and `aud` nginx would pass down: set empty here, as
    /// the source's own policy has none.
    func items(key: [Item], claimsOnly: Bool = false, enforce: Bool = false, parent: Policy? = nil) -> [Item] {
        var out = notes
        if !claimsOnly {
            out.append(.directive("backend_jwt", [enabled ? "on" : "off"]))
            out += key
            out.append(.directive("backend_jwt_signing_algorithm", [algorithm]))
            out.append(.directive("backend_jwt_encoding", [encoding ?? "base64url"]))
            out.append(.directive("backend_jwt_header", [header]))
            if let ttl { out.append(.directive("backend_jwt_token_ttl", [String(ttl)])) }
            if let issuer = issuer ?? (parent?.issuer == nil ? nil : "") { out.append(.directive("backend_jwt_issuer", [issuer])) }
            if let subject = subject ?? (parent?.subject == nil ? nil : "") { out.append(.directive("backend_jwt_subject", [subject])) }
            if !audience.isEmpty || parent?.audience.isEmpty == false {
                out.append(.directive("backend_jwt_audience", audience.isEmpty ? [""] : audience))
            }
            if let jti { out.append(.directive("backend_jwt_jti", [jti ? "on" : "off"])) }
        }
        if let wso2Claims { out.append(.directive("backend_jwt_wso2_claims", wso2Claims)) }
        for claim in claims {
            out.append(.directive("backend_jwt_claim", [Self.claimName(claim.name), claim.value] + (claim.type == "string" ? [] : ["type=" + claim.type])))
        }
        if enforce { out.append(.directive("backend_jwt_enforce", ["on"])) }
        if bearer && !claimsOnly {
            out.append(.comment("as IBM sends it: Authorization: Bearer <token>, and no \(header) header"))
            out.append(.directive("proxy_set_header", ["Authorization", "Bearer $backend_jwt"]))
            out.append(.directive("proxy_set_header", [header, ""]))
        }
        return out
    }

    /// A claim name as `backend_jwt_claim` reads it: dots and backslashes escaped so that the
    /// source's flat name stays flat (a URI name never nests and is left as it is).
    static func claimName(_ name: String) -> String {
        if name.contains("://") { return name }
        return name.replacingAll("\\", with: "\\\\").replacingAll(".", with: "\\.")
    }
}

enum KeyKind: Equatable { case none, secret, key }

enum Algorithms {
    /// Every name `backend_jwt_signing_algorithm` accepts, lower case.
    static let accepted: [String: KeyKind] = {
        var table: [String: KeyKind] = ["none": .none, "eddsa": .key, "ed25519": .key]
        for bits in ["256", "384", "512"] {
            for name in ["rs", "ps", "es"] { table[name + bits] = .key }
            table["hs" + bits] = .secret
            table["hmacsha" + bits] = .secret
            for suffix in ["withrsa", "withrsaandmgf1", "withrsa/pss", "withecdsa"] { table["sha" + bits + suffix] = .key }
        }
        return table
    }()

    static func keyKind(_ algorithm: String) -> KeyKind { accepted[algorithm.lowercased()] ?? .key }

    static func isAccepted(_ algorithm: String) -> Bool { accepted[algorithm.lowercased()] != nil }
}

/// Claim types as the sources spell them, to the module's.
enum ClaimTypes {
    static let names: [String: String] = [
        "string": "string", "int": "int", "integer": "int", "long": "long", "float": "float", "double": "float",
        "bool": "bool", "boolean": "bool", "date": "date",
    ]

    /// Whether a literal `value` converts to `type` (what the module checks per request).
    static func literalFits(_ value: String, _ type: String) -> Bool {
        switch type {
        case "int": return Int32(value) != nil
        case "long": return Int64(value) != nil
        case "float": return Double(value) != nil && !value.contains(where: { $0.isLetter && $0 != "e" && $0 != "E" })
        case "bool": return ["true", "false", "1", "0"].contains(value.lowercased())
        default: return true
        }
    }
}

/// The signing-key lines of a level, and what the source said about its key.
struct KeySource {
    /// The source's name of its key (`the gateway's key pair`, `jws-crypto`).
    let field: String
    /// Why the source's key does not come across.
    let reason: String
    let line: Int?

    func items(_ kind: KeyKind, options: MigrationOptions, diag: Diagnostics) -> [Item] {
        switch kind {
        case .none:
            return []
        case .secret:
            if let secret = options.signingSecret {
                return [.comment("\(field): \(reason); the secret is --signing-secret's"),
                        .directive("backend_jwt_signing_secret", [secret])]
            }
            return [diag.warn(field, "\(reason); give the secret with --signing-secret", line: line),
                    .directive("backend_jwt_signing_secret", [Placeholder.secret])]
        case .key:
            if let key = options.signingKey {
                return [.comment("\(field): \(reason); the key is --signing-key's"),
                        .directive("backend_jwt_signing_key", [key])]
            }
            return [diag.warn(field, "\(reason); give the key with --signing-key", line: line),
                    .directive("backend_jwt_signing_key", [Placeholder.key])]
        }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
