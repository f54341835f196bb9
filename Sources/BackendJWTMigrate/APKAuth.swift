import Foundation

/// WSO2 APK's authentication: an apk-conf's `authentication` list, the `Authentication`,
/// `TokenIssuer` and `Scope` resources. OAuth2 (a JWT from a token issuer) becomes
/// `backend_jwt_verify`; API keys, mTLS and Basic have no counterpart, so operations that need
/// them are refused rather than left open.
enum APKAuth {
    /// The verification of the API's callers: the `TokenIssuer` resources (none in an apk-conf),
    /// then what the options say.
    static func verification(issuers: [(name: String, node: YNode)], docs: APKCRs.Documents?, line: Int?,
                             options: MigrationOptions, diag: Diagnostics) throws(MigrationError) -> Verification {
        var verification = Verification()
        var scopesClaims: [String] = []
        for (name, issuer) in issuers {
            let spec = try issuer.require("spec")
            for (key, value) in try spec.pairs() {
                switch key {
                case "name", "organization", "targetRef":
                    break  // names, and the Gateway it applies to: every API here
                case "issuer":
                    verification.issuers.append(try value.string())
                case "scopesClaim":
                    scopesClaims.append(try value.string())
                case "signatureValidation":
                    try signature(value, issuer: name, docs: docs, into: &verification, options: options, diag: diag)
                case "consumerKeyClaim":
                    verification.notes.append(diag.warn(value.path, "APK finds the caller's application (for subscriptions) by this claim; nginx has no applications", line: value.line))
                case "claimMappings":
                    verification.notes.append(diag.warn(value.path, "APK renames the caller's claims for its own use; copy the ones the backend needs with backend_jwt_copy_claims remote=local", line: value.line))
                default:
                    verification.notes.append(diag.warn(value.path, "not a TokenIssuer field this tool knows; left out", line: value.line))
                }
            }
        }
        if let first = scopesClaims.first {
            verification.scopesClaim = first
            if scopesClaims.contains(where: { $0 != first }), let node = issuers.last?.node {
                verification.notes.append(diag.warn(node.child("spec.scopesClaim"), "the issuers name different scopes claims; \(first) is checked", line: node.line))
            }
        }
        if !options.issuers.isEmpty { verification.issuers = options.issuers }
        if let url = options.jwksURL { verification.jwksURL = url }
        if let key = options.verifyKey { verification.keyFiles = [key] }
        if verification.jwksURL == nil && verification.keyFiles.isEmpty {
            verification.notes.append(diag.warn(
                issuers.isEmpty ? "authentication" : issuers[0].node.child("spec.signatureValidation"),
                "APK verifies the caller's token with its TokenIssuer's keys, which \(issuers.isEmpty ? "an apk-conf does not hold" : "are not in the file"); give --jwks-url (and --issuer) or --verify-key",
                line: issuers.first?.node.line ?? line))
            verification.keyFiles = [Verification.placeholderKey]
        }
        return verification
    }

    /// `signatureValidation`: a JWKS URL, or a certificate (inline, or a ConfigMap or Secret of
    /// the file), written beside the output.
    static func signature(_ node: YNode, issuer: String, docs: APKCRs.Documents?, into verification: inout Verification,
                          options: MigrationOptions, diag: Diagnostics) throws(MigrationError) {
        for (key, value) in try node.pairs() {
            switch key {
            case "jwks":
                let url = try value.require("url")
                let text = try url.string()
                guard Upstream.parse(text, tail: .none) != nil else {
                    throw diag.error("\(url.path): \"\(text)\" is not an http:// or https:// URL without query", line: url.line)
                }
                if verification.jwksURL != nil {
                    verification.notes.append(diag.warn(url.path, "one JWK Set per server: the first issuer's is fetched; give this one's keys with --verify-key", line: url.line))
                } else {
                    verification.jwksURL = text
                }
                if let tls = value["tls"] {
                    verification.notes.append(diag.warn(tls.path, "the JWKS location trusts the system's CA store (proxy_ssl_trusted_certificate)", line: tls.line))
                }
            case "certificate":
                if let pem = try certificate(value, docs: docs, diag: diag) {
                    verification.keyFiles.append(diag.write("\(issuer)-certificate.pem", pem, options: options))
                } else {
                    verification.notes.append(diag.warn(value.path, "the certificate is in no resource of this file; give it with --verify-key", line: value.line))
                }
            default:
                verification.notes.append(diag.warn(value.path, "not a signatureValidation field this tool knows; left out", line: value.line))
            }
        }
    }

    /// A certificate's PEM text: inline, or from a ConfigMap's `data` or a Secret's `data`
    /// (base64) or `stringData` in the same file.
    static func certificate(_ node: YNode, docs: APKCRs.Documents?, diag: Diagnostics) throws(MigrationError) -> String? {
        if let inline = node["certificateInline"] { return try inline.string() }
        for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            guard let reference = node[field] else { continue }
            let name = try reference.require("name").string()
            let key = try reference.require("key").string()
            guard let resource = docs?.find(kind, name) else { return nil }
            if let text = try resource["stringData"]?[key]?.string() { return text }
            guard let value = try resource["data"]?[key]?.string() else { return nil }
            if kind == "ConfigMap" { return value }
            guard let data = Data(base64Encoded: value, options: .ignoreUnknownCharacters), let text = String(data: data, encoding: .utf8) else {
                throw diag.error("\(kind)/\(name).data.\(key) is not base64 of text", line: resource.line)
            }
            return text
        }
        return nil
    }

    /// An apk-conf's `authentication` list (absent: OAuth2, APK's default).
    static func conf(_ root: YNode, verification: () throws(MigrationError) -> Verification,
                     diag: Diagnostics) throws(MigrationError) -> (Access, [Item]) {
        var notes: [Item] = []
        var oauth2 = true
        var header: String?
        var forward = false
        var refusal: String?
        var others: [(field: String, line: Int?, what: String)] = []
        for item in try root["authentication"]?.array() ?? [] {
            let typeNode = try item.require("authType")
            let type = try typeNode.string()
            let enabled = try item["enabled"]?.bool() ?? true
            if type.lowercased() == "oauth2" {
                oauth2 = enabled
                for (key, value) in try item.pairs() {
                    switch key {
                    case "authType", "enabled": break
                    case "sendTokenToUpstream": forward = try value.bool()
                    case "headerName": header = try tokenHeader(value, diag: diag)
                    case "headerEnable":
                        if try !value.bool() {
                            notes.append(diag.warn(value.path, "APK reads no token from a header; here the header is still read (no query parameter)", line: value.line))
                        }
                    default:
                        notes.append(diag.warn(value.path, "not an OAuth2 field this tool knows; left out", line: value.line))
                    }
                }
            } else if enabled {
                let required = try item["required"]?.string().lowercased()
                let what = type.lowercased() == "mtls" ? "a client certificate (mTLS)" : type.lowercased() == "apikey" ? "an API key" : "\(type) credentials"
                if type.lowercased() == "mtls" && required != "mandatory" {
                    notes.append(diag.warn(typeNode.path, "\(what) is optional in APK and not asked for here", line: typeNode.line))
                } else if type.lowercased() == "mtls" {
                    refusal = "APK requires \(what), which this conversion does not check"
                    notes.append(diag.warn(typeNode.path, "APK requires \(what) on every call; nginx's ssl_verify_client is not written, so the API's secured operations are refused (deny all)", line: typeNode.line))
                } else {
                    others.append((typeNode.path, typeNode.line, what))
                }
            }
        }
        for other in others {
            notes.append(diag.warn(other.field, oauth2
                ? "callers with \(other.what) are refused here: only OAuth2 tokens are verified"
                : "\(other.what) is not verified by the module, so the API's secured operations are refused (deny all)", line: other.line))
            if !oauth2 { refusal = refusal ?? "APK lets callers in with \(other.what), which the module does not check" }
        }
        return try outcome(refusal: refusal, oauth2: oauth2, header: header, forward: forward, verification: verification,
                           notes: notes, open: "APK's authentication is disabled for this API: its operations are open, as in APK")
    }

    /// The header an OAuth2 token is read from; nil for `Authorization` (with `Bearer`).
    static func tokenHeader(_ value: YNode, diag: Diagnostics) throws(MigrationError) -> String? {
        let name = try value.string()
        guard Verification.isHeaderName(name) else {
            throw diag.error("\(value.path): \"\(name)\" is not a header name nginx accepts (letters, digits, -, _)", line: value.line)
        }
        return name.lowercased() == "authorization" ? nil : name
    }

    /// What the operations get: refused, verified, or open (with a comment saying so).
    static func outcome(refusal: String?, oauth2: Bool, header: String?, forward: Bool, verification: () throws(MigrationError) -> Verification,
                        notes: [Item], open: String) throws(MigrationError) -> (Access, [Item]) {
        if let refusal { return (.refuse(refusal), notes) }
        guard oauth2 else { return (.open, notes + [.comment(open)]) }
        var v = try verification()
        v.header = header
        v.forward = forward
        return (.verify(v), notes)
    }

    /// An `Authentication` resource's `default` or `override` section.
    static func resource(_ section: YNode, verification: () throws(MigrationError) -> Verification,
                         diag: Diagnostics) throws(MigrationError) -> (Access, [Item]) {
        var notes: [Item] = []
        if (try section["disabled"]?.bool()) == true {
            return (.open, [.comment("\(section.path).disabled: no authentication, as in APK")])
        }
        for (key, value) in try section.pairs() where key != "disabled" && key != "authTypes" {
            notes.append(diag.warn(value.path, "not an Authentication field this tool knows; left out", line: value.line))
        }
        var oauth2 = true
        var header: String?
        var forward = false
        var refusal: String?
        for (type, body) in try section["authTypes"]?.pairs() ?? [] {
            switch type {
            case "oauth2":
                for (key, value) in try body.pairs() {
                    switch key {
                    case "disabled": oauth2 = try !value.bool()
                    case "required": break  // mandatory or optional beside mTLS: a token is required here
                    case "sendTokenToUpstream": forward = try value.bool()
                    case "header": header = try tokenHeader(value, diag: diag)
                    default:
                        notes.append(diag.warn(value.path, "not an oauth2 field this tool knows; left out", line: value.line))
                    }
                }
            case "mtls":
                if (try body["disabled"]?.bool()) == true { continue }
                if try body["required"]?.string().lowercased() == "mandatory" {
                    refusal = "APK requires a client certificate (mTLS), which this conversion does not check"
                    notes.append(diag.warn(body.path, "APK requires a client certificate on every call; nginx's ssl_verify_client is not written, so the API is refused (deny all)", line: body.line))
                } else {
                    notes.append(diag.warn(body.path, "an optional client certificate (mTLS) is not asked for here", line: body.line))
                }
            default:
                let what = type.lowercased() == "apikey" ? "API keys" : "\(type) credentials"
                if case .sequence(let list) = body.node, list.isEmpty { continue }
                notes.append(diag.warn(body.path, oauth2 ? "callers with \(what) are refused here: only OAuth2 tokens are verified"
                                                         : "\(what) are not verified by the module, so the API is refused (deny all)", line: body.line))
                if !oauth2 { refusal = refusal ?? "APK lets callers in with \(what), which the module does not check" }
            }
        }
        return try outcome(refusal: refusal, oauth2: oauth2, header: header, forward: forward, verification: verification,
                           notes: notes, open: "\(section.path): OAuth2 disabled and nothing else: open, as in APK")
    }

    /// The location lines of one operation: `backend_jwt_verify off` where the source checks
    /// nothing, its scopes, or `deny all` where it cannot be converted. `server` is what the
    /// server does (its lines are inherited).
    static func locationItems(server: Access, own: Access?, secured: Bool, scopes: [String], field: String, line: Int?,
                              diag: Diagnostics) -> [Item] {
        let access = own ?? server
        guard secured else {
            if case .verify = server { return [.comment("not secured in APK: no token asked for"), .directive("backend_jwt_verify", ["off"])] }
            return []
        }
        switch access {
        case .refuse(let reason):
            return Identity.refused(reason)
        case .open:
            var out: [Item] = []
            if case .verify = server { out.append(.directive("backend_jwt_verify", ["off"])) }
            if !scopes.isEmpty { out.append(.comment("scopes \(scopes.joined(separator: " ")): not checked, as APK checks none without authentication")) }
            return out
        case .verify(let verification):
            var out: [Item] = []
            if own != nil && own != server { out += verification.items() }
            if !scopes.isEmpty {
                guard let requirement = verification.scopeRequirement(scopes) else {
                    return [diag.warn(field, "a scope or the scopes claim cannot be written as a backend_jwt_verify_require_claim value; the operation is refused", line: line)]
                        + Identity.refused("its scopes cannot be checked")
                }
                out.append(requirement)
            }
            return out
        }
    }
}
