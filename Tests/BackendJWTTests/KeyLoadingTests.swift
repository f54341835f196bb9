import COpenSSL
import Foundation
import Testing

@testable import BackendJWT

/// `backend_jwt_signing_key`: what loads, and the message for each kind of wrong file.
@Suite("Signing key files")
struct KeyLoadingTests {
    /// How a message shows a path: quoted, whole (the operator needs all of it to find the file).
    static func shown(_ path: String) -> String { shownPath(path) }

    static func expectKeyError(
        _ path: String, _ ending: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) {
            _ = try SigningKey(path: [UInt8](path))
        }
        #expect(error?.kind == .key, sourceLocation: sourceLocation)
        let expected = "key file \(shown(path)) \(ending)"
        #expect(error?.message.hasPrefix(expected) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    /// A fresh directory for files the tests write, removed afterwards.
    static func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bjwt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory.path)
    }

    /// open() would stop at the NUL and read another file than the one named.
    @Test func refusesAPathWithANULByte() {
        let path = Fixture.path("rsa2048-pkcs8.pem") + "\u{0}junk"
        let error = #expect(throws: BackendJWTError.self) { _ = try SigningKey(path: [UInt8](path.utf8)) }
        #expect(error?.message.hasSuffix("has a NUL byte in its name") == true)
    }

    @Test(arguments: [
        ("rsa2048-pkcs8.pem", SigningKey.KeyType.rsa(bits: 2048)), ("rsa2048-pkcs1.pem", .rsa(bits: 2048)),
        ("rsa4096-pkcs8.pem", .rsa(bits: 4096)),
    ])
    func loadsRSAPrivateKeys(_ file: String, _ type: SigningKey.KeyType) throws {
        let key = try Fixture.key(file)
        #expect(key.type == type)
        #expect(key.path == Fixture.path(file))
    }

    /// EC keys (PKCS#8 or SEC1) name their curve as OpenSSL does; the signer matches it to the
    /// algorithm (see AlgorithmTests). secp256k1 loads but no algorithm here accepts it.
    @Test(arguments: [
        ("ec-p256.pem", SigningKey.KeyType.ec(curve: "prime256v1")), ("ec-p256-sec1.pem", .ec(curve: "prime256v1")),
        ("ec-p384.pem", .ec(curve: "secp384r1")), ("ec-p521.pem", .ec(curve: "secp521r1")),
        ("ec-secp256k1.pem", .ec(curve: "secp256k1")), ("ed25519.pem", .ed25519),
    ])
    func loadsECAndEd25519Keys(_ file: String, _ type: SigningKey.KeyType) throws {
        let key = try Fixture.key(file)
        #expect(key.type == type)
        #expect(key.isPrivate)
    }

    /// Messages name curves as JOSE does where it has a name.
    @Test func keyTypeDescriptions() {
        #expect(SigningKey.KeyType.ec(curve: "prime256v1").description == "EC P-256")
        #expect(SigningKey.KeyType.ec(curve: "secp384r1").description == "EC P-384")
        #expect(SigningKey.KeyType.ec(curve: "secp521r1").description == "EC P-521")
        #expect(SigningKey.KeyType.ec(curve: "secp256k1").description == "EC secp256k1")
        #expect(SigningKey.KeyType.rsa(bits: 3072).description == "RSA 3072-bit")
        #expect(SigningKey.KeyType.ed25519.description == "Ed25519")
        #expect(SigningKey.KeyType.secret(bytes: 40).description == "HMAC secret of 40 bytes")
    }

    /// Key types no JOSE algorithm here signs with are refused when the file is read, naming the type.
    @Test(arguments: [("rsa-pss.pem", "RSA-PSS"), ("ed448.pem", "Ed448")])
    func rejectsKeyTypesNoAlgorithmSignsWith(_ file: String, _ type: String) {
        Self.expectKeyError(
            Fixture.path(file), "holds a key of type \(type), which no JOSE algorithm here signs with")
    }

    @Test func loadsTheKeyAfterACertificateInTheSameFile() throws {
        try Self.withTemporaryDirectory { directory in
            let bundle = directory + "/bundle.pem"
            try (Fixture.text("certificate.pem") + Fixture.text("rsa2048-pkcs8.pem")).write(
                toFile: bundle, atomically: true, encoding: .utf8)
            #expect(try SigningKey(path: [UInt8](bundle)).type == .rsa(bits: 2048))
        }
    }

    @Test func rejectsAMissingFile() {
        let error = #expect(throws: BackendJWTError.self) { _ = try Fixture.key("missing.pem") }
        #expect(
            error?.message == "cannot open key file \(Self.shown(Fixture.path("missing.pem"))): No such file or directory")
        #expect(error?.kind == .key)
    }

    /// Paths are never cut (unlike request values), and bytes that are not printable are escaped.
    @Test func messagesShowTheWholePath() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/" + String(repeating: "long-directory-name/", count: 10) + "k\u{1}\"ey.pem"
        let error = #expect(throws: BackendJWTError.self) { _ = try SigningKey(path: [UInt8](path)) }
        #expect(path.utf8.count > 200)
        #expect(
            error?.message == "cannot open key file \"\(path.replacingOccurrences(of: "\u{1}\"", with: #"\x01\x22"#))\": "
                + "No such file or directory")
    }

    @Test func rejectsAnEmptyPath() {
        let error = #expect(throws: BackendJWTError.self) { _ = try SigningKey(path: [UInt8]()) }
        #expect(error?.kind == .key)
        #expect(error?.message == "cannot open key file \"\": No such file or directory")
    }

    @Test func rejectsADirectory() {
        Self.expectKeyError(Fixture.directory, "is not a regular file")
    }

    @Test func rejectsADevice() {
        Self.expectKeyError("/dev/null", "is not a regular file")
    }

    @Test func rejectsAPublicKey() {
        Self.expectKeyError(Fixture.path("rsa2048-public.pem"), "holds a public key, not a private key")
    }

    @Test func rejectsACertificate() {
        Self.expectKeyError(Fixture.path("certificate.pem"), "holds a certificate, not a private key")
    }

    /// Without password_file= an encrypted key fails (and never prompts on the terminal).
    @Test func rejectsAnEncryptedPKCS8KeyWithoutPassword() {
        Self.expectKeyError(
            Fixture.path("rsa2048-encrypted.pem"), "holds an encrypted private key; name its password with password_file=")
    }

    @Test func rejectsAnEncryptedPKCS1KeyWithoutPassword() {
        Self.expectKeyError(
            Fixture.path("rsa2048-pkcs1-encrypted.pem"),
            "holds an encrypted private key; name its password with password_file=")
    }

    @Test func rejectsADamagedKey() {
        Self.expectKeyError(
            Fixture.path("truncated.pem"), "holds a private key OpenSSL cannot parse (damaged, or encrypted in a legacy form)")
    }

    @Test func rejectsAFileWithoutPEM() {
        Self.expectKeyError(Fixture.path("garbage.pem"), "holds no PEM private key")
    }

    @Test func rejectsAnEmptyFile() throws {
        try Self.withTemporaryDirectory { directory in
            let path = directory + "/empty.pem"
            try Data().write(to: URL(fileURLWithPath: path))
            Self.expectKeyError(path, "holds no PEM private key")
        }
    }

    @Test func rejectsAFileLargerThanOneMebibyte() throws {
        try Self.withTemporaryDirectory { directory in
            let path = directory + "/large.pem"
            try Data(repeating: 0x41, count: 1 << 20 + 1).write(to: URL(fileURLWithPath: path))
            Self.expectKeyError(path, "is larger than 1048576 bytes")
        }
    }

    @Test func acceptsAKeyFileOfExactlyOneMebibyte() throws {
        try Self.withTemporaryDirectory { directory in
            let path = directory + "/padded.pem"
            var pem = Data(try Fixture.text("rsa2048-pkcs8.pem").utf8)
            pem.append(Data(repeating: 0x0A, count: (1 << 20) - pem.count))
            try pem.write(to: URL(fileURLWithPath: path))
            #expect(try SigningKey(path: [UInt8](path)).type == .rsa(bits: 2048))
        }
    }

    @Test func rejectsAnRSAKeyShorterThan2048Bits() {
        Self.expectKeyError(
            Fixture.path("rsa1024.pem"), "holds an RSA 1024-bit key; at least 2048 bits are required")
    }

    /// nginx reads OpenSSL's error queue for its own TLS errors: a failed load must leave it empty.
    @Test(arguments: [
        "garbage.pem", "rsa2048-public.pem", "rsa2048-encrypted.pem", "truncated.pem", "rsa1024.pem", "rsa-pss.pem",
        "ed448.pem",
    ])
    func leavesNoOpenSSLErrorBehind(_ file: String) {
        ERR_clear_error()
        #expect(throws: BackendJWTError.self) { _ = try Fixture.key(file) }
        #expect(ERR_peek_error() == 0)
    }

    /// A message never copies the file's content (a private key in a log).
    @Test func messageDoesNotEchoTheFileContent() throws {
        let error = #expect(throws: BackendJWTError.self) { _ = try Fixture.key("truncated.pem") }
        let firstBase64Line = try Fixture.text("truncated.pem").split(separator: "\n")[1]
        #expect(error?.message.contains(firstBase64Line.prefix(16)) == false)
    }
}
