/// A JWS signing algorithm (RFC 7518). The raw values are the C ABI's BJWT_ALG_* constants.
public enum SigningAlgorithm: Int32, Sendable, CaseIterable {
    case none = 0
    case rs256 = 1

    /// The `alg` header value.
    public var joseName: String {
        switch self {
        case .none: "none"
        case .rs256: "RS256"
        }
    }

    /// The names `backend_jwt_signing_algorithm` accepts, case-insensitively: the JOSE name and
    /// the Java-style name WSO2 uses.
    var acceptedNames: [String] {
        switch self {
        case .none: ["none"]
        case .rs256: ["rs256", "sha256withrsa"]
        }
    }

    /// Parses a `backend_jwt_signing_algorithm` value.
    public static func parse<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> SigningAlgorithm
    where Bytes.Element == UInt8 {
        for algorithm in allCases where algorithm.acceptedNames.contains(where: text.equalsIgnoringCase) {
            return algorithm
        }
        throw BackendJWTError(
            .config, "unknown signing algorithm \(quoted(text)); use SHA256withRSA (or RS256) or NONE")
    }
}
