/// Verifies a caller's JWT (`backend_jwt_verify`): a strict JWS in compact form (RFC 7515, RFC
/// 7519, RFC 8725) signed by one of the configured keys with an allowed algorithm, whose claims
/// pass the configured checks. Built at configuration time; `verify` is synchronous, allocates
/// only for the token at hand, and may run in every worker.
///
/// The keys are the configured ones (`backend_jwt_verify_key`) and, with `remote`, those of a
/// JWK Set the module fetches at run time (`backend_jwt_verify_jwks`). With `cacheSize`, tokens
/// that verified are kept (`backend_jwt_verify_cache`) and a repeated one skips the signature.
public final class JWSVerifier {
    /// Tokens larger than this are refused before any parsing (16 KiB: an access token with a
    /// few dozen roles is 1 to 4 KiB; nginx's default `large_client_header_buffers` is 8 KiB).
    public static let defaultMaximumTokenSize = 16 * 1024

    /// The allow-list when none is configured: every RS, PS, ES and EdDSA algorithm. HS
    /// algorithms are never allowed unless listed; `none` can never be.
    public static let defaultAlgorithms: [SigningAlgorithm] = [
        .rs256, .rs384, .rs512, .ps256, .ps384, .ps512, .es256, .es384, .es512, .edDSA,
    ]

    /// The configured keys (may be empty when `remote` is set).
    public let keys: [VerificationKey]
    /// The JWK Set fetched at run time, shared by every verifier that names its URI; nil: only
    /// `keys`.
    public let remote: RemoteKeySet?
    /// The verified tokens kept (`backend_jwt_verify_cache`); nil: none.
    public let cache: VerifiedTokenCache?
    public let algorithms: [SigningAlgorithm]
    /// The token's `iss` must equal one of these; empty: `iss` is not checked.
    public let issuers: [[UInt8]]
    /// One of the token's `aud` values must equal one of these; empty: `aud` is not checked.
    public let audiences: [[UInt8]]
    /// Seconds of clock skew allowed for `exp`, `nbf` and `iat`.
    public let leeway: Int64
    /// Whether a token without `exp` is refused (RFC 8725 asks for bounded lifetimes).
    public let requireExpiration: Bool
    public let maximumTokenSize: Int

    /// A verifier with the given settings. Refuses (`.config`): no key (and no `remote` set),
    /// `none` or an empty list among the algorithms, a negative leeway, a size limit under 64
    /// bytes, a cache size outside 1...1000000, and an allow-list that no key can serve (such as
    /// only HS256 with RSA keys; with a `remote` set, which may bring keys of any other type, only
    /// an allow-list of HS algorithms alone that no configured secret serves, since a fetched set
    /// never supplies secrets).
    public init(
        keys: [VerificationKey], algorithms: [SigningAlgorithm]? = nil, issuers: [[UInt8]] = [],
        audiences: [[UInt8]] = [], leeway: Int64 = 0, requireExpiration: Bool = true,
        maximumTokenSize: Int = JWSVerifier.defaultMaximumTokenSize, remote: RemoteKeySet? = nil,
        cacheSize: Int? = nil
    ) throws(BackendJWTError) {
        let algorithms = algorithms ?? Self.defaultAlgorithms
        guard !keys.isEmpty || remote != nil else {
            throw BackendJWTError(.config, "token verification needs at least one key")
        }
        guard !algorithms.isEmpty else {
            throw BackendJWTError(.config, "the list of verification algorithms is empty")
        }
        guard !algorithms.contains(.none) else {
            throw BackendJWTError(.config, "\"none\" can never be a verification algorithm (RFC 8725 3.1)")
        }
        guard leeway >= 0 else { throw BackendJWTError(.config, "the verification leeway cannot be negative") }
        guard maximumTokenSize >= 64 else {
            throw BackendJWTError(.config, "a maximum token size of \(maximumTokenSize) bytes is too small")
        }
        self.keys = keys
        self.remote = remote
        self.cache = try cacheSize.map { (size) throws(BackendJWTError) in try VerifiedTokenCache(capacity: size) }
        self.algorithms = algorithms
        self.issuers = issuers
        self.audiences = audiences
        self.leeway = leeway
        self.requireExpiration = requireExpiration
        self.maximumTokenSize = maximumTokenSize
        let names = algorithms.map(\.joseName).joined(separator: " ")
        if remote == nil, usableAlgorithms.isEmpty {
            let types = keys.map(\.summary).joined(separator: ", ")
            throw BackendJWTError(
                .config, "no verification key can verify any allowed algorithm (\(names)); the keys are: \(types)")
        }
        if remote != nil, usableAlgorithms.isEmpty, algorithms.allSatisfy({ $0.family == .hmac }) {
            throw BackendJWTError(
                .config,
                "no verification key can verify any allowed algorithm (\(names)): a fetched JWK Set never supplies "
                    + "HMAC secrets")
        }
    }

    /// The allowed algorithms that at least one configured key can verify.
    public var usableAlgorithms: [SigningAlgorithm] {
        algorithms.filter { algorithm in keys.contains { $0.canVerify(algorithm) } }
    }

    /// Parses one `backend_jwt_verify_algorithms` value: a JOSE name (RFC 7518, RFC 8037),
    /// ASCII case-insensitively. `none` is refused with its own message.
    public static func parseAlgorithm<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> SigningAlgorithm
    where Bytes.Element == UInt8 {
        if text.equalsIgnoringCase("none") {
            throw BackendJWTError(.config, "\"none\" can never be a verification algorithm (RFC 8725 3.1)")
        }
        for algorithm in SigningAlgorithm.allCases where text.equalsIgnoringCase(algorithm.joseName.lowercased()) {
            return algorithm
        }
        throw BackendJWTError(
            .config,
            "unknown verification algorithm \(quoted(text)); use RS256, RS384, RS512, PS256, PS384, PS512, "
                + "ES256, ES384, ES512, EdDSA, HS256, HS384 or HS512")
    }

    /// Verifies `token` (the bytes of the compact JWS) at time `now` (seconds since the epoch).
    /// Throws `.token` with a reason fit for an `info` log line: it never holds the token, and
    /// the header values it names (`alg`, `kid`, `iss`) are quoted and cut. With a `remote` set,
    /// a token no key verifies throws `.unknownKey` when the set may lack its key (its `kid` is
    /// nowhere, or it has none), and `.unavailable` when the set has no usable key (the message
    /// then names the URI and the last fetch's failure). A token kept in the `cache` is checked
    /// again for its times only (the cache belongs to this verifier: its `iss` and `aud` passed).
    public func verify(_ token: UnsafeBufferPointer<UInt8>, now: Int64) throws(BackendJWTError) -> VerifiedToken {
        guard token.count <= maximumTokenSize else {
            throw refused("the token is \(token.count) bytes, over the limit of \(maximumTokenSize)")
        }
        guard let cache else { return try verifyFully(Array(token), now: now) }
        let raw = UnsafeRawBufferPointer(token)
        let hash = BytesHash.hash(raw)
        if let entry = cache.lookup(hash: hash, token: raw), let kept = try reuse(entry, from: cache, now: now) {
            return kept
        }
        return try verifyAndKeep(Array(token), hash: hash, in: cache, now: now)
    }

    /// Same, for a token in an array.
    public func verify(_ token: [UInt8], now: Int64) throws(BackendJWTError) -> VerifiedToken {
        guard token.count <= maximumTokenSize else {
            throw refused("the token is \(token.count) bytes, over the limit of \(maximumTokenSize)")
        }
        guard let cache else { return try verifyFully(token, now: now) }
        let hash = token.withUnsafeBytes { BytesHash.hash($0) }
        if let entry = token.withUnsafeBytes({ cache.lookup(hash: hash, token: $0) }),
            let kept = try reuse(entry, from: cache, now: now)
        {
            return kept
        }
        return try verifyAndKeep(token, hash: hash, in: cache, now: now)
    }

    /// Parses and verifies a token: header, signature, claims.
    private func verifyFully(_ token: [UInt8], now: Int64) throws(BackendJWTError) -> VerifiedToken {
        let parts = try TokenParts(token)
        let (algorithm, keyID) = try checkHeader(parts.header)
        let key = try verifySignature(parts, algorithm: algorithm, keyID: keyID, now: now)
        let payload = try parts.decodePayload()
        let times = try checkClaims(payload, now: now)
        return VerifiedToken(
            header: parts.header, payload: payload, algorithm: algorithm, key: key, leeway: leeway, times: times)
    }

    /// Verifies a token the cache does not have, and keeps it.
    private func verifyAndKeep(_ token: [UInt8], hash: Int, in cache: VerifiedTokenCache, now: Int64)
        throws(BackendJWTError) -> VerifiedToken
    {
        let verified = try verifyFully(token, now: now)
        // a key of the fetched set may go with the next set: remember which set verified it
        let configured = keys.contains { $0 === verified.key }
        cache.store(
            hash: hash, token: token, verified: verified, remoteGeneration: configured ? nil : remote?.generation)
        return verified
    }

    /// A kept token, if it may still be served: its times pass at `now` (else it is refused as
    /// verification would refuse it, and forgotten), and a fetched key that verified it is still
    /// in a usable set (else nil: it is verified again).
    private func reuse(_ entry: VerifiedTokenCache.Entry, from cache: VerifiedTokenCache, now: Int64)
        throws(BackendJWTError) -> VerifiedToken?
    {
        if let generation = entry.remoteGeneration {
            guard let remote, remote.generation == generation, remote.hasKeys(now: now) else {
                cache.remove(entry)
                return nil
            }
        }
        do {
            try checkTimes(entry.verified.times, now: now)
        } catch {
            cache.remove(entry)
            throw error
        }
        return entry.verified
    }

    /// The algorithm named by `alg` (known, allowed, never `none`) and the `kid`; refuses
    /// JWE members and any `crit`.
    private func checkHeader(_ header: JSONValue) throws(BackendJWTError) -> (SigningAlgorithm, [UInt8]?) {
        if header[known: "enc"] != nil || header[known: "zip"] != nil {
            throw refused("the header has \"enc\" or \"zip\": an encrypted token (JWE) is not accepted")
        }
        if let crit = header[known: "crit"] {
            // No extension is implemented here, so any critical one is refused (RFC 7515 4.1.11).
            throw refused(
                "the header's \"crit\" names extensions this verifier does not implement: \(quoted(crit.compactJSON))")
        }
        guard let alg = header[known: "alg"] else { throw refused("the header has no \"alg\"") }
        guard let name = alg.stringBytes else { throw refused("the header's \"alg\" is not a string") }
        guard name != SigningAlgorithm.none.joseBytes else { throw refused("alg \"none\" is never accepted", .algorithm) }
        guard let algorithm = SigningAlgorithm.named(name) else {
            throw refused("alg \(quoted(name)) is not a JWS algorithm this verifier knows", .algorithm)
        }
        guard algorithms.contains(algorithm) else { throw refused("alg \(algorithm.joseName) is not allowed", .algorithm) }
        var keyID: [UInt8]?
        if let kid = header[known: "kid"] {
            guard let bytes = kid.stringBytes else { throw refused("the header's \"kid\" is not a string") }
            keyID = bytes
        }
        return (algorithm, keyID)
    }

    /// The keys that may verify this token: with a `kid`, the keys with that kid (and keys
    /// that have none, such as PEM keys), never others; without one, every key. Of those, the
    /// ones that fit the algorithm. The signature must verify with one of them. The keys are the
    /// configured ones and the usable ones of the fetched set. (Counted and tried in place: no
    /// list of candidates is made per token.)
    private func verifySignature(_ parts: TokenParts, algorithm: SigningAlgorithm, keyID: [UInt8]?, now: Int64)
        throws(BackendJWTError) -> VerificationKey
    {
        let fetched = remote?.keys(now: now) ?? []
        func missing(_ reason: String, _ refusal: Refusal) -> BackendJWTError {
            // a kid some key has: a failure is the token's, whatever a refetch would bring
            let kidKnown = keyID.map { id in keys.contains { $0.keyID == id } || fetched.contains { $0.keyID == id } }
            guard let remote, kidKnown != true else { return refused(reason, refusal) }
            guard !fetched.isEmpty else { return BackendJWTError(.unavailable, remote.unavailableReason(now: now)) }
            return BackendJWTError(.unknownKey, reason)
        }
        func kidFits(_ key: VerificationKey) -> Bool { keyID == nil || key.keyID == nil || key.keyID == keyID }
        func isCandidate(_ key: VerificationKey) -> Bool { kidFits(key) && key.canVerify(algorithm) }
        if keyID != nil, !keys.contains(where: kidFits), !fetched.contains(where: kidFits) {
            throw missing("no verification key has kid \(quoted(keyID!))", .unknownKid)
        }
        let count = keys.count(where: isCandidate) + fetched.count(where: isCandidate)
        guard count > 0 else {
            let which = keyID.map { "with kid \(quoted($0)) " } ?? ""
            throw missing("no verification key \(which)can verify \(algorithm.joseName)", .algorithm)
        }
        let signature = try parts.decodeSignature()
        let input = parts.signingInput
        for key in keys where isCandidate(key) && key.verifies(signature, of: input, algorithm: algorithm) { return key }
        for key in fetched where isCandidate(key) && key.verifies(signature, of: input, algorithm: algorithm) {
            return key
        }
        let first = keys.first(where: isCandidate) ?? fetched.first(where: isCandidate)!
        let tried = count == 1 ? first.summary : "any of \(count) keys"
        throw missing("the \(algorithm.joseName) signature does not verify with \(tried)", .signature)
    }

    /// A refusal of the caller's token: the message for the log, the word for operators.
    func refused(_ reason: String, _ refusal: Refusal = .malformed) -> BackendJWTError {
        BackendJWTError(.token, reason, refusal: refusal)
    }
}
