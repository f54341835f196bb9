/// The claim checks of `JWSVerifier` (RFC 7519 section 4.1), one small method each, run after
/// the signature has verified; the time checks run again for every request a cached token
/// serves, on the times read when it was verified.
extension JWSVerifier {
    /// Every claim check; returns the token's times, which a cached token is checked against
    /// again (`checkTimes`) for every request it serves.
    func checkClaims(_ payload: JSONValue, now: Int64) throws(BackendJWTError) -> ClaimTimes {
        let exp = try numericDate(payload, "exp")
        if exp == nil, requireExpiration { throw refused("the token has no \"exp\"", .expired) }
        try checkExpiration(exp, now: now)
        let nbf = try numericDate(payload, "nbf")
        try checkNotBefore(nbf, now: now)
        let iat = try numericDate(payload, "iat")
        try checkIssuedAt(iat, now: now)
        try checkIssuer(payload)
        try checkAudience(payload)
        return ClaimTimes(expiration: exp, notBefore: nbf, issuedAt: iat)
    }

    /// A token's NumericDate claims (nil when absent), read once when it is verified. Its `iss`
    /// and `aud` passed and do not change with time.
    struct ClaimTimes {
        let expiration: Double?
        let notBefore: Double?
        let issuedAt: Double?
    }

    /// The time checks of a token that passed `checkClaims`, at `now`.
    func checkTimes(_ times: ClaimTimes, now: Int64) throws(BackendJWTError) {
        try checkExpiration(times.expiration, now: now)
        try checkNotBefore(times.notBefore, now: now)
        try checkIssuedAt(times.issuedAt, now: now)
    }

    /// `exp` (required unless `requireExpiration` is off, see `checkClaims`): the token is
    /// refused from `exp + leeway` on.
    private func checkExpiration(_ exp: Double?, now: Int64) throws(BackendJWTError) {
        guard let exp else { return }
        guard Double(now) < exp + Double(leeway) else { throw refused("the token expired (exp \(Self.shown(exp)))", .expired) }
    }

    /// `nbf`: the token is refused while `now + leeway` is before it. nginx's clock counts
    /// whole seconds, so a fraction is cut: `nbf` 1000.5 is reached within second 1000.
    private func checkNotBefore(_ nbf: Double?, now: Int64) throws(BackendJWTError) {
        guard let nbf else { return }
        guard Double(now) + Double(leeway) >= nbf.rounded(.down) else {
            throw refused("the token is not valid yet (nbf \(Self.shown(nbf)))", .notYetValid)
        }
    }

    /// `iat`: a token issued after `now + leeway` is refused (whole seconds, as `nbf`).
    private func checkIssuedAt(_ iat: Double?, now: Int64) throws(BackendJWTError) {
        guard let iat else { return }
        guard iat.rounded(.down) <= Double(now) + Double(leeway) else {
            throw refused("the token was issued in the future (iat \(Self.shown(iat)))", .notYetValid)
        }
    }

    /// `iss`: when issuers are configured, a string equal to one of them.
    func checkIssuer(_ payload: JSONValue) throws(BackendJWTError) {
        guard !issuers.isEmpty else { return }
        guard let iss = payload[known: "iss"] else { throw refused("the token has no \"iss\"", .issuer) }
        guard let value = iss.stringBytes else { throw refused("the token's \"iss\" is not a string", .issuer) }
        guard issuers.contains(value) else { throw refused("issuer \(quoted(value)) is not accepted", .issuer) }
    }

    /// `aud`: when audiences are configured, a string or an array of strings, one of which
    /// equals one of them.
    func checkAudience(_ payload: JSONValue) throws(BackendJWTError) {
        guard !audiences.isEmpty else { return }
        guard let aud = payload[known: "aud"] else { throw refused("the token has no \"aud\"", .audience) }
        var accepted = false
        switch aud {
        case .string(let value): accepted = audiences.contains(value)
        case .array(let list):
            for element in list {
                guard case .string(let value) = element else {
                    throw refused("the token's \"aud\" holds a value that is not a string", .audience)
                }
                if !accepted { accepted = audiences.contains(value) }
            }
        default: throw refused("the token's \"aud\" is neither a string nor an array of strings", .audience)
        }
        guard accepted else {
            throw refused("no audience of the token is accepted (aud \(quoted(aud.compactJSON)))", .audience)
        }
    }

    /// A NumericDate claim (RFC 7519 2): nil when absent; refused when not a number.
    private func numericDate(_ payload: JSONValue, _ name: StaticString) throws(BackendJWTError) -> Double? {
        guard let value = payload[known: name] else { return nil }
        guard case .number(let text) = value else { throw refused("the token's \"\(name)\" is not a number") }
        if let seconds = Self.wholeNumber(text) { return seconds }
        guard let seconds = Double(String(decoding: text, as: UTF8.self)), !seconds.isNaN else {
            throw refused("the token's \"\(name)\" is not a number")
        }
        return seconds
    }

    /// The usual NumericDate, up to 15 digits and no sign, fraction or exponent, without going
    /// through a string; nil for anything else.
    private static func wholeNumber(_ text: [UInt8]) -> Double? {
        guard !text.isEmpty, text.count <= 15 else { return nil }
        var value: Int64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(c &- UInt8(ascii: "0"))
        }
        return Double(value)
    }

    private static func shown(_ seconds: Double) -> String {
        seconds.magnitude < 1e15 ? String(Int64(seconds.rounded(.down))) : String(seconds)
    }
}
