import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import BackendJWT

/// What every file the configuration names must be: a regular file (never opened in a way that
/// can block), holding exactly one PEM block where a PEM file is expected, and for an HMAC
/// secret, not a key.
@Suite("Key, secret, password and certificate files")
struct KeyFileTests {
    static func message(_ body: () throws(BackendJWTError) -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: - FIFOs (and other files that are not regular)

    /// Runs `body` on its own thread; if it has not returned after 5 s (open() blocking on a
    /// FIFO with no writer), opens `fifo` for writing to release it and records a failure, so
    /// the test fails instead of hanging. Returns the error message `body` threw.
    static func loadWithoutBlocking(
        fifo: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: @escaping @Sendable () throws(BackendJWTError) -> Void
    ) -> String? {
        final class Box: @unchecked Sendable { var message: String? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.message = message(body)
            done.signal()
        }.start()
        if done.wait(timeout: .now() + 5) == .timedOut {
            Issue.record("loading blocked on the FIFO", sourceLocation: sourceLocation)
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            done.wait()
        }
        return box.message
    }

    @Test func everyFileIsRefusedPromptlyWhenItIsAFIFO() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fifo = directory.path + "/fifo"
        try #require(mkfifo(fifo, 0o600) == 0)
        let shown = shownPath(fifo)
        let key = Fixture.path("rsa2048-encrypted.pem")
        let cases: [(String, @Sendable () throws(BackendJWTError) -> Void)] = [
            ("key file", { () throws(BackendJWTError) in _ = try SigningKey(path: [UInt8](fifo.utf8)) }),
            ("password file", { () throws(BackendJWTError) in _ = try SigningKey(path: [UInt8](key.utf8), passwordFile: [UInt8](fifo.utf8)) }),
            ("secret file", { () throws(BackendJWTError) in _ = try SigningKey(secretPath: [UInt8](fifo.utf8), encoding: .hex) }),
            ("certificate file", { () throws(BackendJWTError) in _ = try Certificate(path: [UInt8](fifo.utf8)) }),
            ("key file", { () throws(BackendJWTError) in _ = try SigningKey(publicPath: [UInt8](fifo.utf8)) }),
        ]
        for (noun, load) in cases {
            let message = Self.loadWithoutBlocking(fifo: fifo, load)
            #expect(message == "\(noun) \(shown) is not a regular file (a FIFO)", "\(noun)")
        }
    }

    @Test func aDeviceIsNamedAsSuch() {
        #expect(Self.message { () throws(BackendJWTError) in _ = try SigningKey(path: [UInt8]("/dev/null".utf8)) }
            == "key file \"/dev/null\" is not a regular file (a device)")
    }

    // MARK: - one PEM block, nothing around it

    static func pem(_ name: String) throws -> String { try Fixture.text(name) }

    static func keyMessage(_ contents: String, publishing: Bool = false) throws -> (String, String?) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("key.pem", contents)
        let message = Self.message { () throws(BackendJWTError) in
            if publishing {
                _ = try SigningKey(publicPath: [UInt8](path.utf8))
            } else {
                _ = try SigningKey(path: [UInt8](path.utf8))
            }
        }
        return (shownPath(path), message)
    }

    @Test func twoKeysInOneFileAreRefused() throws {
        let (shown, message) = try Self.keyMessage(try Self.pem("rsa2048-pkcs8.pem") + Self.pem("ec-p256.pem"))
        #expect(message == "key file \(shown) holds 2 PEM blocks (\"PRIVATE KEY\", \"PRIVATE KEY\"); put one key in it")
        let (shown2, message2) = try Self.keyMessage(
            try Self.pem("certificate.pem") + Self.pem("rsa2048-pkcs8.pem") + Self.pem("rsa2048-pkcs1.pem"))
        #expect(message2 == "key file \(shown2) holds 2 PEM blocks (\"PRIVATE KEY\", \"RSA PRIVATE KEY\"); put one key in it")
        let (shown3, message3) = try Self.keyMessage(
            try Self.pem("rsa2048-public.pem") + Self.pem("ec-p256-public.pem"), publishing: true)
        #expect(message3 == "key file \(shown3) holds 2 PEM blocks (\"PUBLIC KEY\", \"PUBLIC KEY\"); put one key in it")
    }

    @Test(arguments: [
        ("Bag Attributes\n    localKeyID: 01\nKey Attributes: <No Attributes>\n", "", "before"),
        ("", "trailing words\n", "after"), ("x\n", "", "before"), ("", "\n\n}\n", "after"),
    ])
    func textAroundTheBlockIsRefused(_ before: String, _ after: String, _ place: String) throws {
        let (shown, message) = try Self.keyMessage(before + Self.pem("rsa2048-pkcs8.pem") + after)
        #expect(message == "key file \(shown) has text \(place) its PEM block; remove it, the file must hold only one key")
    }

    /// White space around the block, CRLF line ends, the `Proc-Type:` headers of an encrypted
    /// PKCS#1 key and the EC PARAMETERS block `openssl ecparam -genkey` writes are all fine.
    @Test func whatIsAllowedAroundAndInsideTheBlock() throws {
        let rsa = try Self.pem("rsa2048-pkcs8.pem")
        #expect(try Self.keyMessage("\n \t\n" + rsa + "\n\n   \n").1 == nil)
        #expect(try Self.keyMessage(rsa.replacingOccurrences(of: "\n", with: "\r\n")).1 == nil)
        // A bundle: the certificate beside the key (KeyLoadingTests loads it as a key).
        #expect(try Self.keyMessage(try Self.pem("rsa2048-pkcs8.pem") + Self.pem("certificate.pem")).1 == nil)
        let ecParameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        #expect(try Self.keyMessage(ecParameters + Self.pem("ec-p256-sec1.pem")).1 == nil)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let password = try directory.write("password", "secret\n")
        _ = try SigningKey(path: [UInt8](Fixture.path("rsa2048-pkcs1-encrypted.pem").utf8), passwordFile: [UInt8](password.utf8))
    }

    /// Only one certificate is used (x5t, x5c): a chain would be silently cut, so it is refused.
    @Test func aCertificateFileHoldsOneCertificate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chain = try directory.write("chain.pem", try Self.pem("certificate.pem") + Self.pem("certificate-2.pem"))
        #expect(Self.message { () throws(BackendJWTError) in _ = try Certificate(path: [UInt8](chain.utf8)) }
            == "certificate file \(shownPath(chain)) holds 2 PEM blocks (\"CERTIFICATE\", \"CERTIFICATE\"); "
            + "put one certificate, the signing key's (chains are not supported) in it")
        let texted = try directory.write("texted.pem", "subject=CN = x\n" + Self.pem("certificate.pem"))
        #expect(Self.message { () throws(BackendJWTError) in _ = try Certificate(path: [UInt8](texted.utf8)) }
            == "certificate file \(shownPath(texted)) has text before its PEM block; remove it, the file must hold only "
            + "one certificate, the signing key's (chains are not supported)")
        _ = try Fixture.certificate("certificate.pem")
        // A bundle named by both directives: the key beside the certificate is not a second one.
        let bundle = try directory.write("bundle.pem", try Self.pem("rsa2048-pkcs8.pem") + Self.pem("certificate.pem"))
        let certificate = try Certificate(path: [UInt8](bundle.utf8))
        try certificate.check(matches: SigningKey(path: [UInt8](bundle.utf8)))
    }

    // MARK: - a key given as an HMAC secret

    static func secretMessage(_ contents: [UInt8], _ encoding: SecretEncoding = .raw) throws -> (String, String?) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("secret", contents)
        let message = Self.message { () throws(BackendJWTError) in
            _ = try SigningKey(secretPath: [UInt8](path.utf8), encoding: encoding)
        }
        return (shownPath(path), message)
    }

    @Test(arguments: [
        ("rsa2048-pkcs8.pem", "PRIVATE KEY"), ("ec-p256-sec1.pem", "EC PRIVATE KEY"), ("rsa2048-public.pem", "PUBLIC KEY"),
        ("certificate.pem", "CERTIFICATE"), ("rsa2048-encrypted.pem", "ENCRYPTED PRIVATE KEY"),
    ])
    func aPEMFileIsNotASecret(_ file: String, _ label: String) throws {
        for encoding in [SecretEncoding.raw, .base64] {
            let (shown, message) = try Self.secretMessage([UInt8](try Self.pem(file).utf8), encoding)
            #expect(message == "secret file \(shown) holds a PEM block (\"\(label)\"), not an HMAC secret; "
                + "a key goes to backend_jwt_signing_key")
        }
    }

    @Test(arguments: [
        ("rsa2048-pkcs8.pem", "PRIVATE KEY", "private key"), ("ec-p256.pem", "PRIVATE KEY", "private key"),
        ("ed25519.pem", "PRIVATE KEY", "private key"), ("rsa2048-public.pem", "PUBLIC KEY", "public key"),
        ("ec-p256-public.pem", "PUBLIC KEY", "public key"),
    ])
    func aDERKeyIsNotASecret(_ file: String, _ label: String, _ what: String) throws {
        let der = try Fixture.der(file, label: label)
        let hex = der.map { String(format: "%02x", $0) }.joined()
        for (contents, encoding) in [(der, SecretEncoding.raw), ([UInt8](hex.utf8), .hex)] {
            let (shown, message) = try Self.secretMessage(contents, encoding)
            #expect(message == "secret file \(shown) holds a DER \(what), not an HMAC secret; "
                + "a key goes to backend_jwt_signing_key, as PEM (openssl pkey -inform DER -in FILE)", "\(encoding)")
        }
    }

    @Test func realSecretsStillLoad() throws {
        #expect(try Fixture.secret("secret-64.hex", .hex).type == .secret(bytes: 64))
        #expect(try Self.secretMessage((0..<64).map { UInt8($0 * 7 & 0xFF) }).1 == nil)
        #expect(try Self.secretMessage([UInt8](repeating: 0x30, count: 64)).1 == nil)  // "000...": starts like DER
    }
}
