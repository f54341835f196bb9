/// The optional arguments of the key directives: `password_file=`, `encoding=`, `alg=`.
public enum KeyOptions {
    /// `backend_jwt_signing_key`'s `password_file=FILE`: the password file's path, made absolute
    /// against `prefix` (nginx's configuration directory) when relative.
    public static func passwordFile<Option: Collection, Prefix: Collection>(_ option: Option, prefix: Prefix)
        throws(BackendJWTError) -> [UInt8]
    where Option.Element == UInt8, Prefix.Element == UInt8 {
        let name = Array("password_file=".utf8)
        let bytes = Array(option)
        guard bytes.starts(with: name), bytes.count > name.count else {
            throw BackendJWTError(.config, "unknown option \(quoted(bytes)); the only option is password_file=FILE")
        }
        let path = Array(bytes[name.count...])
        return path.first == UInt8(ascii: "/") ? path : Array(prefix) + path
    }

    /// `backend_jwt_jwks_key`'s `alg=NAME`: the algorithm the published key is for.
    public static func algorithm<Option: Collection>(_ option: Option) throws(BackendJWTError) -> SigningAlgorithm
    where Option.Element == UInt8 {
        let name = Array("alg=".utf8)
        let bytes = Array(option)
        guard bytes.starts(with: name) else {
            throw BackendJWTError(.config, "unknown option \(quoted(bytes)); the only option is alg=ALGORITHM")
        }
        return try SigningAlgorithm.parse(bytes[name.count...])
    }

    /// `backend_jwt_key_id`: a custom kid, printable UTF-8 of at most 256 bytes.
    public static func checkKeyID<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError)
    where Bytes.Element == UInt8 {
        guard !text.isEmpty, text.count <= 256, String(validating: text, as: UTF8.self) != nil,
            !text.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else {
            throw BackendJWTError(.config, "invalid key id \(quoted(text)): use 1 to 256 bytes of printable UTF-8, or off")
        }
        // The kid is fixed per location (it is in the JOSE header every token shares): a `$`
        // would go out as the literal text of what was meant to be a variable.
        guard !text.contains(UInt8(ascii: "$")) else {
            throw BackendJWTError(
                .config, "invalid key id \(quoted(text)): variables are not supported here; write the kid without \"$\"")
        }
    }
}
