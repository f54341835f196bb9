/// What a request gets from the check of its caller's token: it goes on, or it is refused with
/// an HTTP status and the RFC 6750 challenge that goes with it. One place decides both, so any
/// host (the nginx module, a test) answers a refusal alike.
public struct Verdict: Equatable, Sendable {
    /// The `WWW-Authenticate` a refusal sends (the C ABI's BJWT_CHALLENGE_*, an index into
    /// `LevelSettings.challenges`).
    public enum Challenge: Int32, Sendable {
        /// No token: the bare scheme (RFC 6750 3.1, no error code for a request without one).
        case missing = 0
        case invalid = 1
        case insufficientScope = 2
    }

    /// 0: the caller passed; else 401, 403 or 503.
    public let status: Int
    /// Why it is refused; nil when it passed.
    public let refusal: Refusal?
    /// nil: no challenge (the caller passed, or a 503 that is not the caller's fault).
    public let challenge: Challenge?
    /// No key verified the token and a JWK Set is fetched: a new set may bring the key.
    public let refetch: Bool

    public static let passed = Verdict(status: 0, refusal: nil, challenge: nil, refetch: false)

    private init(status: Int, refusal: Refusal?, challenge: Challenge?, refetch: Bool) {
        self.status = status
        self.refusal = refusal
        self.challenge = challenge
        self.refetch = refetch
    }

    /// A refusal with the usual status for its reason: no key to verify with is the server's
    /// 503 (no challenge); an unmet rule 403 `insufficient_scope`; no token 401 with the bare
    /// challenge; any other 401 `invalid_token`. `refetch`: a new JWK Set may change it.
    public init(refusing refusal: Refusal, refetch: Bool = false) {
        switch refusal {
        case .noKeys: self.init(status: 503, refusal: refusal, challenge: nil, refetch: refetch)
        case .require: self.init(status: 403, refusal: refusal, challenge: .insufficientScope, refetch: false)
        case .missing: self.init(status: 401, refusal: refusal, challenge: .missing, refetch: false)
        default: self.init(status: 401, refusal: refusal, challenge: .invalid, refetch: refetch)
        }
    }

    /// An unmet rule whose status the configuration chose (`error=401` or the default 403).
    public init(rule status: Int) {
        self = status == 401
            ? Verdict(status: 401, refusal: .require, challenge: .invalid, refetch: false)
            : Verdict(refusing: .require)
    }

    /// The verdict of a token the verifier refused with `error`.
    public init(_ error: BackendJWTError, fetchesKeys: Bool) {
        let refetch = fetchesKeys && (error.kind == .unknownKey || error.kind == .unavailable)
        self.init(refusing: error.refusal ?? .malformed, refetch: refetch)
    }
}

/// Where the caller's token is read from.
public enum TokenSource: Int32, Sendable {
    /// The `Authorization` header's value (nil: no such header): `Bearer <token>`.
    case authorization = 0
    /// The `token=` value of `backend_jwt_verify`, as is.
    case value = 1

    /// The token in `text`, or why there is none (the error log's words). The scheme matches in
    /// any case (RFC 9110 11.1); spaces after it are skipped.
    public func token(in text: UnsafeBufferPointer<UInt8>?) -> (token: UnsafeBufferPointer<UInt8>?, why: String) {
        guard self == .authorization else {
            guard let text, !text.isEmpty else { return (nil, "the token= value is empty") }
            return (text, "")
        }
        guard let text else { return (nil, "no \"Authorization\" header") }
        // "bearer" in any case: a letter's two cases differ only in bit 0x20; then a space
        guard text.count > 7, text[0] | 0x20 == 0x62, text[1] | 0x20 == 0x65, text[2] | 0x20 == 0x61,
            text[3] | 0x20 == 0x72, text[4] | 0x20 == 0x65, text[5] | 0x20 == 0x72, text[6] == 0x20
        else { return (nil, "\"Authorization\" holds no Bearer token") }
        var start = 7
        while start < text.count && text[start] == UInt8(ascii: " ") { start += 1 }
        guard start < text.count else { return (nil, "\"Authorization\" holds no Bearer token") }
        return (UnsafeBufferPointer(rebasing: text[start...]), "")
    }
}
