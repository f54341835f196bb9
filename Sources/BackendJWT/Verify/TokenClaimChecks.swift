/// The claim checks of `JWSVerifier` (RFC 7519 section 4.1), one small method each, run after
/// the signature has verified, and again for every request a cached token serves: so they look
/// claims up without allocating.
extension JWSVerifier {
    func checkClaims(_ payload: JSONValue, now: Int64) throws(BackendJWTError) {
        try checkExpiration(payload, now: now)
        try checkNotBefore(payload, now: now)
        try checkIssuedAt(payload, now: now)
        try checkIssuer(payload)
        try checkAudience(payload)
    }

    /// `exp`: required unless `requireExpiration` is off; the token is refused from `exp + leeway` on.
    func checkExpiration(_ payload: JSONValue, now: Int64) throws(BackendJWTError) {
        guard let exp = try numericDate(payload, "exp") else {
            if requireExpiration { throw refused("the token has no \"exp\"") }
            return
        }
        guard Double(now) < exp + Double(leeway) else { throw refused("the token expired (exp \(Self.shown(exp)))") }
    }

    /// `nbf`: the token is refused while `now + leeway` is before it. nginx's clock counts
    /// whole seconds, so a fraction is cut: `nbf` 1000.5 is reached within second 1000.
    func checkNotBefore(_ payload: JSONValue, now: Int64) throws(BackendJWTError) {
        guard let nbf = try numericDate(payload, "nbf") else { return }
        guard Double(now) + Double(leeway) >= nbf.rounded(.down) else {
            throw refused("the token is not valid yet (nbf \(Self.shown(nbf)))")
        }
    }

    /// `iat`: a token issued after `now + leeway` is refused (whole seconds, as `nbf`).
    func checkIssuedAt(_ payload: JSONValue, now: Int64) throws(BackendJWTError) {
        guard let iat = try numericDate(payload, "iat") else { return }
        guard iat.rounded(.down) <= Double(now) + Double(leeway) else {
            throw refused("the token was issued in the future (iat \(Self.shown(iat)))")
        }
    }

    /// `iss`: when issuers are configured, a string equal to one of them.
    func checkIssuer(_ payload: JSONValue) throws(BackendJWTError) {
        guard !issuers.isEmpty else { return }
        guard let iss = Self.member(payload, "iss") else { throw refused("the token has no \"iss\"") }
        guard let value = iss.stringBytes else { throw refused("the token's \"iss\" is not a string") }
        guard issuers.contains(value) else { throw refused("issuer \(quoted(value)) is not accepted") }
    }

    /// `aud`: when audiences are configured, a string or an array of strings, one of which
    /// equals one of them.
    func checkAudience(_ payload: JSONValue) throws(BackendJWTError) {
        guard !audiences.isEmpty else { return }
        guard let aud = Self.member(payload, "aud") else { throw refused("the token has no \"aud\"") }
        var accepted = false
        switch aud {
        case .string(let value): accepted = audiences.contains(value)
        case .array(let list):
            for element in list {
                guard case .string(let value) = element else {
                    throw refused("the token's \"aud\" holds a value that is not a string")
                }
                if !accepted { accepted = audiences.contains(value) }
            }
        default: throw refused("the token's \"aud\" is neither a string nor an array of strings")
        }
        guard accepted else {
            throw refused("no audience of the token is accepted (aud \(quoted(aud.compactJSON)))")
        }
    }

    /// What the time checks compare of a token that passed `checkClaims` (`exp` plus the
    /// leeway, `nbf` and `iat` cut to whole seconds; nil when absent), kept with it in the cache:
    /// a repeated token is then checked again without looking its claims up. Its `iss` and `aud`
    /// passed and do not change with time.
    struct ClaimTimes {
        let expiresAt: Double?
        let notBefore: Double?
        let issuedAt: Double?
    }

    func claimTimes(_ payload: JSONValue) -> ClaimTimes {
        ClaimTimes(
            expiresAt: (try? numericDate(payload, "exp"))?.map { $0 + Double(leeway) },
            notBefore: (try? numericDate(payload, "nbf"))?.map { $0.rounded(.down) },
            issuedAt: (try? numericDate(payload, "iat"))?.map { $0.rounded(.down) })
    }

    /// Whether the time checks pass at `now`, by the same comparisons as `checkExpiration`,
    /// `checkNotBefore` and `checkIssuedAt`.
    func timesPass(_ times: ClaimTimes, now: Int64) -> Bool {
        if let exp = times.expiresAt, !(Double(now) < exp) { return false }
        if let nbf = times.notBefore, !(Double(now) + Double(leeway) >= nbf) { return false }
        if let iat = times.issuedAt, !(iat <= Double(now) + Double(leeway)) { return false }
        return true
    }

    /// A NumericDate claim (RFC 7519 2): nil when absent; refused when not a number.
    private func numericDate(_ payload: JSONValue, _ name: StaticString) throws(BackendJWTError) -> Double? {
        guard let value = Self.member(payload, name) else { return nil }
        guard case .number(let text) = value else { throw refused("the token's \"\(name)\" is not a number") }
        if let seconds = Self.wholeNumber(text) { return seconds }
        guard let seconds = Double(String(decoding: text, as: UTF8.self)), !seconds.isNaN else {
            throw refused("the token's \"\(name)\" is not a number")
        }
        return seconds
    }

    /// The usual NumericDate, up to 15 digits and no sign, fraction or exponent, without going
    /// through a string; nil for anything else.
    static func wholeNumber(_ text: [UInt8]) -> Double? {
        guard !text.isEmpty, text.count <= 15 else { return nil }
        var value: Int64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(c &- UInt8(ascii: "0"))
        }
        return Double(value)
    }

    /// The member `name` of an object, found without making an array of the name.
    private static func member(_ payload: JSONValue, _ name: StaticString) -> JSONValue? { payload[known: name] }

    private static func shown(_ seconds: Double) -> String {
        seconds.magnitude < 1e15 ? String(Int64(seconds.rounded(.down))) : String(seconds)
    }
}
