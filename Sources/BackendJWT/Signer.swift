import COpenSSL

/// Mints the tokens of one location: everything constant about them (algorithm, encoding, TTL,
/// key, custom claims) is fixed when nginx merges the configuration; per request only the
/// values and the time change.
public final class Signer {
    public let algorithm: SigningAlgorithm
    public let encoding: TokenEncoding
    public let ttl: Int64
    public let claims: [ClaimList.Claim]
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

        public init(audienceCount: Int = 0, notBeforeLeeway: Int64? = nil, jti: Bool = true) {
            self.audienceCount = audienceCount
            self.notBeforeLeeway = notBeforeLeeway
            self.jti = jti
        }
    }

    public let registered: Registered

    /// The encoded JOSE header and the `.` after it: the same for every token.
    private let headerSegment: [UInt8]
    /// The custom claims' members, nested objects shared.
    private let claimTree: ClaimTree

    public init(
        algorithm: SigningAlgorithm, encoding: TokenEncoding, ttl: Int64, key: SigningKey?,
        certificate: Certificate? = nil, keyID: KeyIDSource = .thumbprint, registered: Registered = Registered(),
        claims: [ClaimList.Claim]
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
        guard registered.audienceCount >= 0, (registered.notBeforeLeeway ?? 0) >= 0,
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
        claimTree = ClaimTree(claims)
    }

    /// How many values `mint` takes: issuer, subject, the audiences, then each custom claim.
    public var valueCount: Int { 2 + registered.audienceCount + claims.count }

    /// Constant payload text: braces, `"iss":`, `"sub":`, `"aud":[]`, `"iat":`, `"nbf":` and
    /// `"exp":` with 20-digit numbers, `"jti":` with a UUID, and separators.
    private static let payloadOverhead = 192

    /// An upper bound of the token length when the request values total `valueBytes` bytes.
    public func tokenBound(valueBytes: Int) -> Int {
        let perValue = JSONWriter.stringExpansion + ClaimType.maximumExtraBytes
        let (expanded, overflow) = valueBytes.multipliedReportingOverflow(by: JSONWriter.stringExpansion)
        // A negative count is a size_t past Int.max from C: no bound fits it.
        guard !overflow, valueBytes >= 0, valueBytes < Int.max / 16 else { return Int.max }
        let payload = Self.payloadOverhead + expanded + claimTree.constantBytes + valueCount * perValue
        return headerSegment.count + TokenEncoding.encodedLength(payload) + 1
            + TokenEncoding.encodedLength(key?.maximumSignatureLength ?? 0)
    }

    /// Mints a token issued at `now`. `values` are the issuer, the subject, then each custom
    /// claim's value (nil or empty: the claim is left out). Writes the token into `out` and
    /// returns its length.
    public func mint(now: Int64, values: [UnsafeBufferPointer<UInt8>?], into out: UnsafeMutableBufferPointer<UInt8>)
        throws(BackendJWTError) -> Int
    {
        guard values.count == valueCount else {
            throw BackendJWTError(.config, "expected \(valueCount) values, got \(values.count)")
        }
        let payload = try payload(now: now, values: values)
        let signatureLength = TokenEncoding.encodedLength(key?.maximumSignatureLength ?? 0)
        let needed = headerSegment.count + TokenEncoding.encodedLength(payload.count) + 1 + signatureLength
        guard needed <= out.count else {
            throw BackendJWTError(.space, "token needs \(needed) bytes, buffer has \(out.count)")
        }
        var n = 0
        for byte in headerSegment {
            out[n] = byte
            n += 1
        }
        n = payload.withUnsafeBytes { encoding.encode($0, into: out, at: n) }
        let signingInput = UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[0..<n]))
        out[n] = UInt8(ascii: ".")
        n += 1
        if let key {
            let signature = try key.sign(signingInput, algorithm: algorithm)
            n = signature.withUnsafeBytes { encoding.encode($0, into: out, at: n) }
        }
        return n
    }

    /// The payload JSON: `iss`, `sub`, `aud`, `iat`, `nbf`, `exp`, `jti`, then the custom claims
    /// in order. Empty issuer, subject and audience values are left out.
    func payload(now: Int64, values: [UnsafeBufferPointer<UInt8>?]) throws(BackendJWTError) -> [UInt8] {
        var json = JSONWriter()
        json.bytes.reserveCapacity(256 + values.reduce(0) { $0 + ($1?.count ?? 0) } * 2)
        json.append("{")
        if let issuer = values[0], !issuer.isEmpty {
            json.append("\"iss\":")
            json.appendString(issuer)
            json.append(",")
        }
        if let subject = values[1], !subject.isEmpty {
            json.append("\"sub\":")
            json.appendString(subject)
            json.append(",")
        }
        let audiences = values[2..<(2 + registered.audienceCount)].compactMap { $0 }.filter { !$0.isEmpty }
        if !audiences.isEmpty {
            // One audience is a string, several an array (RFC 7519 4.1.3).
            json.append("\"aud\":")
            if audiences.count > 1 { json.append("[") }
            for (index, audience) in audiences.enumerated() {
                if index > 0 { json.append(",") }
                json.appendString(audience)
            }
            json.append(audiences.count > 1 ? "]," : ",")
        }
        let (expiry, overflow) = now.addingReportingOverflow(ttl)
        let (notBefore, underflow) = now.subtractingReportingOverflow(registered.notBeforeLeeway ?? 0)
        guard !overflow, !underflow else { throw BackendJWTError(.sign, "the clock (\(now)) plus the TTL overflows") }
        json.append("\"iat\":")
        json.append(now)
        if registered.notBeforeLeeway != nil {
            json.append(",\"nbf\":")
            json.append(notBefore)
        }
        json.append(",\"exp\":")
        json.append(expiry)
        if registered.jti {
            json.append(",\"jti\":\"")
            json.bytes.append(contentsOf: try Self.uuid4())
            json.append("\"")
        }
        var needComma = true
        try claimTree.append(claims, values: values[(2 + registered.audienceCount)...], to: &json, needComma: &needComma)
        json.append("}")
        return json.bytes
    }

    /// A random (version 4) UUID from OpenSSL's CSPRNG, in lowercase 8-4-4-4-12 form.
    static func uuid4() throws(BackendJWTError) -> [UInt8] {
        var raw = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&raw, 16) == 1 else { throw SigningKey.openSSLError("RAND_bytes") }
        raw[6] = raw[6] & 0x0F | 0x40
        raw[8] = raw[8] & 0x3F | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (i, byte) in raw.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
