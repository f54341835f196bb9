import BackendJWT

/// The verifier's parsers, which read what callers and identity providers send. The first byte
/// picks what the rest is:
/// - 0: a verification key file (JWK Set, JWK or PEM): keys are read or refused with a `.key`
///   error; keys that are read build a verifier or are refused with a `.config` error;
/// - 1: an `Authorization` value as it comes from a request: a token is found only after the
///   scheme `Bearer` (any case) and spaces, is the rest of the value, and never verifies;
/// - 2: a header and a payload, split at the first NUL byte, each base64url-encoded into a token
///   (so the JSON parser sees arbitrary header bytes);
/// - 3: an identity provider's response (backend_jwt_verify_jwks): a Cache-Control value and a
///   body, split at the first NUL byte; the set is taken or refused with a reason, and a taken
///   set has a usable key and a freshness within its bounds.
/// A token is refused with a `.token` error (it cannot verify: no input knows the key). Anything
/// else traps, and libFuzzer reports it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVerify(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let body = Array(input.dropFirst())
    switch input[0] % 4 {
    case 0:
        let keys: [VerificationKey]
        do {
            keys = try VerificationKey.parse(body, path: "fuzz.jwks")
        } catch {
            precondition(error.kind == .key, "unexpected \(error.kind): \(error.message)")
            return 0
        }
        precondition(!keys.isEmpty, "a key file that is read holds a key")
        let all = SigningAlgorithm.allCases.filter { $0 != .none }
        do {
            let verifier = try JWSVerifier(keys: keys, algorithms: all)
            precondition(!verifier.usableAlgorithms.isEmpty)
        } catch {
            precondition(error.kind == .config, "unexpected \(error.kind): \(error.message)")
        }
    case 1:
        body.withUnsafeBufferPointer { value in
            guard let token = TokenSource.authorization.token(in: value).token else { return }
            let scheme = Array("bearer".utf8)
            precondition(value.count > 7 && zip(value, scheme).allSatisfy { $0 | 0x20 == $1 } && value[6] == 0x20)
            precondition(!token.isEmpty && token.first != UInt8(ascii: " "), "a token starts after the spaces")
            precondition(token.baseAddress! + token.count == value.baseAddress! + value.count, "the rest of the value")
            check(Array(token))
        }
    case 3:
        let cut = body.firstIndex(of: 0) ?? body.endIndex
        let control = Array(body[..<cut])
        let freshness = RemoteKeySet.freshness(cacheControl: control)
        precondition(freshness >= RemoteKeySet.minimumFreshness && freshness <= RemoteKeySet.maximumFreshness)
        let set = RemoteKeySet(uri: Array("/_jwks".utf8))
        let fetched = Array(body[min(cut + 1, body.endIndex)...])
        if let keys = try? set.check(status: 200, body: fetched) {
            precondition(!keys.isEmpty, "a usable set has a usable key")
            // A worker parses the stored bytes again: the same keys.
            try! set.take(generation: 1, body: fetched)
            precondition(set.currentKeys.count == keys.count, "a stored set parses to the keys it was checked for")
        }
    default:
        let cut = body.firstIndex(of: 0) ?? body.endIndex
        let header = TokenEncoding.base64url.encode(Array(body[..<cut]))
        let payload = TokenEncoding.base64url.encode(Array(body[min(cut + 1, body.endIndex)...]))
        check(header + [UInt8(ascii: ".")] + payload + Array(".c2lnbmF0dXJl".utf8))
    }
    return 0
}

/// A verifier with an HS256 secret (kid k1) and an Ed25519 key (kid e1); libFuzzer runs one
/// input at a time, on one thread.
nonisolated(unsafe) private let verifier: JWSVerifier = {
    let jwks = #"""
        {"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
        {"kty":"OKP","crv":"Ed25519","kid":"e1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
        """#
    let keys = try! VerificationKey.parse(Array(jwks.utf8), path: "fuzz.jwks")
    return try! JWSVerifier(
        keys: keys, algorithms: [.hs256, .edDSA, .rs256], issuers: [Array("i".utf8)], audiences: [Array("a".utf8)])
}()

private func check(_ token: [UInt8]) {
    do {
        _ = try verifier.verify(token, now: 1_700_000_000)
        preconditionFailure("a token verified without the key")
    } catch {
        precondition(error.kind == .token, "unexpected \(error.kind): \(error.message)")
    }
}
