import COpenSSL
import Foundation
import Testing

@testable import BackendJWT

/// `backend_jwt_signing_key`: what loads, and the message for each kind of wrong file.
@Suite("Signing key files")
struct KeyLoadingTests {
    /// How a message shows a path: quoted, cut after 64 bytes (a clone may live at a long path).
    static func shown(_ path: String) -> String {
        path.utf8.count <= 64 ? "\"\(path)\"" : "\"\(String(decoding: path.utf8.prefix(64), as: UTF8.self))\"..."
    }

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

    /// Other key types load, and the signer refuses them for RS256 (see SigningTests).
    @Test(arguments: [("ec-p256.pem", "EC"), ("ed25519.pem", "Ed25519"), ("rsa-pss.pem", "RSA-PSS")])
    func namesOtherKeyTypes(_ file: String, _ name: String) throws {
        #expect(try Fixture.key(file).type == .other(name))
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

    @Test func rejectsAnEncryptedPKCS8Key() {
        Self.expectKeyError(
            Fixture.path("rsa2048-encrypted.pem"),
            "holds an encrypted private key; password-protected keys are not supported yet, decrypt it with openssl pkey"
        )
    }

    @Test func rejectsAnEncryptedPKCS1Key() {
        Self.expectKeyError(
            Fixture.path("rsa2048-pkcs1-encrypted.pem"), "holds a private key OpenSSL cannot parse (damaged or encrypted)")
    }

    @Test func rejectsADamagedKey() {
        Self.expectKeyError(
            Fixture.path("truncated.pem"), "holds a private key OpenSSL cannot parse (damaged or encrypted)")
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
    @Test(arguments: ["garbage.pem", "rsa2048-public.pem", "rsa2048-encrypted.pem", "truncated.pem", "rsa1024.pem"])
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
