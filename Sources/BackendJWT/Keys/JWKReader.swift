import COpenSSL

/// Reads verification keys from a JWK Set or a single JWK (RFC 7517, RFC 7518 section 6,
/// RFC 8037): `kty` RSA (`n`, `e`), EC (`crv` P-256/P-384/P-521, `x`, `y`, the point checked to
/// be on the curve), OKP (`crv` Ed25519, `x`) and oct (`k`, an HMAC secret). Private members are
/// ignored: only the public half of a private JWK is used. `alg`, `use`, `key_ops` and `kid` are
/// kept on the key and decide which tokens it may verify.
struct JWKReader {
    let path: String
    /// A set fetched at run time (`backend_jwt_verify_jwks`): it must be a JWK Set; a member that
    /// cannot be used (malformed, too weak, another type) is skipped rather than refusing the
    /// whole set, since one odd key at the IdP must not stop every token; and an HMAC secret
    /// (`kty: oct`) is never taken from it: a secret served at a URI is not secret. Messages
    /// then begin with "the JWK Set" rather than the file's name.
    var fetched = false

    /// A JWK this verifier does not understand (RFC 7517 5: a set SHOULD skip it).
    private struct Unsupported: Error { let why: String }

    /// How messages name what is read.
    private var source: String { fetched ? "the JWK Set" : "verification key file \(quotedPath(path))" }

    private func error(_ what: String) -> BackendJWTError {
        BackendJWTError(.key, "\(source) \(what)")
    }

    func keys(fromJSON contents: [UInt8]) throws(BackendJWTError) -> [VerificationKey] {
        let root: JSONValue
        do {
            root = try JSONParser.parse(contents)
        } catch {
            throw self.error("is not valid JSON: \(error.description)")
        }
        guard let set = root[member: "keys"] else {
            if fetched { throw error("has no \"keys\" member: it is not a JWK Set") }
            // A single JWK: one that cannot be used is an error, not something to skip.
            do {
                return [try key(root, at: "the JWK")]
            } catch let unsupported as Unsupported {
                throw error("holds a JWK this verifier cannot use: \(unsupported.why)")
            } catch let failure as BackendJWTError {
                throw failure
            } catch {
                throw self.error("holds an unusable JWK")
            }
        }
        guard case .array(let elements) = set else { throw error("has a \"keys\" member that is not an array") }
        var keys: [VerificationKey] = []
        var skipped: [String] = []
        for (index, element) in elements.enumerated() {
            do {
                keys.append(try key(element, at: "JWK \(index + 1) of the set"))
            } catch let unsupported as Unsupported {
                skipped.append(unsupported.why)
            } catch let failure as BackendJWTError {
                guard fetched else { throw failure }
                let prefix = "\(source) has "
                let message = failure.message
                skipped.append(message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message)
            } catch {
                throw self.error("holds an unusable JWK")
            }
        }
        guard !keys.isEmpty else {
            // a fetched set's reasons go to the error log: a few are enough
            let shown = fetched && skipped.count > 3 ? skipped.prefix(3) + ["\(skipped.count - 3) more"] : skipped[...]
            let why = shown.isEmpty ? "" : " (\(shown.joined(separator: "; ")))"
            let what = fetched ? "has no key" : "is a JWK Set with no key"
            throw error("\(what) this verifier can use\(why)")
        }
        return keys
    }

    /// One JWK. Throws `Unsupported` for a key type or curve this verifier does not handle.
    private func key(_ jwk: JSONValue, at place: String) throws -> VerificationKey {
        guard case .object = jwk else { throw error("has \(place) that is not a JSON object") }
        func fail(_ what: String) -> BackendJWTError { error("has \(place) \(what)") }
        func text(_ name: String) throws(BackendJWTError) -> [UInt8]? {
            guard let value = jwk[member: name] else { return nil }
            guard let bytes = value.stringBytes else { throw fail("whose \"\(name)\" is not a string") }
            return bytes
        }
        func bytes(_ name: String) throws(BackendJWTError) -> [UInt8] {
            guard let encoded = try text(name) else { throw fail("without \"\(name)\"") }
            guard let decoded = Base64URLDecoding.decode(encoded) else {
                throw fail("whose \"\(name)\" is not base64url: it \(Base64URLDecoding.whyNot(encoded))")
            }
            guard !decoded.isEmpty else { throw fail("whose \"\(name)\" is empty") }
            return decoded
        }
        guard let kty = try text("kty") else { throw fail("without \"kty\"") }
        let keyID = try text("kid")
        let algorithm = try text("alg")
        let use = try text("use")
        var operations: [[UInt8]]?
        if let ops = jwk[member: "key_ops"] {
            guard case .array(let list) = ops, let names = Optional(list.compactMap(\.stringBytes)),
                names.count == list.count, Set(names).count == names.count
            else { throw fail("whose \"key_ops\" is not an array of distinct strings") }
            operations = names
        }
        let shownKid = keyID.map { " (kid \(quoted($0)))" } ?? ""
        let pkey: OpaquePointer
        switch String(decoding: kty, as: UTF8.self) {
        case "RSA":
            pkey = try rsa(n: bytes("n"), e: bytes("e"), fail: fail)
        case "EC":
            let crv = try text("crv") ?? []
            guard
                let curve = SigningAlgorithm.allCases.lazy.compactMap(\.curve).first(where: {
                    Array($0.jwk.utf8) == crv
                })
            else { throw Unsupported(why: "EC curve \(quoted(crv))\(shownKid) is not P-256, P-384 or P-521") }
            pkey = try ec(curve, x: bytes("x"), y: bytes("y"), fail: fail)
        case "OKP":
            let crv = try text("crv") ?? []
            guard crv == Array("Ed25519".utf8) else {
                throw Unsupported(why: "OKP curve \(quoted(crv))\(shownKid) is not Ed25519")
            }
            let x = try bytes("x")
            guard x.count == 32, let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, x, x.count) else {
                ERR_clear_error()
                throw fail("whose Ed25519 \"x\" is not 32 bytes")
            }
            pkey = key
        case "oct":
            if fetched {
                throw Unsupported(why: "an HMAC secret (kty \"oct\")\(shownKid) is never taken from a fetched set")
            }
            let k = try bytes("k")
            return VerificationKey(
                pkey: nil, secret: k, type: .secret(bytes: k.count), path: path, keyID: keyID,
                declaredAlgorithm: algorithm, use: use, operations: operations)
        default:
            throw Unsupported(why: "kty \(quoted(kty))\(shownKid) is not RSA, EC, OKP or oct")
        }
        let (type, why) = VerificationKey.checkedType(of: pkey)
        guard let type else {
            EVP_PKEY_free(pkey)
            throw fail("that is \(why)")
        }
        return VerificationKey(
            pkey: pkey, secret: [], type: type, path: path, keyID: keyID, declaredAlgorithm: algorithm, use: use,
            operations: operations)
    }

    /// An RSA public key from its modulus and exponent (big-endian), checked by OpenSSL.
    private func rsa(n: [UInt8], e: [UInt8], fail: (String) -> BackendJWTError) throws(BackendJWTError) -> OpaquePointer
    {
        guard let builder = OSSL_PARAM_BLD_new() else { throw SigningKey.openSSLError("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        let modulus = BN_bin2bn(n, Int32(n.count), nil)
        let exponent = BN_bin2bn(e, Int32(e.count), nil)
        defer {
            BN_free(modulus)
            BN_free(exponent)
        }
        guard OSSL_PARAM_BLD_push_BN(builder, ParameterName.n, modulus) == 1,
            OSSL_PARAM_BLD_push_BN(builder, ParameterName.e, exponent) == 1,
            let params = OSSL_PARAM_BLD_to_param(builder)
        else { throw SigningKey.openSSLError("OSSL_PARAM_BLD") }
        defer { OSSL_PARAM_free(params) }
        guard let key = Self.fromData("RSA", params) else {
            throw fail("whose \"n\" and \"e\" are not an RSA public key")
        }
        return key
    }

    /// An EC public key from its coordinates, each exactly the curve's size; the point must be on
    /// the curve (OpenSSL checks it when decoding, and `EVP_PKEY_public_check` again).
    private func ec(
        _ curve: (group: String, jwk: String, coordinateBytes: Int), x: [UInt8], y: [UInt8],
        fail: (String) -> BackendJWTError
    ) throws(BackendJWTError) -> OpaquePointer {
        guard x.count == curve.coordinateBytes, y.count == curve.coordinateBytes else {
            throw fail("whose \"x\" and \"y\" are not \(curve.coordinateBytes) bytes each, as \(curve.jwk) needs")
        }
        var point = [0x04] + x + y
        var group = Array(curve.group.utf8CString)
        let key: OpaquePointer? = group.withUnsafeMutableBufferPointer { name in
            point.withUnsafeMutableBytes { octets in
                var params = [
                    OSSL_PARAM_construct_utf8_string(ParameterName.group, name.baseAddress, 0),
                    OSSL_PARAM_construct_octet_string(ParameterName.pub, octets.baseAddress, octets.count),
                    OSSL_PARAM_construct_end(),
                ]
                return params.withUnsafeMutableBufferPointer { Self.fromData("EC", $0.baseAddress) }
            }
        }
        guard let key else { throw fail("whose point (\"x\", \"y\") is not on \(curve.jwk)") }
        return key
    }

    /// EVP_PKEY_PUBLIC_KEY, a macro Swift does not import: the public key and all parameters.
    private static let publicKeySelection =
        OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS
        | OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS

    /// A public key from OpenSSL parameters, passing `EVP_PKEY_public_check`; nil otherwise.
    private static func fromData(_ type: String, _ params: UnsafeMutablePointer<OSSL_PARAM>?) -> OpaquePointer? {
        defer { ERR_clear_error() }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &key, publicKeySelection, params) == 1,
            let key
        else { return nil }
        guard let check = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
            EVP_PKEY_free(key)
            return nil
        }
        defer { EVP_PKEY_CTX_free(check) }
        guard EVP_PKEY_public_check(check) == 1 else {
            EVP_PKEY_free(key)
            return nil
        }
        return key
    }
}

/// OpenSSL parameter names that outlive the call: `OSSL_PARAM` and `OSSL_PARAM_BLD` keep the
/// pointer to the name, and a Swift string passed as `const char *` is only valid during the call.
private enum ParameterName {
    nonisolated(unsafe) static let n = permanent("n")
    nonisolated(unsafe) static let e = permanent("e")
    nonisolated(unsafe) static let group = permanent("group")
    nonisolated(unsafe) static let pub = permanent("pub")

    private static func permanent(_ name: String) -> UnsafePointer<CChar> {
        let bytes = Array(name.utf8CString)
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        storage.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(storage)
    }
}
