import COpenSSL

/// Mints the tokens of one location: everything constant about them (algorithm, encoding, TTL,
/// key, custom claims) is fixed when nginx merges the configuration; per request only the
/// values and the time change.
public final class Signer {
    public let algorithm: SigningAlgorithm
    public let encoding: TokenEncoding
    public let ttl: Int64
    public let claims: [ClaimList.Claim]
    /// The claims copied from the caller's verified token (`backend_jwt_copy_claims`).
    public let copies: ClaimCopies?
    /// Whether the minted `exp` is cut to the caller's (`backend_jwt_caller_exp cap`).
    public let capToCaller: Bool
    let key: SigningKey?
    let certificate: Certificate?
    /// The `kid` header value, if any.
    public let keyID: [UInt8]?

    /// Where the JOSE header's `kid` comes from (`backend_jwt_key_id`).
    public enum KeyIDSource: Equatable, Sendable {
        /// The RFC 7638 thumbprint of the public key (none for HMAC secrets).
        case thumbprint
        case off
        case custom([UInt8])
    }

    /// The registered claims beside `iss`, `sub`, `iat` and `exp`.
    public struct Registered: Sendable, Equatable {
        /// How many `backend_jwt_audience` values come after the subject.
        public var audienceCount: Int
        /// `nbf` = `iat` minus this leeway (`backend_jwt_not_before`); nil: no `nbf`.
        public var notBeforeLeeway: Int64?
        /// Whether tokens carry a `jti` (`backend_jwt_jti`).
        public var jti: Bool
        /// Which of `iss`, `sub` and `aud` fail the request when their value is empty
        /// (`if_empty=fail`) instead of being left out.
        public var required: RequiredClaims

        public init(
            audienceCount: Int = 0, notBeforeLeeway: Int64? = nil, jti: Bool = true, required: RequiredClaims = []
        ) {
            self.audienceCount = audienceCount
            self.notBeforeLeeway = notBeforeLeeway
            self.jti = jti
            self.required = required
        }
    }

    /// `iss`, `sub` and `aud` given with `if_empty=fail` (the bits of the ABI's BJWT_REQUIRE_*).
    public struct RequiredClaims: OptionSet, Sendable, Equatable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let issuer = RequiredClaims(rawValue: 1)
        public static let subject = RequiredClaims(rawValue: 2)
        public static let audience = RequiredClaims(rawValue: 4)

        /// Parses the option of `backend_jwt_issuer`, `_subject` and `_audience`:
        /// `if_empty=omit` (the default) or `if_empty=fail`.
        public static func parseIfEmpty(_ option: [UInt8]) throws(BackendJWTError) -> Bool {
            let text = String(decoding: option, as: UTF8.self)
            switch text.lowercased() {
            case "if_empty=omit": return false
            case "if_empty=fail": return true
            default:
                throw BackendJWTError(
                    .config,
                    "invalid option \(quoted(option)); use if_empty=omit or if_empty=fail (null and empty are not valid values of iss, sub and aud)"
                )
            }
        }
    }

    public let registered: Registered

    /// The encoded JOSE header and the `.` after it: the same for every token.
    private let headerSegment: [UInt8]
    /// The most bytes the encoded signature takes (asked of OpenSSL once, not per token).
    private let encodedSignatureBound: Int
    /// The custom claims' members, nested objects shared.
    private let claimTree: ClaimTree
    private let cache: TokenCache?
    /// The top-level names `*` does not copy.
    private let skippedByAll: Set<[UInt8]>

    // Per worker, reused by every token: nginx workers are single-threaded, and each has its
    // own copy of the signer after the fork. So no two accesses to these overlap, and their
    // exclusivity is not checked at run time (about 80 instructions per access).
    @exclusivity(unchecked) private var scratch = JSONWriter(capacity: 1024)
    @exclusivity(unchecked) private var context: SigningContext?
    /// Internal, not private: tests pin `jti` (`RandomBlock(fixed:)`).
    @exclusivity(unchecked) var random = RandomBlock()
    @exclusivity(unchecked) private var cacheKeyBytes: [UInt8] = []
    /// Where tokens, cache hits and failures are counted (`backend_jwt_status`); nil: nowhere.
    @exclusivity(unchecked) public var metrics: Counters?
    /// The members copied from the last caller (`,"name":value` each) and their bound, with
    /// that caller's claims: a caller that repeats its token (kept by the verified-token cache,
    /// so the same claims in the same memory) has them written once, not per request.
    private var lastCopied: (claims: JSONValue, copied: [UInt8], bound: Int)?

    public init(
        algorithm: SigningAlgorithm, encoding: TokenEncoding, ttl: Int64, key: SigningKey?,
        certificate: Certificate? = nil, keyID: KeyIDSource = .thumbprint, registered: Registered = Registered(),
        cache: (size: Int, remaining: TokenCache.Remaining)? = nil, claims: [ClaimList.Claim],
        copies: ClaimCopies? = nil, capToCaller: Bool = true
    ) throws(BackendJWTError) {
        if algorithm != .none {
            guard let key else {
                let directive = algorithm.family == .hmac ? "backend_jwt_signing_secret" : "backend_jwt_signing_key"
                throw BackendJWTError(.config, "no signing key: \(algorithm.joseName) needs \(directive)")
            }
            try key.check(for: algorithm)
            if let certificate { try certificate.check(matches: key) }
        }
        guard ttl > 0, ttl <= TokenTTL.maximum else {
            throw BackendJWTError(.config, "token TTL \(ttl) is out of range")
        }
        for (index, claim) in claims.enumerated() {
            // ClaimList refuses these; a list assembled by hand must not reach ClaimTree.
            try ClaimList.checkConflicts(claim.path, name: claim.name, with: Array(claims[..<index]))
        }
        try copies?.checkConflicts(with: claims)
        guard registered.audienceCount >= 0, registered.audienceCount <= 1024, (registered.notBeforeLeeway ?? 0) >= 0,
            (registered.notBeforeLeeway ?? 0) <= TokenTTL.maximum
        else {
            throw BackendJWTError(.config, "audience count or not-before leeway is out of range")
        }
        self.registered = registered
        self.algorithm = algorithm
        self.encoding = encoding
        self.ttl = ttl
        self.key = algorithm == .none ? nil : key
        self.certificate = algorithm == .none ? nil : certificate
        self.claims = claims
        self.copies = copies
        self.capToCaller = capToCaller
        skippedByAll = copies?.skippedByAll(declared: claims) ?? []
        switch keyID {
        case .thumbprint: self.keyID = try self.key?.thumbprint()
        case .off: self.keyID = nil
        case .custom(let text): self.keyID = algorithm == .none ? nil : text
        }
        var header = JSONWriter()
        header.append("{\"alg\":")
        header.appendString(Array(algorithm.joseName.utf8))
        header.append(",\"typ\":\"JWT\"")
        if let kid = self.keyID {
            header.append(",\"kid\":")
            header.appendString(kid)
        }
        if let certificate = self.certificate {
            header.append(",\"x5t\":")
            header.appendString(certificate.sha1Thumbprint)
            header.append(",\"x5t#S256\":")
            header.appendString(certificate.sha256Thumbprint)
        }
        header.append("}")
        headerSegment = encoding.encode(header.bytes) + [UInt8(ascii: ".")]
        encodedSignatureBound = TokenEncoding.encodedLength(self.key?.maximumSignatureLength ?? 0)
        claimTree = ClaimTree(claims)
        if let cache {
            self.cache = TokenCache(capacity: cache.size, minimumRemaining: try Self.minimumRemaining(cache.remaining, ttl: ttl))
        } else {
            self.cache = nil
        }
    }

    /// The least lifetime, in seconds, a cached token must have left to be reused: a percentage
    /// of the TTL rounded up, and never less than one second, since a token whose `exp` is now
    /// is expired (RFC 7519 4.1.4). A minimum not shorter than the TTL is refused: such a cache
    /// could never serve a token once the second it was minted in is over.
    static func minimumRemaining(_ remaining: TokenCache.Remaining, ttl: Int64) throws(BackendJWTError) -> Int64 {
        func refused(_ given: String) -> BackendJWTError {
            BackendJWTError(
                .config,
                "cache min_remaining=\(given) is not shorter than the token TTL (\(ttl)s): no cached token could be "
                    + "reused; lower min_remaining or raise backend_jwt_token_ttl")
        }
        switch remaining {
        case .seconds(let s):
            guard s < ttl else { throw refused("\(s)s") }
            return max(s, 1)
        case .percent(let p):
            guard p < 100 else { throw refused("\(p)%") }
            // ttl <= TokenTTL.maximum and p < 100: no overflow. With a TTL of 1 s this is 1 s,
            // so tokens are reused within the second they were minted in.
            return max((ttl * p + 99) / 100, 1)
        }
    }

    /// How many values `mint` takes: issuer, subject, the audiences, then each custom claim.
    public var valueCount: Int { 2 + registered.audienceCount + claims.count }

    /// Constant payload text: braces, `"iss":`, `"sub":`, `"aud":[]`, `"iat":`, `"nbf":` and
    /// `"exp":` with 20-digit numbers, `"jti":` with a UUID, and separators.
    private static let payloadOverhead = 192

    /// The length of the shortest token this signer makes: every value empty and left out, so
    /// `iat`, `exp` (ten digits each), `nbf` and `jti` as configured, and the signature.
    public var minimumTokenLength: Int {
        var payload = "{\"iat\":1000000000,\"exp\":1000000000}".utf8.count
        if registered.notBeforeLeeway != nil { payload += ",\"nbf\":1000000000".utf8.count }
        if registered.jti { payload += ",\"jti\":\"00000000-0000-4000-8000-000000000000\"".utf8.count }
        return headerSegment.count + TokenEncoding.encodedLength(payload) + 1
            + TokenEncoding.encodedLength(signatureLength)
    }

    /// The length of every JWS signature of this signer (RFC 7518 3, RFC 8037 3.1).
    private var signatureLength: Int {
        switch algorithm.family {
        case .none: 0
        case .hmac: algorithm.hashBytes
        case .ecdsa: 2 * (algorithm.curve?.coordinateBytes ?? 0)
        case .edDSA: 64
        case .rsa, .rsaPSS: key?.maximumSignatureLength ?? 0
        }
    }

    /// An upper bound of the token length when the request values total `valueBytes` bytes
    /// and `caller` is the verified token whose claims are copied.
    public func tokenBound(valueBytes: Int, caller: VerifiedToken? = nil) -> Int {
        let perValue = JSONWriter.stringExpansion + ClaimType.maximumExtraBytes
        let (expanded, overflow) = valueBytes.multipliedReportingOverflow(by: JSONWriter.stringExpansion)
        // A negative count is a size_t past Int.max from C: no bound fits it.
        guard !overflow, valueBytes >= 0, valueBytes < Int.max / 16 else { return Int.max }
        var payload = Self.payloadOverhead + expanded + claimTree.constantBytes + valueCount * perValue
        // a caller whose copies fail adds nothing here: its mint fails
        if let caller { payload += (try? copiedMembers(caller))?.bound ?? 0 }
        return headerSegment.count + TokenEncoding.encodedLength(payload) + 1 + encodedSignatureBound
    }

    /// Mints a token issued at `now` from `values` (the issuer, the subject, the audiences, then
    /// each custom claim's value; nil or empty leaves it out) and the claims copied from
    /// `caller`, the request's verified token, whose `exp` also caps the token's. Writes the
    /// token into `out` and returns its length.
    public func mint(
        now: Int64, values: [UnsafeBufferPointer<UInt8>?], caller: VerifiedToken? = nil,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) throws(BackendJWTError) -> Int {
        try RequestValues.with(values) { (values) throws(BackendJWTError) in
            try mint(now: now, values: values, caller: caller, into: out)
        }
    }

    /// Mints a token from the values as the module passes them (see the other `mint`), and counts
    /// it, or its failure, in `metrics`. A token longer than `limit` (backend_jwt_max_size) is a
    /// failure: the backend would refuse the header, or another hop cut it.
    public func mint(
        now: Int64, values: RequestValues, caller: VerifiedToken? = nil, into out: UnsafeMutableBufferPointer<UInt8>,
        limit: Int = Int.max
    ) throws(BackendJWTError) -> Int {
        do throws(BackendJWTError) {
            let length = try mintToken(now: now, values: values, caller: caller, into: out)
            guard length <= limit else {
                throw BackendJWTError(
                    .space, "the token would be \(length) bytes, more than backend_jwt_max_size \(limit)")
            }
            metrics?.add(MetricSlot.mint(algorithm))
            return length
        } catch {
            metrics?.add(MetricSlot.mintFailure(MintFailure(error.kind)))
            throw error
        }
    }

    private func mintToken(
        now: Int64, values: RequestValues, caller: VerifiedToken?, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws(BackendJWTError) -> Int {
        guard values.count == valueCount else {
            throw BackendJWTError(.config, "expected \(valueCount) values, got \(values.count)")
        }
        let callerExpiry = capToCaller ? caller?.acceptedUntil : nil
        let expiry = try expiry(now: now, cappedTo: callerExpiry)
        let copied = try caller.map { (c) throws(BackendJWTError) in try copiedMembers(c).copied } ?? []
        var hash = 0
        if let cache {
            cacheKey(values, caller: caller, expiry: callerExpiry, copied: copied)
            hash = cacheKeyBytes.withUnsafeBytes { BytesHash.hash($0) }
            if let token = cache.lookup(hash: hash, key: cacheKeyBytes, now: now) {
                metrics?.add(MetricSlot.mintCacheHits)
                guard token.count <= out.count else {
                    throw BackendJWTError(.space, "token needs \(token.count) bytes, buffer has \(out.count)")
                }
                _ = out.initialize(from: token)
                return token.count
            }
        }
        if cache != nil { metrics?.add(MetricSlot.mintCacheMisses) }
        scratch.removeAll()
        try appendPayload(now: now, expiry: expiry, values: values, copied: copied, to: &scratch)
        let needed = headerSegment.count + TokenEncoding.encodedLength(scratch.count) + 1 + encodedSignatureBound
        guard needed <= out.count else {
            throw BackendJWTError(.space, "token needs \(needed) bytes, buffer has \(out.count)")
        }
        var n = headerSegment.withUnsafeBufferPointer { header in
            out.baseAddress!.initialize(from: header.baseAddress!, count: header.count)
            return header.count
        }
        n = scratch.withBytes { encoding.encode($0, into: out, at: n) }
        let signingInput = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[0..<n]))
        out[n] = UInt8(ascii: ".")
        n += 1
        if let key {
            if context == nil { context = try SigningContext(key: key, algorithm: algorithm) }
            let length = try context!.sign(signingInput)
            n = context!.signature.withUnsafeBytes { encoding.encode(UnsafeRawBufferPointer(rebasing: $0[..<length]), into: out, at: n) }
        }
        if let cache {
            // Exact copies: sharing cacheKeyBytes's storage would make it reallocate on the next
            // request, each time with at least its old capacity, and the cache would keep them.
            let token = exactCopy(out[0..<n])
            cache.store(hash: hash, key: exactCopy(cacheKeyBytes), token: token, issuedAt: now, expiresAt: expiry)
        }
        return n
    }

    private func exactCopy<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: bytes)
        }
    }

    /// `iat + ttl`, or the caller's `exp` when that is earlier (it may then be `iat` or before,
    /// when the verifier's leeway accepted an expired token: never later than the caller's).
    private func expiry(now: Int64, cappedTo callerExpiry: Int64?) throws(BackendJWTError) -> Int64 {
        let (expiry, overflow) = now.addingReportingOverflow(ttl)
        guard !overflow else { throw BackendJWTError(.sign, "the clock (\(now)) with the TTL overflows") }
        return min(expiry, callerExpiry ?? .max)
    }

    /// The cache key of `values`: each value's length and bytes (absent and empty differ); then
    /// what the caller adds: its `exp` when it caps the token's (the cap itself, not the capped
    /// `exp`, which moves with the clock) and the copied members.
    private func cacheKey(_ values: RequestValues, caller: VerifiedToken?, expiry callerExpiry: Int64?, copied: [UInt8]) {
        // Built in a local array (its storage moved out and back), so appends do not go through
        // the property.
        var key: [UInt8] = []
        swap(&key, &cacheKeyBytes)
        defer { swap(&key, &cacheKeyBytes) }
        key.removeAll(keepingCapacity: true)
        for index in 0..<values.count {
            guard let value = values[index] else {
                key.append(0xFF)
                continue
            }
            withUnsafeBytes(of: UInt64(value.count).littleEndian) { key.append(contentsOf: $0) }
            key.append(contentsOf: value)
        }
        guard caller != nil, copies != nil || capToCaller else { return }
        if let callerExpiry {
            key.append(1)
            withUnsafeBytes(of: callerExpiry.littleEndian) { key.append(contentsOf: $0) }
        } else {
            key.append(0)
        }
        // The last part of the key: needs no length.
        key.append(contentsOf: copied)
    }

    /// What `backend_jwt_copy_claims` takes from `caller`, and an upper bound of its length
    /// (nothing without copies).
    private func copiedMembers(_ caller: VerifiedToken) throws(BackendJWTError) -> (copied: [UInt8], bound: Int) {
        guard let copies else { return ([], 0) }
        if let last = lastCopied, last.claims.isSameObject(as: caller.payload) { return (last.copied, last.bound) }
        var json = JSONWriter()
        try copies.append(from: caller, skipped: skippedByAll, to: &json)
        lastCopied = (caller.payload, json.bytes, copies.bound(for: caller))
        return (json.bytes, lastCopied!.bound)
    }

    /// The payload JSON: `iss`, `sub`, `aud`, `iat`, `nbf`, `exp`, `jti`, the custom claims in
    /// order, then the `copied` members (each with its comma). Empty issuer, subject and
    /// audience values are left out.
    func appendPayload(
        now: Int64, expiry: Int64, values: RequestValues, copied: [UInt8] = [], to json: inout JSONWriter
    ) throws(BackendJWTError) {
        json.append("{")
        if let issuer = values[0], !issuer.isEmpty {
            json.append("\"iss\":")
            json.appendString(issuer)
            json.append(",")
        } else if registered.required.contains(.issuer) {
            throw BackendJWTError(.value, "the issuer is empty (backend_jwt_issuer if_empty=fail)")
        }
        if let subject = values[1], !subject.isEmpty {
            json.append("\"sub\":")
            json.appendString(subject)
            json.append(",")
        } else if registered.required.contains(.subject) {
            throw BackendJWTError(.value, "the subject is empty (backend_jwt_subject if_empty=fail)")
        }
        var audiences = 0
        for index in 2..<(2 + registered.audienceCount) {
            guard let audience = values[index], !audience.isEmpty else { continue }
            // One audience is a string, several an array (RFC 7519 4.1.3).
            json.append(audiences == 0 ? "\"aud\":" : ",")
            if audiences == 0 && nonEmptyAudiences(values) > 1 { json.append("[") }
            json.appendString(audience)
            audiences += 1
        }
        if audiences > 1 { json.append("]") }
        if audiences > 0 { json.append(",") }
        if audiences == 0 && registered.required.contains(.audience) {
            throw BackendJWTError(.value, "every audience is empty (backend_jwt_audience if_empty=fail)")
        }
        let (notBefore, underflow) = now.subtractingReportingOverflow(registered.notBeforeLeeway ?? 0)
        guard !underflow else {
            throw BackendJWTError(.sign, "the clock (\(now)) with the not-before leeway overflows")
        }
        json.append("\"iat\":")
        json.append(now)
        if registered.notBeforeLeeway != nil {
            json.append(",\"nbf\":")
            json.append(notBefore)
        }
        json.append(",\"exp\":")
        json.append(expiry)
        if registered.jti {
            json.append(",\"jti\":")
            try random.appendUUID(to: &json)
        }
        var needComma = true
        try claimTree.append(claims, values: values, from: 2 + registered.audienceCount, to: &json, needComma: &needComma)
        json.append(contentsOf: copied)
        json.append("}")
    }

    private func nonEmptyAudiences(_ values: RequestValues) -> Int {
        (2..<(2 + registered.audienceCount)).count { values[$0].map { !$0.isEmpty } ?? false }
    }

    /// The payload as bytes (tests).
    func payload(now: Int64, values: [UnsafeBufferPointer<UInt8>?]) throws(BackendJWTError) -> [UInt8] {
        var json = JSONWriter()
        let expiry = try expiry(now: now, cappedTo: nil)
        try RequestValues.with(values) { (values) throws(BackendJWTError) in
            try appendPayload(now: now, expiry: expiry, values: values, to: &json)
        }
        return json.bytes
    }
}
