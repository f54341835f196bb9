/// `backend_jwt_wso2_claims`: the claim set WSO2 API Manager and APK send backends
/// (`http://wso2.org/claims/apiname`, `.../enduser`, ...), so a backend written for them works
/// unchanged behind nginx. Every value is a string and may contain nginx variables.
public enum WSO2Claims {
    public static let defaultDialect = "http://wso2.org/claims"

    /// Each claim under the dialect and its value when the directive does not give one
    /// (nil: left out; `required`: the directive must give it).
    static let members: [(name: String, fallback: String?)] = [
        ("subscriber", "$remote_user"), ("applicationid", nil), ("applicationname", nil),
        ("applicationtier", nil), ("apiname", required), ("apicontext", nil), ("version", required),
        ("tier", nil), ("keytype", "PRODUCTION"), ("usertype", "APPLICATION_USER"), ("enduser", "$remote_user"),
        ("enduserTenantId", "-1234"),
    ]
    static let required = "\u{0}required"

    /// Adds the claims for `options` (`apiname=Pizza version=1.0.0 dialect=URI ...`, the
    /// directive's arguments) to `claims`, each with its value template.
    public static func add(to claims: ClaimList, options: [[UInt8]]) throws(BackendJWTError) {
        var given: [String: [UInt8]] = [:]
        var dialect: String?
        for option in options {
            let text = String(decoding: option, as: UTF8.self)
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw BackendJWTError(.config, "argument \(quoted(option)) is not NAME=VALUE")
            }
            let key = asciiLowercased(text[..<equals].utf8)
            let value = Array(text[text.index(after: equals)...].utf8)
            if key.elementsEqual("dialect".utf8) {
                guard !value.isEmpty else { throw BackendJWTError(.config, "dialect= needs a value") }
                guard dialect == nil else { throw BackendJWTError(.config, "\"dialect=\" is given twice") }
                dialect = String(decoding: value, as: UTF8.self)
                continue
            }
            guard let member = members.first(where: { asciiLowercased($0.name.utf8) == key }) else {
                let known = (["dialect"] + members.map(\.name)).joined(separator: ", ")
                throw BackendJWTError(.config, "unknown argument \(quoted(String(text[..<equals]))); use \(known)")
            }
            guard given.updateValue(value, forKey: member.name) == nil else {
                throw BackendJWTError(.config, "\(quoted(member.name + "=")) is given twice")
            }
        }
        // All or nothing: a failure leaves `claims` as it was.
        let trial = ClaimList(copying: claims)
        for member in members {
            let template: [UInt8]
            if let value = given[member.name] {
                guard !value.isEmpty || member.fallback != required else {
                    throw BackendJWTError(.config, "\(member.name)= needs a value")
                }
                template = value
            } else if member.fallback == required {
                throw BackendJWTError(.config, "\(member.name)= is required")
            } else if let fallback = member.fallback {
                template = Array(fallback.utf8)
            } else {
                continue
            }
            let name = (dialect ?? defaultDialect) + "/" + member.name
            try trial.add(name: Array(name.utf8), options: [], template: template, literal: true)
        }
        claims.replaceClaims(with: trial)
    }
}
