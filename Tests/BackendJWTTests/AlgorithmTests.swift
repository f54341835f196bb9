import BackendJWTABI
import CBackendJWT
import COpenSSL
import Crypto
import Foundation
import JWTKit
import Testing

@testable import BackendJWT

/// Every algorithm with the keys it needs: tokens verified by jwt-kit (swift-crypto, BoringSSL),
/// the names each algorithm goes by, keys that do not fit, encrypted keys, secrets, kid and
/// certificate headers.
@Suite("Algorithms and keys")
struct AlgorithmTests {
    /// The fixture each algorithm signs with here.
    static func keyFile(_ algorithm: SigningAlgorithm) -> String? {
        switch algorithm {
        case .none: nil
        case .hs256, .hs384, .hs512: "secret-64.hex"
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: "rsa2048-pkcs8.pem"
        case .es256: "ec-p256.pem"
        case .es384: "ec-p384.pem"
        case .es512: "ec-p521.pem"
        case .edDSA: "ed25519.pem"
        }
    }

    static func digest(_ algorithm: SigningAlgorithm) -> DigestAlgorithm {
        switch algorithm {
        case .rs384, .ps384, .hs384: .sha384
        case .rs512, .ps512, .hs512: .sha512
        default: .sha256
        }
    }

    /// jwt-kit keys that verify `algorithm`, built from the public half (or the secret) of its fixture.
    static func verifier(_ algorithm: SigningAlgorithm, keyFile: String? = nil) async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        guard let file = keyFile ?? Self.keyFile(algorithm) else { return await keys.addUnsecuredNone() }
        switch algorithm.family {
        case .none: return await keys.addUnsecuredNone()
        case .hmac:
            return await keys.add(hmac: HMACKey(from: try bytes(hex: Fixture.text(file))), digestAlgorithm: digest(algorithm))
        case .rsa:
            return await keys.add(rsa: try JWTKit.Insecure.RSA.PrivateKey(pem: Fixture.text(file)).publicKey, digestAlgorithm: digest(algorithm))
        case .rsaPSS:
            return await keys.add(pss: try JWTKit.Insecure.RSA.PrivateKey(pem: Fixture.text(file)).publicKey, digestAlgorithm: digest(algorithm))
        case .ecdsa:
            switch algorithm {
            case .es256: return await keys.add(ecdsa: try ES256PrivateKey(pem: Fixture.text(file)).publicKey)
            case .es384: return await keys.add(ecdsa: try ES384PrivateKey(pem: Fixture.text(file)).publicKey)
            default: return await keys.add(ecdsa: try ES512PrivateKey(pem: Fixture.text(file)).publicKey)
            }
        case .edDSA:
            return await keys.add(eddsa: try EdDSA.PrivateKey(pem: Fixture.text(file)).publicKey)
        }
    }

    /// The JOSE header the signer should write, with the kid computed here (none for HMAC and none).
    static func expectedHeader(_ algorithm: SigningAlgorithm, keyFile: String?) throws -> String {
        guard let keyFile, algorithm.family != .hmac, algorithm != .none else {
            return #"{"alg":"\#(algorithm.joseName)","typ":"JWT"}"#
        }
        return #"{"alg":"\#(algorithm.joseName)","typ":"JWT","kid":"\#(try Independent.thumbprint(of: keyFile))"}"#
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Every algorithm, both encodings

    /// jwt-kit checks the token (base64url) and the signature over the emitted text (both
    /// encodings: WSO2's base64 signs the text as emitted, like the base64 test in SigningTests).
    @Test(arguments: SigningAlgorithm.allCases, TokenEncoding.allCases)
    func mintedTokenVerifies(_ algorithm: SigningAlgorithm, _ encoding: TokenEncoding) async throws {
        let file = Self.keyFile(algorithm)
        let signer = try makeSigner(algorithm, encoding: encoding, key: file)
        let token = try mint(signer, now: Self.now, ["https://issuer.example", "alice"])
        let decoded = try DecodedToken(token, standardBase64: encoding == .base64)
        #expect(decoded.header == (try Self.expectedHeader(algorithm, keyFile: file)))
        #expect(try decoded.claims()["sub"] as? String == "alice")

        let keys = try await Self.verifier(algorithm)
        if encoding == .base64url {
            let claims = try await keys.verify(token, as: SigningTests.RegisteredClaims.self)
            #expect(claims.iss?.value == "https://issuer.example")
        }
        guard algorithm != .none else {
            #expect(decoded.segments[2].isEmpty)
            return
        }
        let signature = try #require(decodeBase64URL(decoded.segments[2], standard: encoding == .base64))
        let signingInput = [UInt8]("\(decoded.segments[0]).\(decoded.segments[1])")
        let key = try await keys.getKey(alg: algorithm.joseName)
        #expect(try key.verify(signature, signs: signingInput))
        #expect(try !key.verify(signature, signs: signingInput + [0x2E]))
    }

    /// Another key of the same type does not verify: the checks above are not vacuous.
    @Test(arguments: [
        (SigningAlgorithm.rs256, "rfc7515-a2-rsa.pem"), (.ps256, "rsa4096-pkcs8.pem"), (.hs256, "secret-32.hex"),
        (.edDSA, "rfc8037-ed25519.pem"),
    ])
    func anotherKeyDoesNotVerify(_ algorithm: SigningAlgorithm, _ otherKey: String) async throws {
        let token = try mint(makeSigner(algorithm, key: Self.keyFile(algorithm)), now: Self.now, ["i", "s"])
        let other = try await Self.verifier(algorithm, keyFile: otherKey)
        await #expect(throws: (any Error).self) { _ = try await other.verify(token, as: SigningTests.RegisteredClaims.self) }
    }

    /// RSASSA-PSS as RFC 7518 3.5 wants it, checked by OpenSSL with exact parameters: MGF1 with
    /// the same hash and a salt exactly as long as the hash; a shorter salt does not verify.
    @Test(arguments: [SigningAlgorithm.ps256, .ps384, .ps512])
    func pssUsesMGF1WithTheSameHashAndAHashLongSalt(_ algorithm: SigningAlgorithm) throws {
        let key = try Fixture.key("rsa2048-pkcs8.pem")
        let input = [UInt8]("eyJhbGciOiJQUzI1NiJ9.e30")
        let first = try input.withUnsafeBytes { try key.sign($0, algorithm: algorithm) }
        let second = try input.withUnsafeBytes { try key.sign($0, algorithm: algorithm) }
        #expect(first.count == 256)
        #expect(first != second, "PSS is randomized by its salt")
        let publicKey = try Fixture.text("rsa2048-public.pem")
        #expect(Self.openSSLVerifiesPSS(first, input, publicKey: publicKey, algorithm, saltLength: algorithm.hashBytes))
        #expect(!Self.openSSLVerifiesPSS(first, input, publicKey: publicKey, algorithm, saltLength: algorithm.hashBytes - 1))
    }

    static func openSSLVerifiesPSS(
        _ signature: [UInt8], _ input: [UInt8], publicKey pem: String, _ algorithm: SigningAlgorithm, saltLength: Int
    ) -> Bool {
        let md = algorithm.hashBytes == 32 ? EVP_sha256() : algorithm.hashBytes == 48 ? EVP_sha384() : EVP_sha512()
        // BIO_new_mem_buf keeps the pointer: the PEM bytes must outlive the BIO.
        let parsed = Array(pem.utf8).withUnsafeBytes { buffer -> OpaquePointer? in
            let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count))
            defer { BIO_free(bio) }
            return PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let pkey = parsed, let ctx = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_PKEY_free(pkey)
            EVP_MD_CTX_free(ctx)
            ERR_clear_error()
        }
        var pctx: OpaquePointer?
        guard EVP_DigestVerifyInit(ctx, &pctx, md, nil, pkey) == 1,
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1,
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1,
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, Int32(saltLength)) == 1
        else { return false }
        return EVP_DigestVerify(ctx, signature, signature.count, input, input.count) == 1
    }

    /// ECDSA signatures are R ‖ S, each padded to the curve size (RFC 7518 3.4), never DER:
    /// many signatures, so that some R or S with leading zero bytes comes up, all verified.
    @Test(arguments: [(SigningAlgorithm.es256, 64), (.es384, 96), (.es512, 132)])
    func ecdsaSignaturesAreFixedLengthRAndS(_ algorithm: SigningAlgorithm, _ length: Int) async throws {
        let key = try Fixture.key(try #require(Self.keyFile(algorithm)))
        let verifier = try await Self.verifier(algorithm).getKey(alg: algorithm.joseName)
        for i in 0..<300 {
            let input = [UInt8]("signing input \(i)")
            let signature = try input.withUnsafeBytes { try key.sign($0, algorithm: algorithm) }
            #expect(signature.count == length)
            #expect(try verifier.verify(signature, signs: input))
        }
        let token = try mint(makeSigner(algorithm, key: Self.keyFile(algorithm)), ["i", "s"])
        #expect(try decodeBase64URL(DecodedToken(token).segments[2])?.count == length)
    }

    // MARK: Names

    /// Every JOSE name and Java alias, as README's table lists them.
    static let names: [(String, SigningAlgorithm)] = [
        ("none", .none), ("NONE", .none),
        ("HS256", .hs256), ("HmacSHA256", .hs256), ("HS384", .hs384), ("HmacSHA384", .hs384),
        ("HS512", .hs512), ("HmacSHA512", .hs512),
        ("RS256", .rs256), ("SHA256withRSA", .rs256), ("RS384", .rs384), ("SHA384withRSA", .rs384),
        ("RS512", .rs512), ("SHA512withRSA", .rs512),
        ("PS256", .ps256), ("SHA256withRSAandMGF1", .ps256), ("SHA256withRSA/PSS", .ps256),
        ("PS384", .ps384), ("SHA384withRSAandMGF1", .ps384), ("SHA384withRSA/PSS", .ps384),
        ("PS512", .ps512), ("SHA512withRSAandMGF1", .ps512), ("SHA512withRSA/PSS", .ps512),
        ("ES256", .es256), ("SHA256withECDSA", .es256), ("ES384", .es384), ("SHA384withECDSA", .es384),
        ("ES512", .es512), ("SHA512withECDSA", .es512),
        ("EdDSA", .edDSA), ("Ed25519", .edDSA),
    ]

    @Test(arguments: names)
    func parsesEveryNameInAnyCase(_ name: String, _ algorithm: SigningAlgorithm) throws {
        for text in [name, name.lowercased(), name.uppercased()] {
            #expect(try SigningAlgorithm.parse([UInt8](text)) == algorithm, "\(text)")
            let conf = ABITests.Conf()
            let level = conf.level()
            let err = ABITests.ErrorBuffer()
            #expect(conf.directive(level, "backend_jwt_signing_algorithm", [text], err) == Int32(BJWT_OK), "\(err.message)")
            #expect(conf.settings(level).algorithm.value == algorithm, "\(text)")
        }
    }

    @Test func everyAlgorithmHasAName() {
        #expect(Set(Self.names.map(\.1)) == Set(SigningAlgorithm.allCases))
    }

    // MARK: Keys that do not fit

    /// Each message names the file, the key type and the algorithm (and what it needs, where known).
    @Test(arguments: [
        (SigningAlgorithm.es256, "rsa2048-pkcs8.pem", "holds a key of type RSA 2048-bit, which cannot sign ES256; ES256 needs an EC P-256 key"),
        (.es384, "ec-p256.pem", "holds a key of type EC P-256, which cannot sign ES384; ES384 needs an EC P-384 key"),
        (.es256, "ec-p521.pem", "holds a key of type EC P-521, which cannot sign ES256; ES256 needs an EC P-256 key"),
        (.es512, "ec-p384.pem", "holds a key of type EC P-384, which cannot sign ES512; ES512 needs an EC P-521 key"),
        (.es256, "ec-secp256k1.pem", "holds a key of type EC secp256k1, which cannot sign ES256; ES256 needs an EC P-256 key"),
        (.es256, "ed25519.pem", "holds a key of type Ed25519, which cannot sign ES256; ES256 needs an EC P-256 key"),
        (.rs256, "ed25519.pem", "holds a key of type Ed25519, which cannot sign RS256; RS256 needs an RSA key"),
        (.ps512, "ec-p256.pem", "holds a key of type EC P-256, which cannot sign PS512; PS512 needs an RSA key"),
        (.edDSA, "rsa2048-pkcs8.pem", "holds a key of type RSA 2048-bit, which cannot sign EdDSA; EdDSA needs an Ed25519 key"),
        (.edDSA, "ec-p256.pem", "holds a key of type EC P-256, which cannot sign EdDSA; EdDSA needs an Ed25519 key"),
        (.hs256, "rsa2048-pkcs8.pem",
         "holds a key of type RSA 2048-bit, which cannot sign HS256; HS256 needs backend_jwt_signing_secret"),
        (.hs512, "ed25519.pem", "holds a key of type Ed25519, which cannot sign HS512; HS512 needs backend_jwt_signing_secret"),
        (.rs256, "secret-64.hex", "holds a key of type HMAC secret of 64 bytes, which cannot sign RS256; RS256 needs an RSA key"),
        (.es256, "secret-64.hex",
         "holds a key of type HMAC secret of 64 bytes, which cannot sign ES256; ES256 needs an EC P-256 key"),
        (.edDSA, "secret-64.hex",
         "holds a key of type HMAC secret of 64 bytes, which cannot sign EdDSA; EdDSA needs an Ed25519 key"),
        (.hs384, "secret-32.hex",
         "holds a key of type HMAC secret of 32 bytes, which cannot sign HS384; HS384 needs a secret of at least 48 bytes (RFC 7518 3.2)"),
        (.hs512, "secret-32.hex",
         "holds a key of type HMAC secret of 32 bytes, which cannot sign HS512; HS512 needs a secret of at least 64 bytes (RFC 7518 3.2)"),
    ])
    func refusesAKeyThatDoesNotFit(_ algorithm: SigningAlgorithm, _ file: String, _ why: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try makeSigner(algorithm, key: file) }
        #expect(error?.kind == .key)
        let noun = file.hasSuffix(".hex") ? "secret file" : "key file"
        #expect(error?.message == "\(noun) \(shownPath(Fixture.path(file))) \(why)")
    }

    /// RFC 7518 3.2: an HMAC secret at least as long as the hash; one byte less is refused.
    @Test(arguments: [(SigningAlgorithm.hs256, 32), (.hs384, 48), (.hs512, 64)])
    func hmacSecretsMustBeAsLongAsTheHash(_ algorithm: SigningAlgorithm, _ length: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let enough = try SigningKey(secretPath: [UInt8](directory.write("enough", [UInt8](repeating: 0x5A, count: length))), encoding: .raw)
        _ = try Signer(algorithm: algorithm, encoding: .base64url, ttl: 60, key: enough, claims: [])

        let short = try directory.write("short", [UInt8](repeating: 0x5A, count: length - 1))
        let error = #expect(throws: BackendJWTError.self) {
            let key = try SigningKey(secretPath: [UInt8](short), encoding: .raw)
            _ = try Signer(algorithm: algorithm, encoding: .base64url, ttl: 60, key: key, claims: [])
        }
        #expect(error?.kind == .key)
        #expect(
            error?.message
                == "secret file \(shownPath(short)) holds a key of type HMAC secret of \(length - 1) bytes, which cannot "
                + "sign \(algorithm.joseName); \(algorithm.joseName) needs a secret of at least \(length) bytes (RFC 7518 3.2)")
    }

    /// A public key (what backend_jwt_jwks_key reads) has nothing to sign with; the message names
    /// the file, the key type and the algorithm.
    @Test(arguments: ["rsa2048-public.pem", "ec-p256-public.pem", "ed25519-public.pem"])
    func aPublicKeyCannotSign(_ file: String) throws {
        let key = try Fixture.publicKey(file)
        #expect(!key.isPrivate)
        let algorithm: SigningAlgorithm = file.hasPrefix("rsa") ? .rs256 : file.hasPrefix("ec") ? .es256 : .edDSA
        let error = #expect(throws: BackendJWTError.self) {
            _ = try Signer(algorithm: algorithm, encoding: .base64url, ttl: 60, key: key, claims: [])
        }
        #expect(error?.kind == .key)
        let type = file.hasPrefix("rsa") ? "RSA 2048-bit" : file.hasPrefix("ec") ? "EC P-256" : "Ed25519"
        #expect(
            error?.message
                == "key file \(shownPath(Fixture.path(file))) holds a public \(type) key, which cannot sign \(algorithm.joseName)")
    }

    /// A private key read as a JWKS key keeps its private half, and signs.
    @Test func aPrivateKeyReadForTheJWKSStillSigns() async throws {
        let key = try Fixture.publicKey("ec-p384.pem")
        #expect(key.isPrivate)
        let signer = try Signer(algorithm: .es384, encoding: .base64url, ttl: 60, key: key, claims: [])
        let token = try mint(signer, now: Self.now, ["i", "s"])
        _ = try await Self.verifier(.es384).verify(token, as: SigningTests.RegisteredClaims.self)
    }

    // MARK: Encrypted PKCS#8 and password files

    static func loadEncrypted(_ file: String = "rsa2048-encrypted.pem", passwordFile: String) throws(BackendJWTError)
        -> SigningKey
    {
        try SigningKey(path: [UInt8](Fixture.path(file)), passwordFile: [UInt8](passwordFile))
    }

    /// The first line of the file is the password, whatever ends it.
    @Test(arguments: ["secret", "secret\n", "secret\r\n", "secret\nsomething else\n"])
    func opensAnEncryptedKeyWithThePasswordFile(_ content: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = try Self.loadEncrypted(passwordFile: directory.write("password", content))
        #expect(key.type == .rsa(bits: 2048))
        let signer = try Signer(algorithm: .rs256, encoding: .base64url, ttl: 60, key: key, claims: [])
        #expect(signer.keyID == [UInt8](try Independent.thumbprint(of: "rsa2048-public.pem")))
        let token = try mint(signer, now: Self.now, ["i", "s"])
        _ = try await SigningTests.verifier("rsa2048-public.pem").verify(token, as: SigningTests.RegisteredClaims.self)
    }

    /// Only the exact first line opens the key (no trimming, case-sensitive), and OpenSSL's error
    /// queue, which nginx reads too, is left empty.
    @Test(arguments: ["wrong", "secret ", " secret", "SECRET"])
    func aWrongPasswordIsRefused(_ password: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwordFile = try directory.write("password", password)
        ERR_clear_error()
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.loadEncrypted(passwordFile: passwordFile) }
        #expect(error?.kind == .key)
        #expect(
            error?.message == "key file \(shownPath(Fixture.path("rsa2048-encrypted.pem"))) holds an encrypted "
                + "private key that the password does not open")
        #expect(ERR_peek_error() == 0)
    }

    @Test(arguments: ["", "\n", "\r\n"])
    func anEmptyPasswordFileIsRefused(_ content: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwordFile = try directory.write("password", content)
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.loadEncrypted(passwordFile: passwordFile) }
        #expect(error?.kind == .key)
        #expect(error?.message == "password file \(shownPath(passwordFile)) is empty")
    }

    @Test func aMissingPasswordFileIsRefused() {
        let passwordFile = Fixture.path("no-such-password")
        let error = #expect(throws: BackendJWTError.self) { _ = try Self.loadEncrypted(passwordFile: passwordFile) }
        #expect(error?.kind == .key)
        #expect(error?.message == "cannot open password file \(shownPath(passwordFile)): No such file or directory")
    }

    /// A legacy-encrypted PKCS#1 key (Proc-Type: 4,ENCRYPTED) opens with its password too, and a
    /// plain key ignores the password.
    @Test(arguments: ["rsa2048-pkcs1-encrypted.pem", "rsa2048-pkcs8.pem"])
    func otherKeysWithAPasswordFile(_ file: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwordFile = try directory.write("password", "secret\n")
        #expect(try Self.loadEncrypted(file, passwordFile: passwordFile).type == .rsa(bits: 2048))
    }

    // MARK: Secret encodings

    /// 64 bytes whose base64 form has both "+" and "/" (FB FF BF is "+/+/").
    static let secret: [UInt8] = [0xFB, 0xFF, 0xBF] + (3..<64).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 0xF8) }

    static func secretFiles() -> [(SecretEncoding, String)] {
        let base64 = Data(secret).base64EncodedString()
        let url = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let hex = secret.map { String(format: "%02x", $0) }.joined()
        // `openssl rand -base64 64` wraps its output after 64 characters; `xxd -p` after 60.
        let wrapped = String(base64.prefix(64)) + "\n" + String(base64.dropFirst(64)) + "\n"
        let spacedHex = stride(from: 0, to: hex.count, by: 2).map { i in
            hex.dropFirst(i).prefix(2) + (i % 60 == 58 ? "\r\n" : " ")
        }.joined()
        return [
            (.hex, hex), (.hex, " \t" + hex.uppercased() + "\r\n"), (.hex, spacedHex), (.base64, base64),
            (.base64, base64 + "\n"), (.base64, wrapped), (.base64, base64.replacingOccurrences(of: "=", with: "")),
            (.base64url, url.replacingOccurrences(of: "=", with: "")), (.base64url, "\n" + url + "\n"),
            (.base64url, url.replacingOccurrences(of: "=", with: "").split(by: 8).joined(separator: " ")),
        ]
    }

    @Test func secretEncodingsDecodeToTheSameBytes() async throws {
        #expect(Data(Self.secret).base64EncodedString().contains("+"))
        #expect(Data(Self.secret).base64EncodedString().contains("/"))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var files = [(SecretEncoding.raw, try directory.write("raw", Self.secret))]
        for (index, (encoding, text)) in Self.secretFiles().enumerated() {
            files.append((encoding, try directory.write("secret\(index)", text)))
        }
        let verifier = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha512)
        for (encoding, path) in files {
            let key = try SigningKey(secretPath: [UInt8](path), encoding: encoding)
            #expect(key.type == .secret(bytes: 64), "\(encoding) \(path)")
            #expect(key.secret == Self.secret, "\(encoding) \(path)")
            let signer = try Signer(algorithm: .hs512, encoding: .base64url, ttl: 60, key: key, claims: [])
            _ = try await verifier.verify(mint(signer, now: Self.now, ["i", "s"]), as: SigningTests.RegisteredClaims.self)
        }
    }

    @Test(arguments: [
        (SecretEncoding.hex, "abc"), (.hex, "zz"), (.hex, "0x00"), (.hex, "0 0 1"), (.hex, "00,11"),
        (.base64, "QUJD-A"), (.base64, "QQ==="), (.base64, "Q"), (.base64, "QUJD=A"), (.base64, "QUJD\u{0B}QUJD"),
        (.base64url, "QUJD+A"), (.base64url, "QUJD/A"), (.base64url, "Q"),
    ])
    func invalidSecretTextIsRefused(_ encoding: SecretEncoding, _ text: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("secret", text)
        let error = #expect(throws: BackendJWTError.self) { _ = try SigningKey(secretPath: [UInt8](path), encoding: encoding) }
        #expect(error?.kind == .key)
        #expect(error?.message == "secret file \(shownPath(path)) is not valid \(encoding)")
    }

    @Test(arguments: [(SecretEncoding.raw, ""), (.hex, " \n"), (.base64, "\n"), (.base64url, "")])
    func anEmptySecretIsRefused(_ encoding: SecretEncoding, _ text: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("secret", text)
        let error = #expect(throws: BackendJWTError.self) { _ = try SigningKey(secretPath: [UInt8](path), encoding: encoding) }
        #expect(error?.kind == .key)
        #expect(error?.message == "secret file \(shownPath(path)) is empty")
    }

    @Test func encodingOption() throws {
        #expect(try SecretEncoding.parseOption([UInt8]("encoding=hex")) == .hex)
        #expect(try SecretEncoding.parseOption([UInt8]("encoding=base64")) == .base64)
        #expect(try SecretEncoding.parseOption([UInt8]("encoding=base64url")) == .base64url)
        for option in ["encoding=raw", "encoding=HEX", "encoding=", "encoding=base32", "hex", "password_file=x"] {
            let error = #expect(throws: BackendJWTError.self) { _ = try SecretEncoding.parseOption([UInt8](option)) }
            #expect(error?.kind == .config)
            #expect(
                error?.message
                    == "unknown option \(shownInMessage(option)); use encoding=base64, encoding=base64url or encoding=hex")
        }
    }

    // MARK: kid

    @Test func hmacTokensHaveNoDefaultKeyID() throws {
        let signer = try makeSigner(.hs256, key: "secret-64.hex")
        #expect(signer.keyID == nil)
        #expect(try DecodedToken(mint(signer, [nil, nil])).header == #"{"alg":"HS256","typ":"JWT"}"#)
    }

    /// backend_jwt_key_id: any printable UTF-8, escaped as JSON; jwt-kit reads it back.
    @Test(arguments: [SigningAlgorithm.es256, .hs256, .edDSA])
    func customKeyID(_ algorithm: SigningAlgorithm) async throws {
        let kid = "2025 \"rotation\" \\ β"
        let signer = try makeSigner(algorithm, key: Self.keyFile(algorithm), keyID: .custom([UInt8](kid)))
        let token = try mint(signer, now: Self.now, ["i", "s"])
        let header = try DecodedToken(token).header
        #expect(header == #"{"alg":"\#(algorithm.joseName)","typ":"JWT","kid":"2025 \"rotation\" \\ β"}"#)
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: String])
        #expect(parsed["kid"] == kid)
        _ = try await Self.verifier(algorithm).verify(token, as: SigningTests.RegisteredClaims.self)
    }

    @Test(arguments: [SigningAlgorithm.rs256, .es512, .hs384])
    func keyIDOff(_ algorithm: SigningAlgorithm) throws {
        let signer = try makeSigner(algorithm, key: Self.keyFile(algorithm), keyID: .off)
        #expect(signer.keyID == nil)
        #expect(try DecodedToken(mint(signer, [nil, nil])).header == #"{"alg":"\#(algorithm.joseName)","typ":"JWT"}"#)
    }

    /// Unsigned tokens carry no kid, whatever the configuration says.
    @Test(arguments: [Signer.KeyIDSource.thumbprint, .custom([UInt8]("k")), .off])
    func noneHasNoKeyID(_ keyID: Signer.KeyIDSource) throws {
        let signer = try makeSigner(.none, key: "ec-p256.pem", keyID: keyID)
        #expect(try DecodedToken(mint(signer, [nil, nil])).header == #"{"alg":"none","typ":"JWT"}"#)
    }

    @Test func keyIDCheck() throws {
        for good in ["a", "2025-01", "ключ", String(repeating: "k", count: 256)] {
            try KeyOptions.checkKeyID([UInt8](good))
        }
        for bad in [[], [UInt8](repeating: 0x6B, count: 257), [0x61, 0x09], [0x7F], [0xFF], [0x61, 0x0A]] as [[UInt8]] {
            let error = #expect(throws: BackendJWTError.self) { try KeyOptions.checkKeyID(bad) }
            #expect(error?.kind == .config)
            #expect(error?.message == "invalid key id \(shownInMessage(bad)): use 1 to 256 bytes of printable UTF-8, or off")
        }
    }

    /// The kid is the same for every token of a location: `$arg_k` would go out as that text.
    @Test(arguments: ["$arg_k", "key-$1", "$", "${kid}"])
    func keyIDWithADollarIsRefused(_ bad: String) {
        let error = #expect(throws: BackendJWTError.self) { try KeyOptions.checkKeyID([UInt8](bad)) }
        #expect(error?.kind == .config)
        #expect(error?.message == "invalid key id \(shownInMessage(bad)): variables are not supported here; write the kid without \"$\"")
    }

    // MARK: Certificates

    /// x5t and x5t#S256 (RFC 7515 4.1.7, 4.1.8): base64url of the SHA-1 and SHA-256 of the DER,
    /// computed here with swift-crypto over the DER Foundation decodes from the PEM.
    @Test(arguments: [
        (SigningAlgorithm.rs256, "rsa2048-pkcs8.pem", "certificate.pem"), (.ps384, "rsa2048-pkcs1.pem", "certificate.pem"),
        (.es256, "ec-p256.pem", "certificate-ec-p256.pem"),
    ])
    func certificateThumbprintsFollowTheKeyID(_ algorithm: SigningAlgorithm, _ keyFile: String, _ certificate: String)
        async throws
    {
        let der = try Fixture.der(certificate)
        #expect(try Fixture.certificate(certificate).der == der)
        let x5t = base64url(Crypto.Insecure.SHA1.hash(data: der))
        let x5tS256 = base64url(SHA256.hash(data: der))
        let kid = try Independent.thumbprint(of: keyFile)

        let signer = try makeSigner(algorithm, key: keyFile, certificate: certificate)
        let token = try mint(signer, now: Self.now, ["i", "s"])
        #expect(
            try DecodedToken(token).header
                == #"{"alg":"\#(algorithm.joseName)","typ":"JWT","kid":"\#(kid)","x5t":"\#(x5t)","x5t#S256":"\#(x5tS256)"}"#)
        _ = try await Self.verifier(algorithm, keyFile: keyFile).verify(token, as: SigningTests.RegisteredClaims.self)

        let noKeyID = try makeSigner(algorithm, key: keyFile, certificate: certificate, keyID: .off)
        #expect(
            try DecodedToken(mint(noKeyID, [nil, nil])).header
                == #"{"alg":"\#(algorithm.joseName)","typ":"JWT","x5t":"\#(x5t)","x5t#S256":"\#(x5tS256)"}"#)
    }

    @Test(arguments: [
        (SigningAlgorithm.rs256, "rsa4096-pkcs8.pem", "certificate.pem"), (.es256, "ec-p256.pem", "certificate.pem"),
        (.rs256, "rsa2048-pkcs8.pem", "certificate-ec-p256.pem"), (.hs256, "secret-64.hex", "certificate.pem"),
    ])
    func aCertificateForAnotherKeyIsRefused(_ algorithm: SigningAlgorithm, _ keyFile: String, _ certificate: String) {
        let error = #expect(throws: BackendJWTError.self) {
            _ = try makeSigner(algorithm, key: keyFile, certificate: certificate)
        }
        #expect(error?.kind == .certificate)
        #expect(
            error?.message == "certificate file \(shownPath(Fixture.path(certificate))) is not for the signing key in "
                + shownPath(Fixture.path(keyFile)))
    }

    @Test(arguments: ["rsa2048-pkcs8.pem", "garbage.pem", "rsa2048-public.pem"])
    func aFileWithoutACertificateIsRefused(_ file: String) {
        let error = #expect(throws: BackendJWTError.self) { _ = try Fixture.certificate(file) }
        #expect(error?.kind == .certificate)
        #expect(error?.message == "certificate file \(shownPath(Fixture.path(file))) holds no PEM certificate")
    }

    /// A certificate file that cannot be read is a certificate error (BJWT_ERR_CERT).
    @Test func aMissingCertificateFileIsACertificateError() {
        let error = #expect(throws: BackendJWTError.self) { _ = try Fixture.certificate("missing.pem") }
        #expect(
            error?.message == "cannot open certificate file \(shownPath(Fixture.path("missing.pem"))): No such file or directory")
        #expect(error?.kind == .certificate)
    }

    /// Unsigned tokens carry no certificate thumbprints either.
    @Test func noneIgnoresTheCertificate() throws {
        let signer = try makeSigner(.none, key: "rsa2048-pkcs8.pem", certificate: "certificate.pem")
        #expect(try DecodedToken(mint(signer, [nil, nil])).header == #"{"alg":"none","typ":"JWT"}"#)
    }
}
