/// A token that passed `JWSVerifier.verify`: its header and claims, for the
/// `$backend_jwt_in_claim_NAME` and `$backend_jwt_in_payload` variables and for
/// `backend_jwt_copy_claims`.
public struct VerifiedToken {
    /// The JOSE header, a JSON object.
    public let header: JSONValue
    /// The claims, a JSON object with unique member names.
    public let payload: JSONValue
    /// The algorithm the signature was made with.
    public let algorithm: SigningAlgorithm
    /// The key that verified the signature.
    public let key: VerificationKey
    /// The verifier's leeway: the token was accepted up to `exp` plus this.
    public var leeway: Int64 = 0
    /// Its `exp`, `nbf` and `iat` as the verifier read them.
    let times: JWSVerifier.ClaimTimes
    /// `exp` in whole seconds (rounded down, within Int64), nil when absent. Worked out once:
    /// every minted token's `exp` is capped to it.
    public let expiration: Int64?

    init(
        header: JSONValue, payload: JSONValue, algorithm: SigningAlgorithm, key: VerificationKey, leeway: Int64,
        times: JWSVerifier.ClaimTimes
    ) {
        self.header = header
        self.payload = payload
        self.algorithm = algorithm
        self.key = key
        self.leeway = leeway
        self.times = times
        expiration = times.expiration.map { seconds in
            if seconds >= 9.2e18 { return Int64.max }
            if seconds <= -9.2e18 { return Int64.min }
            return Int64(seconds.rounded(.down))
        }
    }

    /// The claims as compact JSON (no white space; strings escaped minimally).
    public var payloadJSON: [UInt8] { payload.compactJSON }

    /// A top-level claim as text: a string as it is (unescaped), any other JSON value as compact
    /// JSON text (`42`, `true`, `["a","b"]`); nil when the token has no such claim.
    public func claim(_ name: [UInt8]) -> [UInt8]? { payload[member: name]?.text }

    /// Same, with the name as text.
    public func claim(_ name: String) -> [UInt8]? { claim(Array(name.utf8)) }

    /// The last second the verifier accepts the token in: `exp` plus the leeway (nil without
    /// `exp`). A token minted for it lives no longer (`backend_jwt_caller_exp cap`), and is
    /// never born expired when the leeway let an expired caller in.
    public var acceptedUntil: Int64? {
        expiration.map { $0.addingReportingOverflow(leeway).overflow ? Int64.max : $0 + leeway }
    }

    /// What a variable holds of a claim or header member: a string as it is (unescaped), any other
    /// value as compact JSON. nil for a string with a control character other than tab: it could
    /// split the header line the variable is sent in (`proxy_set_header`).
    public static func variableText(_ value: JSONValue) -> [UInt8]? {
        let text = value.text
        return text.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) ? nil : text
    }
}
