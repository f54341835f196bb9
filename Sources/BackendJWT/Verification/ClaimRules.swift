/// What a verified caller must meet in one location beyond its signature and times: every
/// `backend_jwt_verify_require` (a value that is not empty, `0`, `false`, `null`, `""`, `[]` or
/// `{}`), then every `backend_jwt_verify_require_claim`. The module evaluates `templates` per
/// request and hands their texts to `check`, which decides.
public final class ClaimRules {
    public let require: [Requirement]
    public let claims: [ClaimRequirement]
    /// The templates read per request, in the order `check` takes their texts.
    public let templates: [Int]
    /// Where each template's text is in `check`'s values.
    private let positions: [Int: Int]
    /// Each template's text, for messages.
    private let texts: [Int: [UInt8]]
    /// Each require_claim as written, for messages.
    private let written: [String]

    public init(require: [Requirement], claims: [ClaimRequirement], config: Configuration) {
        self.require = require
        self.claims = claims
        var templates = require.flatMap(\.templates)
        for claim in claims {
            for case .template(let index) in claim.operands { templates.append(index) }
        }
        self.templates = templates
        positions = Dictionary(templates.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        texts = Dictionary(templates.map { ($0, config.templates[$0]) }, uniquingKeysWith: { a, _ in a })
        written = claims.map { claim in
            let values = claim.operands.map { operand -> String in
                switch operand {
                case .constant(let value): String(decoding: value.compactJSON, as: UTF8.self)
                case .template(let index): String(decoding: config.templates[index], as: UTF8.self)
                }
            }
            return ([String(decoding: claim.path.text, as: UTF8.self), claim.op.rawValue] + values).joined(separator: " ")
        }
    }

    public var isEmpty: Bool { require.isEmpty && claims.isEmpty }

    /// nil when `token` meets every rule; else the status of the first it does not meet (401 or
    /// 403) and why, for the error log. `values[i]` is the text of `templates[i]`.
    public func check(_ token: VerifiedToken, values: [[UInt8]]) -> (status: Int, why: String)? {
        func value(_ template: Int) -> [UInt8]? {
            positions[template].flatMap { $0 < values.count ? values[$0] : nil }
        }
        for requirement in require {
            for template in requirement.templates where !JSONValue.meetsRequire(value(template) ?? []) {
                let text = String(decoding: texts[template] ?? [], as: UTF8.self)
                return (
                    requirement.status,
                    "backend_jwt_verify_require \(quoted(text)) is empty, 0, false, null or empty JSON"
                )
            }
        }
        for (claim, text) in zip(claims, written) where !claim.isMet(by: token.payload, values: value) {
            return (claim.status, "backend_jwt_verify_require_claim \(quoted(Array(text.utf8), limit: 256)) is not met")
        }
        return nil
    }
}
