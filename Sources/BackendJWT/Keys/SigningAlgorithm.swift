import COpenSSL

/// A JWS signing algorithm (RFC 7518 section 3, RFC 8037 for EdDSA). The raw values are the C
/// ABI's BJWT_ALG_* constants.
public enum SigningAlgorithm: Int32, Sendable, CaseIterable {
    case none = 0
    case rs256 = 1, rs384 = 2, rs512 = 3
    case ps256 = 4, ps384 = 5, ps512 = 6
    case es256 = 7, es384 = 8, es512 = 9
    case hs256 = 10, hs384 = 11, hs512 = 12
    case edDSA = 13

    /// How an algorithm signs, which decides the key it needs.
    public enum Family: Sendable {
        case none, hmac, rsa, rsaPSS, ecdsa, edDSA
    }

    public var family: Family {
        switch self {
        case .none: .none
        case .hs256, .hs384, .hs512: .hmac
        case .rs256, .rs384, .rs512: .rsa
        case .ps256, .ps384, .ps512: .rsaPSS
        case .es256, .es384, .es512: .ecdsa
        case .edDSA: .edDSA
        }
    }

    /// The `alg` header value.
    public var joseName: String {
        switch self {
        case .none: "none"
        case .rs256: "RS256"
        case .rs384: "RS384"
        case .rs512: "RS512"
        case .ps256: "PS256"
        case .ps384: "PS384"
        case .ps512: "PS512"
        case .es256: "ES256"
        case .es384: "ES384"
        case .es512: "ES512"
        case .hs256: "HS256"
        case .hs384: "HS384"
        case .hs512: "HS512"
        case .edDSA: "EdDSA"
        }
    }

    /// The `alg` header value as bytes, from a table: a verifier compares it with every token's
    /// header, so it is not built per request.
    var joseBytes: [UInt8] { Self.joseTable[Int(rawValue)] }

    /// The algorithm whose `alg` value is exactly `name` (case-sensitive, RFC 7515 4.1.1).
    static func named(_ name: [UInt8]) -> SigningAlgorithm? {
        for algorithm in allCases where joseTable[Int(algorithm.rawValue)] == name { return algorithm }
        return nil
    }

    /// Indexed by raw value (the cases are declared in raw-value order).
    private static let joseTable: [[UInt8]] = allCases.map { Array($0.joseName.utf8) }

    /// A bit per algorithm, for sets of them.
    var bit: UInt16 { 1 << UInt16(rawValue) }

    /// SHA-2 output size in bytes (0 where the algorithm hashes internally or not at all).
    var hashBytes: Int {
        switch self {
        case .rs256, .ps256, .es256, .hs256: 32
        case .rs384, .ps384, .es384, .hs384: 48
        case .rs512, .ps512, .es512, .hs512: 64
        case .none, .edDSA: 0
        }
    }

    /// The OpenSSL name of the SHA-2 digest the algorithm uses ("SHA256"); nil for EdDSA (which
    /// hashes itself) and none.
    var digestName: String? { hashBytes == 0 ? nil : "SHA\(hashBytes * 8)" }

    /// The JOSE curve of an OpenSSL group name (prime256v1 is P-256), if JOSE names it.
    static func curve(group: String) -> (group: String, jwk: String, coordinateBytes: Int)? {
        allCases.lazy.compactMap(\.curve).first { $0.group == group }
    }

    /// The curve an ECDSA algorithm needs (RFC 7518 3.4): its OpenSSL group name and JWK name.
    var curve: (group: String, jwk: String, coordinateBytes: Int)? {
        switch self {
        case .es256: ("prime256v1", "P-256", 32)
        case .es384: ("secp384r1", "P-384", 48)
        case .es512: ("secp521r1", "P-521", 66)
        default: nil
        }
    }

    /// The names `backend_jwt_signing_algorithm` accepts, case-insensitively: the JOSE name and
    /// the Java-style names WSO2 and other gateways use.
    var acceptedNames: [String] {
        let bits = String(hashBytes * 8)
        switch family {
        case .none: return ["none"]
        case .hmac: return [joseName.lowercased(), "hmacsha\(bits)"]
        case .rsa: return [joseName.lowercased(), "sha\(bits)withrsa"]
        case .rsaPSS: return [joseName.lowercased(), "sha\(bits)withrsaandmgf1", "sha\(bits)withrsa/pss"]
        case .ecdsa: return [joseName.lowercased(), "sha\(bits)withecdsa"]
        case .edDSA: return ["eddsa", "ed25519"]
        }
    }

    /// Parses a `backend_jwt_signing_algorithm` value.
    public static func parse<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> SigningAlgorithm
    where Bytes.Element == UInt8 {
        for algorithm in allCases where algorithm.acceptedNames.contains(where: text.equalsIgnoringCase) {
            return algorithm
        }
        throw BackendJWTError(
            .config,
            "unknown signing algorithm \(quoted(text)); use one of HS256, HS384, HS512, RS256, RS384, RS512, "
                + "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, NONE or a Java-style name such as SHA256withRSA")
    }
}
