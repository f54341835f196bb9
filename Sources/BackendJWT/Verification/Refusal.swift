/// Why a caller's token is refused: the one word an operator sees in `$backend_jwt_in_error` and
/// in the `reason` label of `backend_jwt_verify_refused_total`. The raw values are the C ABI's
/// BJWT_REFUSED_* constants (0 is BJWT_VERIFIED, no refusal).
public enum Refusal: Int32, CaseIterable, Sendable {
    /// No token: no `Authorization: Bearer`, or an empty `token=` value.
    case missing = 1
    /// Not a JWS this verifier reads: segments, base64url, JSON, header members, size.
    case malformed = 2
    /// No key verifies the signature.
    case signature = 3
    /// No key has the token's `kid`.
    case unknownKid = 4
    /// `alg` is `none`, unknown or not allowed, or no key with the `kid` can verify it.
    case algorithm = 5
    /// `exp` has passed, or the token has none where one is required.
    case expired = 6
    /// `nbf` has not come yet, or `iat` is in the future.
    case notYetValid = 7
    case issuer = 8
    case audience = 9
    /// A `backend_jwt_verify_require` (or `_require_claim`) condition does not hold.
    case require = 10
    /// No key to verify with: the JWK Set is not there (503, not the caller's fault).
    case noKeys = 11

    /// The word, static so the C ABI can hand it out as is.
    public var word: StaticString {
        switch self {
        case .missing: "missing"
        case .malformed: "malformed"
        case .signature: "signature"
        case .unknownKid: "unknown_kid"
        case .algorithm: "algorithm"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .issuer: "issuer"
        case .audience: "audience"
        case .require: "require"
        case .noKeys: "no_keys"
        }
    }
}
