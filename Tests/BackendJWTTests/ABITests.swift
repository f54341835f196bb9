import BackendJWTABI
import CBackendJWT
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// The C ABI of include/backend_jwt.h, called the way the nginx module calls it.
@Suite("C ABI")
struct ABITests {
    static let sentinel = CChar(0x7E)

    /// An error buffer of `cap` bytes inside a larger one, to catch writes past `cap`.
    final class ErrorBuffer {
        var storage: [CChar]
        let cap: Int

        init(cap: Int = 256) {
            self.cap = cap
            storage = [CChar](repeating: ABITests.sentinel, count: cap + 16)
        }

        var message: String {
            String(decoding: storage.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        /// Nothing was written at or after `cap`.
        var untouchedPastCap: Bool { storage[cap...].allSatisfy { $0 == ABITests.sentinel } }

        func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> Int32 {
            storage.withUnsafeMutableBufferPointer { body($0.baseAddress!, cap) }
        }
    }

    /// Calls `body` with `text` as a (pointer, length) pair that is not NUL-terminated.
    static func withBytes<R>(_ text: String, _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
        let bytes = [CChar](text.utf8.map { CChar(bitPattern: $0) }) + [CChar(UInt8(ascii: "#"))]
        return bytes.withUnsafeBufferPointer { body($0.baseAddress!, $0.count - 1) }
    }

    static func status(_ code: Int) -> Int32 { Int32(code) }

    /// The message for an algorithm name that is still unknown.
    static let unknownHS999 =
        "unknown signing algorithm \"HS999\"; use one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, "
        + "PS512, ES256, ES384, ES512, EdDSA, NONE or a Java-style name such as SHA256withRSA"

    /// bjwt_key_load without the optional password_file= argument.
    static func keyLoad(
        _ path: UnsafePointer<CChar>, _ len: Int, _ key: UnsafeMutablePointer<OpaquePointer?>?,
        _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
    ) -> Int32 {
        bjwtKeyLoad(path, len, nil, 0, nil, 0, key, err, cap)
    }

    /// bjwt_signer_create with the kid from the key's thumbprint and no certificate.
    static func signerCreate(
        _ alg: Int32, _ enc: Int32, _ ttl: Int64, _ key: OpaquePointer?, _ claims: OpaquePointer?,
        _ signer: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
    ) -> Int32 {
        var params = Self.params(alg: alg, enc: enc, ttl: ttl, key: key, claims: claims)
        return bjwtSignerCreate(&params, signer, err, cap)
    }

    /// bjwt_signer_params as the module fills it: every field the call does not name is zero (as
    /// a C designated initializer leaves it), but for the registered-claim defaults of the
    /// directives (no audience, `backend_jwt_not_before off`, `backend_jwt_jti on`).
    static func params(
        alg: Int32, enc: Int32 = Int32(BJWT_ENC_BASE64URL), ttl: Int64 = 60, key: OpaquePointer?, cert: OpaquePointer? = nil,
        kidMode: Int32 = Int32(BJWT_KID_THUMBPRINT), kid: UnsafePointer<CChar>? = nil, kidLength: Int = 0,
        audiences: Int = 0, nbfLeeway: Int64 = -1, jti: Int32 = 1, claims: OpaquePointer?
    ) -> bjwt_signer_params {
        var params = bjwt_signer_params()
        params.alg = alg
        params.enc = enc
        params.ttl = ttl
        params.key = key
        params.cert = cert
        params.kid_mode = kidMode
        params.kid = kid
        params.kid_len = kidLength
        params.audiences = audiences
        params.nbf_leeway = nbfLeeway
        params.jti = jti
        params.claims = claims
        return params
    }

    /// Calls `body` with `texts` as C arrays of pointers and lengths, each text in its own
    /// allocation and not NUL-terminated (a `#` follows it), as nginx passes directive arguments.
    static func withArguments<R>(
        _ texts: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?, Int) -> R
    ) -> R {
        let buffers = texts.map { text -> UnsafeMutablePointer<CChar> in
            let bytes = Array(text.utf8)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, byte) in bytes.enumerated() { buffer[i] = CChar(bitPattern: byte) }
            buffer[bytes.count] = CChar(UInt8(ascii: "#"))
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let pointers = buffers.map { UnsafePointer<CChar>?(UnsafePointer($0)) }
        let lengths = texts.map(\.utf8.count)
        return pointers.withUnsafeBufferPointer { p in
            lengths.withUnsafeBufferPointer { l in body(p.baseAddress, l.baseAddress, texts.count) }
        }
    }

    /// bjwt_claims_add with the directive's options after the value.
    @discardableResult
    static func addClaim(
        _ claims: OpaquePointer?, _ name: String, _ options: [String] = [], _ err: ErrorBuffer = ErrorBuffer()
    ) -> Int32 {
        err.call { e, cap in
            withBytes(name) { n, length in withArguments(options) { bjwtClaimsAdd(claims, n, length, $0, $1, $2, e, cap) } }
        }
    }

    // MARK: Directive parsing

    @Test(arguments: [
        ("SHA256withRSA", BJWT_ALG_RS256), ("RS256", BJWT_ALG_RS256), ("NONE", BJWT_ALG_NONE),
        ("HmacSHA512", BJWT_ALG_HS512), ("SHA384withECDSA", BJWT_ALG_ES384), ("SHA256withRSA/PSS", BJWT_ALG_PS256),
        ("Ed25519", BJWT_ALG_EDDSA),
    ])
    func parseAlgorithm(_ text: String, _ expected: Int) {
        var alg: Int32 = -1
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes(text) { bjwtParseAlgorithm($0, $1, &alg, e, cap) } }
        #expect(rc == Self.status(BJWT_OK))
        #expect(alg == Int32(expected))
    }

    /// A NULL output pointer is an error, never a reason to skip the check or the work.
    @Test func nullOutputPointersAreErrors() {
        let err = ErrorBuffer()
        #expect(err.call { e, cap in Self.withBytes("abc") { bjwtParseTTL($0, $1, nil, e, cap) } } == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "output pointer is NULL")
        #expect(err.call { e, cap in Self.withBytes("RS256") { bjwtParseAlgorithm($0, $1, nil, e, cap) } } == Self.status(BJWT_ERR_CONFIG))
        #expect(err.call { e, cap in Self.withBytes("base64") { bjwtParseEncoding($0, $1, nil, e, cap) } } == Self.status(BJWT_ERR_CONFIG))
        let path = Fixture.path("rsa2048-pkcs8.pem")
        #expect(err.call { e, cap in Self.withBytes(path) { Self.keyLoad($0, $1, nil, e, cap) } } == Self.status(BJWT_ERR_CONFIG))
        #expect(err.call { e, cap in Self.signerCreate(Int32(BJWT_ALG_NONE), 0, 60, nil, nil, nil, e, cap) } == Self.status(BJWT_ERR_CONFIG))
    }

    /// A size_t past Int.max arrives as a negative Int: no bound fits it.
    @Test func tokenBoundOfAHugeSizeIsTheMaximum() throws {
        let signer = try Signer(algorithm: .none, encoding: .base64url, ttl: 60, key: nil, claims: [])
        #expect(signer.tokenBound(valueBytes: -1) == Int.max)
        #expect(signer.tokenBound(valueBytes: Int.min) == Int.max)
    }

    @Test func parseAlgorithmReadsOnlyTheGivenLength() {
        var alg: Int32 = -1
        let rc = Self.withBytes("RS256 and more") { text, _ in bjwtParseAlgorithm(text, 5, &alg, nil, 0) }
        #expect(rc == Self.status(BJWT_OK))
        #expect(alg == Int32(BJWT_ALG_RS256))
    }

    @Test func parseAlgorithmErrorLeavesTheOutputAlone() {
        var alg: Int32 = -1
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes("HS999") { bjwtParseAlgorithm($0, $1, &alg, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(alg == -1)
        #expect(err.message == Self.unknownHS999)
        #expect(err.untouchedPastCap)
    }

    @Test func aNullStringIsEmpty() {
        var alg: Int32 = -1
        let err = ErrorBuffer()
        let rc = err.call { e, cap in bjwtParseAlgorithm(nil, 0, &alg, e, cap) }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message.hasPrefix("unknown signing algorithm \"\";"))
    }

    @Test func parseEncoding() {
        var enc: Int32 = -1
        #expect(Self.withBytes("base64") { bjwtParseEncoding($0, $1, &enc, nil, 0) } == Self.status(BJWT_OK))
        #expect(enc == Int32(BJWT_ENC_BASE64))
        #expect(Self.withBytes("Base64Url") { bjwtParseEncoding($0, $1, &enc, nil, 0) } == Self.status(BJWT_OK))
        #expect(enc == Int32(BJWT_ENC_BASE64URL))
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes("hex") { bjwtParseEncoding($0, $1, &enc, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(enc == Int32(BJWT_ENC_BASE64URL))
        #expect(err.message == "unknown encoding \"hex\"; use base64url or base64")
    }

    @Test func parseTTL() {
        var seconds: Int64 = -1
        #expect(Self.withBytes("1h 30m") { bjwtParseTTL($0, $1, &seconds, nil, 0) } == Self.status(BJWT_OK))
        #expect(seconds == 5400)
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes("30m1h") { bjwtParseTTL($0, $1, &seconds, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(seconds == 5400)
        #expect(err.message.hasPrefix("invalid token TTL \"30m1h\""))
    }

    @Test func checkHeaderName() {
        #expect(Self.withBytes("X-JWT-Assertion") { bjwtCheckHeaderName($0, $1, nil, 0) } == Self.status(BJWT_OK))
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes("Host") { bjwtCheckHeaderName($0, $1, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "header name \"Host\" controls how the request is routed or framed; choose another")
    }

    // MARK: Error text

    @Test(arguments: [1, 2, 8, 40])
    func errorTextIsTruncatedAndNULTerminated(_ cap: Int) {
        let err = ErrorBuffer(cap: cap)
        var alg: Int32 = -1
        let rc = err.call { e, cap in Self.withBytes("HS999") { bjwtParseAlgorithm($0, $1, &alg, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == String(Self.unknownHS999.prefix(cap - 1)))
        #expect(err.storage[cap - 1] == 0)
        #expect(err.untouchedPastCap)
    }

    @Test func noErrorBufferStillGivesTheStatus() {
        var alg: Int32 = -1
        let err = ErrorBuffer(cap: 0)
        let rc = err.call { e, _ in Self.withBytes("HS999") { bjwtParseAlgorithm($0, $1, &alg, e, 0) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.untouchedPastCap)
        #expect(Self.withBytes("HS999") { bjwtParseAlgorithm($0, $1, &alg, nil, 256) } == Self.status(BJWT_ERR_CONFIG))
    }

    // MARK: Keys and claims

    static func loadKey(_ file: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, OpaquePointer?) {
        var key: OpaquePointer?
        let rc = err.call { e, cap in Self.withBytes(Fixture.path(file)) { Self.keyLoad($0, $1, &key, e, cap) } }
        return (rc, key)
    }

    @Test func keyLoadAndFree() {
        let (rc, key) = Self.loadKey("rsa2048-pkcs1.pem")
        #expect(rc == Self.status(BJWT_OK))
        #expect(key != nil)
        bjwtKeyFree(key)
        bjwtKeyFree(nil)
    }

    @Test(arguments: ["missing.pem", "rsa2048-public.pem", "certificate.pem", "rsa1024.pem", "garbage.pem"])
    func keyLoadErrorsAreKeyErrors(_ file: String) {
        let err = ErrorBuffer()
        let (rc, key) = Self.loadKey(file, err)
        #expect(rc == Self.status(BJWT_ERR_KEY))
        #expect(key == nil)
        #expect(err.message.contains("key file \""))
    }

    @Test func claimList() {
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        #expect(bjwtClaimsCount(claims) == 0)
        #expect(Self.withBytes("dept") { bjwtClaimsAdd(claims, $0, $1, nil, nil, 0, nil, 0) } == Self.status(BJWT_OK))
        #expect(Self.addClaim(claims, "level", ["type=int"]) == Self.status(BJWT_OK))
        #expect(bjwtClaimsCount(claims) == 2)
        #expect(borrowClaims(claims).map(\.type) == [.string, .int])

        let err = ErrorBuffer()
        let reserved = err.call { e, cap in Self.withBytes("exp") { bjwtClaimsAdd(claims, $0, $1, nil, nil, 0, e, cap) } }
        #expect(reserved == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "claim name \"exp\" is reserved: the module sets it")
        #expect(err.untouchedPastCap)
        #expect(bjwtClaimsCount(claims) == 2)
    }

    func borrowClaims(_ handle: OpaquePointer) -> [ClaimList.Claim] {
        Unmanaged<ClaimList>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().claims
    }

    @Test func nullClaimList() {
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes("a") { bjwtClaimsAdd(nil, $0, $1, nil, nil, 0, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "no claim list")
        #expect(bjwtClaimsCount(nil) == 0)
        bjwtClaimsFree(nil)
    }

    // MARK: Signer

    static func createSigner(
        alg: Int = BJWT_ALG_RS256, enc: Int = BJWT_ENC_BASE64URL, ttl: Int64 = 3600, key: OpaquePointer?,
        claims: OpaquePointer?, _ err: ErrorBuffer = ErrorBuffer()
    ) -> (Int32, OpaquePointer?) {
        var signer: OpaquePointer?
        let rc = err.call { e, cap in Self.signerCreate(Int32(alg), Int32(enc), ttl, key, claims, &signer, e, cap) }
        return (rc, signer)
    }

    /// Calls bjwt_signer_mint with C arrays; nil values are NULL pointers.
    static func mintC(
        _ signer: OpaquePointer?, now: Int64, values: [String?], outCap: Int? = nil, _ err: ErrorBuffer = ErrorBuffer()
    ) -> (status: Int32, token: String, untouchedAfterToken: Bool) {
        let storage = values.map { $0.map { [UInt8]($0.utf8) } }
        let pointers = storage.map { bytes -> UnsafeMutablePointer<UInt8>? in
            guard let bytes else { return nil }
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            p.initialize(from: bytes, count: bytes.count)
            return p
        }
        defer { pointers.forEach { $0?.deallocate() } }
        let lengths = storage.map { $0?.count ?? 0 }
        let cap = outCap ?? bjwtSignerTokenBound(signer, lengths.reduce(0, +))
        var out = [UInt8](repeating: 0xEE, count: cap + 16)
        var outLength = -1
        let cPointers = pointers.map { UnsafePointer($0) }
        let rc = err.call { e, errCap in
            cPointers.withUnsafeBufferPointer { valuesBuffer in
                lengths.withUnsafeBufferPointer { lengthsBuffer in
                    out.withUnsafeMutableBufferPointer { o in
                        bjwtSignerMint(
                            signer, now, valuesBuffer.baseAddress, lengthsBuffer.baseAddress, values.count, o.baseAddress,
                            cap, &outLength, e, errCap)
                    }
                }
            }
        }
        guard rc == Int32(BJWT_OK) else { return (rc, "", out.allSatisfy { $0 == 0xEE }) }
        return (rc, String(decoding: out[0..<outLength], as: UTF8.self), out[outLength...].allSatisfy { $0 == 0xEE })
    }

    @Test func roundTripVerifiedByJWTKit() async throws {
        let (keyStatus, key) = Self.loadKey("rsa2048-pkcs8.pem")
        try #require(keyStatus == Self.status(BJWT_OK))
        let claims = bjwtClaimsCreate()
        try #require(Self.addClaim(claims, "level", ["type=int"]) == Self.status(BJWT_OK))
        try #require(Self.withBytes("team") { bjwtClaimsAdd(claims, $0, $1, nil, nil, 0, nil, 0) } == Self.status(BJWT_OK))
        let (rc, signer) = Self.createSigner(key: key, claims: claims)
        try #require(rc == Self.status(BJWT_OK))
        // The signer keeps what it needs: key and claims may be freed first.
        bjwtKeyFree(key)
        bjwtClaimsFree(claims)
        defer { bjwtSignerFree(signer) }

        let now = Int64(Date().timeIntervalSince1970)
        let minted = Self.mintC(signer, now: now, values: ["issuer", "alice", "42", nil])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(minted.untouchedAfterToken, "no NUL or other byte is written after the token")
        let verifier = await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PublicKey(pem: Fixture.text("rsa2048-public.pem")), digestAlgorithm: .sha256)
        let payload = try await verifier.verify(minted.token, as: SigningTests.RegisteredClaims.self)
        #expect(payload.sub?.value == "alice")
        #expect(Int64(payload.exp.value.timeIntervalSince1970) == now + 3600)
        let decoded = try DecodedToken(minted.token)
        #expect(decoded.payload.hasSuffix(#","level":42}"#))
    }

    @Test func handlesAreReleasedByTheirFree() throws {
        let (_, keyHandle) = Self.loadKey("rsa2048-pkcs8.pem")
        let claimsHandle = bjwtClaimsCreate()
        weak var key = Unmanaged<SigningKey>.fromOpaque(UnsafeRawPointer(try #require(keyHandle))).takeUnretainedValue()
        weak var claims = Unmanaged<ClaimList>.fromOpaque(UnsafeRawPointer(claimsHandle)).takeUnretainedValue()
        let (rc, signerHandle) = Self.createSigner(key: keyHandle, claims: claimsHandle)
        try #require(rc == Self.status(BJWT_OK))
        weak var signer = Unmanaged<Signer>.fromOpaque(UnsafeRawPointer(try #require(signerHandle))).takeUnretainedValue()

        bjwtKeyFree(keyHandle)
        bjwtClaimsFree(claimsHandle)
        #expect(key != nil, "the signer still holds the key")
        #expect(claims == nil)
        bjwtSignerFree(signerHandle)
        #expect(signer == nil)
        #expect(key == nil)
    }

    @Test func noneSignerWithoutKeyOrClaims() throws {
        let (rc, signer) = Self.createSigner(alg: BJWT_ALG_NONE, enc: BJWT_ENC_BASE64, key: nil, claims: nil)
        try #require(rc == Self.status(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let minted = Self.mintC(signer, now: 1_700_000_000, values: [nil, ""])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(minted.token.hasPrefix("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."))
        #expect(minted.token.hasSuffix("."))
        #expect(try DecodedToken(minted.token, standardBase64: true).payload.hasPrefix(#"{"iat":1700000000,"exp":1700003600,"#))
    }

    @Test(arguments: [
        (14, BJWT_ENC_BASE64URL, Int64(3600), "rsa2048-pkcs8.pem" as String?, BJWT_ERR_CONFIG, "unknown algorithm code 14"),
        (-1, BJWT_ENC_BASE64URL, 3600, "rsa2048-pkcs8.pem", BJWT_ERR_CONFIG, "unknown algorithm code -1"),
        (BJWT_ALG_RS256, 9, 3600, "rsa2048-pkcs8.pem", BJWT_ERR_CONFIG, "unknown encoding code 9"),
        (BJWT_ALG_RS256, BJWT_ENC_BASE64URL, 3600, nil, BJWT_ERR_CONFIG, "no signing key: RS256 needs backend_jwt_signing_key"),
        (BJWT_ALG_RS256, BJWT_ENC_BASE64URL, 0, "rsa2048-pkcs8.pem", BJWT_ERR_CONFIG, "token TTL 0 is out of range"),
        (BJWT_ALG_RS256, BJWT_ENC_BASE64URL, 3600, "ec-p256.pem", BJWT_ERR_KEY,
         "holds a key of type EC P-256, which cannot sign RS256; RS256 needs an RSA key"),
        (BJWT_ALG_ES384, BJWT_ENC_BASE64URL, 3600, "ec-p256.pem", BJWT_ERR_KEY,
         "holds a key of type EC P-256, which cannot sign ES384; ES384 needs an EC P-384 key"),
        (BJWT_ALG_HS256, BJWT_ENC_BASE64URL, 3600, nil, BJWT_ERR_CONFIG, "no signing key: HS256 needs backend_jwt_signing_secret"),
    ])
    func signerCreateErrors(_ alg: Int, _ enc: Int, _ ttl: Int64, _ keyFile: String?, _ status: Int, _ message: String) {
        let key = keyFile.flatMap { Self.loadKey($0).1 }
        defer { bjwtKeyFree(key) }
        let err = ErrorBuffer()
        let (rc, signer) = Self.createSigner(alg: alg, enc: enc, ttl: ttl, key: key, claims: nil, err)
        #expect(rc == Self.status(status))
        #expect(signer == nil)
        #expect(err.message.contains(message), "\(err.message)")
    }

    @Test func mintErrors() throws {
        let (_, key) = Self.loadKey("rsa2048-pkcs8.pem")
        defer { bjwtKeyFree(key) }
        let claims = bjwtClaimsCreate()
        defer { bjwtClaimsFree(claims) }
        try #require(Self.addClaim(claims, "on", ["type=bool"]) == Self.status(BJWT_OK))
        let (_, signer) = Self.createSigner(key: key, claims: claims)
        defer { bjwtSignerFree(signer) }

        let value = ErrorBuffer()
        #expect(Self.mintC(signer, now: 0, values: ["i", "s", "maybe"], value).status == Self.status(BJWT_ERR_VALUE))
        #expect(value.message == "claim \"on\": value \"maybe\" is not a bool (true, false, 1 or 0)")

        let space = ErrorBuffer()
        let small = Self.mintC(signer, now: 0, values: ["i", "s", "1"], outCap: 100, space)
        #expect(small.status == Self.status(BJWT_ERR_SPACE))
        #expect(small.untouchedAfterToken, "nothing is written into a buffer that is too small")
        #expect(space.message.hasSuffix("bytes, buffer has 100"))

        let count = ErrorBuffer()
        #expect(Self.mintC(signer, now: 0, values: ["i", "s"], count).status == Self.status(BJWT_ERR_CONFIG))
        #expect(count.message == "expected 3 values, got 2")

        let missing = ErrorBuffer()
        #expect(Self.mintC(nil, now: 0, values: ["i", "s", "1"], outCap: 2000, missing).status == Self.status(BJWT_ERR_CONFIG))
        #expect(missing.message == "bjwt_signer_mint: missing argument")

        var outLength = 0
        var out = [UInt8](repeating: 0, count: 2000)
        let noValues = bjwtSignerMint(signer, 0, nil, nil, 3, &out, out.count, &outLength, nil, 0)
        #expect(noValues == Self.status(BJWT_ERR_CONFIG))
        let noOutLength = bjwtSignerMint(signer, 0, nil, nil, 0, &out, out.count, nil, nil, 0)
        #expect(noOutLength == Self.status(BJWT_ERR_CONFIG))
    }

    @Test func tokenBound() throws {
        #expect(bjwtSignerTokenBound(nil, 100) == 0)
        let (_, key) = Self.loadKey("rsa4096-pkcs8.pem")
        defer { bjwtKeyFree(key) }
        let (_, signer) = Self.createSigner(key: key, claims: nil)
        defer { bjwtSignerFree(signer) }
        let issuer = String(repeating: "\u{1}", count: 200)
        let minted = Self.mintC(signer, now: Int64.min, values: [issuer, "\"\"\""], outCap: bjwtSignerTokenBound(signer, 203))
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(minted.token.utf8.count <= bjwtSignerTokenBound(signer, 203))
    }

    // MARK: Secrets, password files, certificates and kid

    /// bjwt_key_load with password_file=: a relative name is taken from the configuration prefix.
    @Test func keyLoadWithAPasswordFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.write("password", "secret\n")
        let path = Fixture.path("rsa2048-encrypted.pem")
        for (option, prefix) in [("password_file=password", directory.path + "/"), ("password_file=" + directory.path + "/password", "/elsewhere/")] {
            var key: OpaquePointer?
            let err = ErrorBuffer()
            let rc = err.call { e, cap in
                Self.withBytes(path) { p, n in
                    Self.withBytes(option) { o, on in Self.withBytes(prefix) { bjwtKeyLoad(p, n, o, on, $0, $1, &key, e, cap) } }
                }
            }
            #expect(rc == Self.status(BJWT_OK), "\(err.message)")
            #expect(key != nil)
            bjwtKeyFree(key)
        }
    }

    @Test(arguments: [
        ("password_file=", BJWT_ERR_CONFIG, "unknown option \"password_file=\"; the only option is password_file=FILE"),
        ("password=secret", BJWT_ERR_CONFIG, "unknown option \"password=secret\"; the only option is password_file=FILE"),
        ("password_file=nowhere", BJWT_ERR_KEY, "cannot open password file \"/conf/nowhere\": No such file or directory"),
    ])
    func keyLoadOptionErrors(_ option: String, _ status: Int, _ message: String) {
        var key: OpaquePointer?
        let err = ErrorBuffer()
        let rc = err.call { e, cap in
            Self.withBytes(Fixture.path("rsa2048-encrypted.pem")) { p, n in
                Self.withBytes(option) { o, on in Self.withBytes("/conf/") { bjwtKeyLoad(p, n, o, on, $0, $1, &key, e, cap) } }
            }
        }
        #expect(rc == Self.status(status))
        #expect(key == nil)
        #expect(err.message == message)
    }

    static func loadSecret(_ file: String, option: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, OpaquePointer?) {
        var key: OpaquePointer?
        let rc = err.call { e, cap in
            Self.withBytes(Fixture.path(file)) { p, n in Self.withBytes(option) { bjwtSecretLoad(p, n, $0, $1, &key, e, cap) } }
        }
        return (rc, key)
    }

    @Test func secretLoadAndHS512() throws {
        let (rc, key) = Self.loadSecret("secret-64.hex", option: "encoding=hex")
        try #require(rc == Self.status(BJWT_OK))
        defer { bjwtKeyFree(key) }
        let (signerStatus, signer) = Self.createSigner(alg: BJWT_ALG_HS512, key: key, claims: nil)
        try #require(signerStatus == Self.status(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let minted = Self.mintC(signer, now: 1_700_000_000, values: ["i", "s"])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(try DecodedToken(minted.token).header == #"{"alg":"HS512","typ":"JWT"}"#)

        let short = ErrorBuffer()
        let (rawStatus, rawKey) = Self.loadSecret("secret-32.hex", option: "", short)
        try #require(rawStatus == Self.status(BJWT_OK), "raw: the 64 hex characters are the secret")
        defer { bjwtKeyFree(rawKey) }
        #expect(Self.createSigner(alg: BJWT_ALG_HS512, key: rawKey, claims: nil).0 == Self.status(BJWT_OK))
    }

    @Test(arguments: [
        ("secret-64.hex", "encoding=raw", BJWT_ERR_CONFIG, "unknown option \"encoding=raw\"; use encoding=base64, encoding=base64url or encoding=hex"),
        ("secret-64.hex", "encoding=base64url", BJWT_OK, ""),  // hex digits are base64url too: 96 bytes
        ("garbage.pem", "encoding=hex", BJWT_ERR_KEY, "is not valid hex"),
        ("rsa2048-pkcs8.pem", "encoding=hex", BJWT_ERR_KEY, "holds a PEM block (\"PRIVATE KEY\"), not an HMAC secret"),
        ("missing.hex", "encoding=hex", BJWT_ERR_KEY, "cannot open secret file"),
    ])
    func secretLoadErrors(_ file: String, _ option: String, _ status: Int, _ message: String) {
        let err = ErrorBuffer()
        let (rc, key) = Self.loadSecret(file, option: option, err)
        defer { bjwtKeyFree(key) }
        #expect(rc == Self.status(status))
        #expect((key != nil) == (status == BJWT_OK))
        if status != BJWT_OK { #expect(err.message.contains(message), "\(err.message)") }
    }

    static func loadCertificate(_ file: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, OpaquePointer?) {
        var cert: OpaquePointer?
        let rc = err.call { e, cap in Self.withBytes(Fixture.path(file)) { bjwtCertLoad($0, $1, &cert, e, cap) } }
        return (rc, cert)
    }

    static func createSigner(
        alg: Int, key: OpaquePointer?, cert: OpaquePointer?, kidMode: Int, kid: String = "", _ err: ErrorBuffer = ErrorBuffer()
    ) -> (Int32, OpaquePointer?) {
        var signer: OpaquePointer?
        let kidBytes = [CChar](kid.utf8.map { CChar(bitPattern: $0) })
        let rc = kidBytes.withUnsafeBufferPointer { kidBuffer in
            var params = Self.params(
                alg: Int32(alg), key: key, cert: cert, kidMode: Int32(kidMode), kid: kidBuffer.baseAddress,
                kidLength: kidBuffer.count, claims: nil)
            return err.call { e, cap in bjwtSignerCreate(&params, &signer, e, cap) }
        }
        return (rc, signer)
    }

    /// A certificate and a custom kid through bjwt_signer_params; the signer keeps the certificate.
    @Test func signerWithACertificateAndACustomKeyID() throws {
        let (_, key) = Self.loadKey("rsa2048-pkcs8.pem")
        defer { bjwtKeyFree(key) }
        let (certStatus, cert) = Self.loadCertificate("certificate.pem")
        try #require(certStatus == Self.status(BJWT_OK))
        let (rc, signer) = Self.createSigner(alg: BJWT_ALG_RS256, key: key, cert: cert, kidMode: BJWT_KID_CUSTOM, kid: "2025-a")
        bjwtCertFree(cert)
        try #require(rc == Self.status(BJWT_OK))
        defer { bjwtSignerFree(signer) }
        let header = try DecodedToken(Self.mintC(signer, now: 1_700_000_000, values: [nil, nil]).token).header
        #expect(header.hasPrefix(#"{"alg":"RS256","typ":"JWT","kid":"2025-a","x5t":""#))
        #expect(header.contains(#","x5t#S256":""#))
        bjwtCertFree(nil)
    }

    @Test func signerKeyIDModes() throws {
        let (_, key) = Self.loadKey("ec-p256.pem")
        defer { bjwtKeyFree(key) }
        let (offStatus, off) = Self.createSigner(alg: BJWT_ALG_ES256, key: key, cert: nil, kidMode: BJWT_KID_OFF)
        try #require(offStatus == Self.status(BJWT_OK))
        defer { bjwtSignerFree(off) }
        #expect(try DecodedToken(Self.mintC(off, now: 0, values: [nil, nil]).token).header == #"{"alg":"ES256","typ":"JWT"}"#)

        let (thumbStatus, thumb) = Self.createSigner(alg: BJWT_ALG_ES256, key: key, cert: nil, kidMode: BJWT_KID_THUMBPRINT)
        try #require(thumbStatus == Self.status(BJWT_OK))
        defer { bjwtSignerFree(thumb) }
        let kid = try Independent.thumbprint(of: "ec-p256.pem")
        #expect(
            try DecodedToken(Self.mintC(thumb, now: 0, values: [nil, nil]).token).header
                == #"{"alg":"ES256","typ":"JWT","kid":""# + kid + #""}"#)

        for (mode, kid, message) in [
            (BJWT_KID_CUSTOM, "", "invalid key id \"\": use 1 to 256 bytes of printable UTF-8, or off"),
            (BJWT_KID_CUSTOM, "a\u{7F}", "invalid key id \"a\\x7f\": use 1 to 256 bytes of printable UTF-8, or off"),
            (3, "", "unknown key id mode 3"),
        ] {
            let err = ErrorBuffer()
            let (rc, signer) = Self.createSigner(alg: BJWT_ALG_ES256, key: key, cert: nil, kidMode: mode, kid: kid, err)
            #expect(rc == Self.status(BJWT_ERR_CONFIG))
            #expect(signer == nil)
            #expect(err.message == message)
        }
    }

    @Test func certificateErrors() {
        let err = ErrorBuffer()
        let (rc, cert) = Self.loadCertificate("rsa2048-pkcs8.pem", err)
        #expect(rc == Self.status(BJWT_ERR_CERT))
        #expect(cert == nil)
        #expect(err.message == "certificate file \(shownPath(Fixture.path("rsa2048-pkcs8.pem"))) holds no PEM certificate")

        let (_, key) = Self.loadKey("rsa4096-pkcs8.pem")
        defer { bjwtKeyFree(key) }
        let (_, other) = Self.loadCertificate("certificate.pem")
        defer { bjwtCertFree(other) }
        let mismatch = ErrorBuffer()
        let (signerStatus, signer) = Self.createSigner(alg: BJWT_ALG_RS256, key: key, cert: other, kidMode: BJWT_KID_THUMBPRINT, mismatch)
        #expect(signerStatus == Self.status(BJWT_ERR_CERT))
        #expect(signer == nil)
        #expect(mismatch.message.hasSuffix("is not for the signing key in \(shownPath(Fixture.path("rsa4096-pkcs8.pem")))"))
    }

    @Test func checkKeyID() {
        #expect(Self.withBytes("2025-rotation") { bjwtCheckKeyID($0, $1, nil, 0) } == Self.status(BJWT_OK))
        let err = ErrorBuffer()
        let rc = err.call { e, cap in Self.withBytes(String(repeating: "k", count: 257)) { bjwtCheckKeyID($0, $1, e, cap) } }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message.hasPrefix("invalid key id \"kkkk"))
        #expect(err.message.hasSuffix("\"...: use 1 to 256 bytes of printable UTF-8, or off"))
    }
}
