@testable import BackendJWTABI
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

    /// A configuration (bjwt_config) and its levels (bjwt_level), driven through the C ABI the
    /// way the module drives them: each directive by name with its file and line (every call
    /// gets the next line of "test.conf"), each level merged into its enclosing one.
    final class Conf {
        static let file = "test.conf"
        let handle: OpaquePointer
        private(set) var levels: [OpaquePointer] = []
        /// The line of the last directive applied.
        private(set) var line = 0

        init(prefix: String = "/conf/") {
            handle = ABITests.withBytes(prefix) { bjwtConfigCreate($0, $1) }
        }

        deinit {
            levels.forEach { bjwtLevelFree($0) }
            bjwtConfigFree(handle)
        }

        /// A new level, freed with the configuration (or by `free`).
        func level() -> OpaquePointer {
            let level = bjwtLevelCreate()
            levels.append(level)
            return level
        }

        func free(_ level: OpaquePointer) {
            levels.removeAll { $0 == level }
            bjwtLevelFree(level)
        }

        /// The settings behind a level handle.
        func settings(_ level: OpaquePointer) -> LevelSettings {
            Unmanaged<LevelHandle>.fromOpaque(UnsafeRawPointer(level)).takeUnretainedValue().settings
        }

        /// `place` of a line of test.conf, as messages show it.
        static func at(_ line: Int) -> String { " in \(file):\(line)" }

        /// bjwt_directive; `servesJWKS` receives what it reports (left alone on an error).
        @discardableResult
        func directive(
            _ level: OpaquePointer?, _ name: String, _ args: [String] = [], handler: Int = BJWT_HANDLER_NONE,
            _ err: ErrorBuffer = ErrorBuffer(), servesJWKS: UnsafeMutablePointer<Int32>? = nil
        ) -> Int32 {
            line += 1
            let line = self.line
            return err.call { e, cap in
                ABITests.withBytes(name) { n, nameLength in
                    ABITests.withArguments(args) { p, l, count in
                        ABITests.withBytes(Self.file) { f, fileLength in
                            bjwtDirective(
                                handle, level, n, nameLength, p, l, count, f, fileLength, line, Int32(handler), servesJWKS,
                                e, cap)
                        }
                    }
                }
            }
        }

        /// bjwt_directive that must succeed.
        func apply(_ level: OpaquePointer, _ name: String, _ args: [String] = []) throws {
            let err = ErrorBuffer()
            try #require(directive(level, name, args, err) == Int32(BJWT_OK), "\(name): \(err.message)")
        }

        /// Applies each directive in turn.
        func apply(_ level: OpaquePointer, _ directives: [(String, [String])]) throws {
            for (name, args) in directives { try apply(level, name, args) }
        }

        /// bjwt_level_merge of `child` into `parent`.
        @discardableResult
        func merge(
            _ parent: OpaquePointer?, _ child: OpaquePointer?, inLocation: Bool = false, handler: Int = BJWT_HANDLER_OTHER,
            location: String = "/api/", dropped: String? = nil, _ err: ErrorBuffer = ErrorBuffer()
        ) -> Int32 {
            let name = [CChar](location.utf8.map { CChar(bitPattern: $0) })
            return name.withUnsafeBufferPointer { n in
                func call(_ droppedPointer: UnsafePointer<CChar>?) -> Int32 {
                    var facts = bjwt_level_facts()
                    facts.in_location = inLocation ? 1 : 0
                    facts.handler = Int32(handler)
                    facts.location = n.baseAddress
                    facts.location_len = n.count
                    facts.dropped = droppedPointer
                    return err.call { e, cap in bjwtLevelMerge(handle, parent, child, &facts, e, cap) }
                }
                guard let dropped else { return call(nil) }
                return dropped.withCString { call($0) }
            }
        }

        /// bjwt_level_location, which must succeed.
        func location(_ level: OpaquePointer) throws -> bjwt_location {
            var out = bjwt_location()
            try #require(bjwtLevelLocation(level, &out) == Int32(BJWT_OK))
            return out
        }

        /// A location with `directives` (and `backend_jwt on` unless they set it) merged into an
        /// empty http level: what a request there gets. The merge must succeed.
        func enabledLocation(_ directives: [(String, [String])]) throws -> bjwt_location {
            let http = level()
            let location = level()
            if !directives.contains(where: { $0.0 == "backend_jwt" }) { try apply(location, "backend_jwt", ["on"]) }
            try apply(location, directives)
            let err = ErrorBuffer()
            try #require(merge(http, location, err) == Int32(BJWT_OK), "\(err.message)")
            let out = try self.location(location)
            try #require(out.signer != nil)
            return out
        }

        /// The merge error of such a location, or nil.
        func mergeError(_ directives: [(String, [String])]) throws -> (status: Int32, message: String) {
            let http = level()
            let location = level()
            if !directives.contains(where: { $0.0 == "backend_jwt" }) { try apply(location, "backend_jwt", ["on"]) }
            try apply(location, directives)
            let err = ErrorBuffer()
            let rc = merge(http, location, err)
            #expect(err.untouchedPastCap)
            return (rc, err.message)
        }

        /// bjwt_config_template: the text of template `index`, or nil.
        func template(_ index: Int) -> String? {
            var length = -1
            guard let text = bjwtConfigTemplate(handle, index, &length) else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
        }

        var templates: [String?] { (0..<bjwtConfigTemplates(handle)).map { template($0) } }
    }

    /// The template texts of a location's values, in mint order; nil for BJWT_NO_VALUE.
    static func valueTemplates(_ conf: Conf, _ location: bjwt_location) -> [String?] {
        (0..<location.nvalues).map { i in
            let index = location.values[i]
            return index == -1 ? nil : conf.template(index)
        }
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

    // MARK: Directives

    /// The key each algorithm's signer needs, as its directive.
    static func keyDirective(_ algorithm: SigningAlgorithm) -> (String, [String])? {
        switch algorithm {
        case .none: return nil
        case .hs256, .hs384, .hs512: return ("backend_jwt_signing_secret", [Fixture.path("secret-64.hex"), "encoding=hex"])
        case .es256: return ("backend_jwt_signing_key", [Fixture.path("ec-p256.pem")])
        case .es384: return ("backend_jwt_signing_key", [Fixture.path("ec-p384.pem")])
        case .es512: return ("backend_jwt_signing_key", [Fixture.path("ec-p521.pem")])
        case .edDSA: return ("backend_jwt_signing_key", [Fixture.path("ed25519.pem")])
        default: return ("backend_jwt_signing_key", [Fixture.path("rsa2048-pkcs8.pem")])
        }
    }

    /// backend_jwt_signing_algorithm sets the level's algorithm, and the location's tokens carry it.
    @Test(arguments: [
        ("SHA256withRSA", SigningAlgorithm.rs256), ("RS256", .rs256), ("NONE", .none), ("HmacSHA512", .hs512),
        ("SHA384withECDSA", .es384), ("SHA256withRSA/PSS", .ps256), ("Ed25519", .edDSA),
    ])
    func parseAlgorithm(_ text: String, _ expected: SigningAlgorithm) throws {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(level, "backend_jwt_signing_algorithm", [text], err) == Self.status(BJWT_OK))
        #expect(conf.settings(level).algorithm.value == expected)

        // A configuration's levels own their signers: it lives as long as the location is used.
        let enabled = Conf()
        let location = try enabled.enabledLocation(
            [("backend_jwt_signing_algorithm", [text])] + [Self.keyDirective(expected)].compactMap { $0 })
        let minted = Self.mintC(location.signer, now: 1_700_000_000, values: [nil, nil])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(try DecodedToken(minted.token).header.hasPrefix(#"{"alg":""# + expected.joseName + #"","typ":"JWT""#))
    }

    /// A NULL handle is an error, never a reason to skip the check or the work; the optional
    /// serves_jwks output may be NULL.
    @Test func nullArgumentsAreErrors() throws {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        #expect(
            err.call { e, cap in
                Self.withBytes("backend_jwt_encoding") { bjwtDirective(nil, level, $0, $1, nil, nil, 0, nil, 0, 1, 0, nil, e, cap) }
            } == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "bjwt_directive: missing argument")
        #expect(err.untouchedPastCap)
        #expect(
            err.call { e, cap in
                Self.withBytes("backend_jwt_encoding") { bjwtDirective(conf.handle, nil, $0, $1, nil, nil, 0, nil, 0, 1, 0, nil, e, cap) }
            } == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "bjwt_directive: missing argument")
        // backend_jwt_jwks_key at the http level: a NULL config is an error there too.
        let jwksKey = ErrorBuffer()
        let rc = jwksKey.call { e, cap in
            Self.withBytes("backend_jwt_jwks_key") { n, nl in
                Self.withArguments([Fixture.path("rsa2048-public.pem")]) { bjwtDirective(nil, level, n, nl, $0, $1, $2, nil, 0, 1, 0, nil, e, cap) }
            }
        }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(jwksKey.message == "bjwt_directive: missing argument")

        #expect(conf.directive(level, "backend_jwt_jwks", servesJWKS: nil) == Self.status(BJWT_OK))

        let child = conf.level()
        var facts = bjwt_level_facts()
        for (config, parent, lower, withFacts) in [
            (nil, level, child, true), (conf.handle, nil, child, true), (conf.handle, level, nil, true),
            (conf.handle, level, child, false),
        ] as [(OpaquePointer?, OpaquePointer?, OpaquePointer?, Bool)] {
            let merge = ErrorBuffer()
            let status = merge.call { e, cap in
                withFacts ? bjwtLevelMerge(config, parent, lower, &facts, e, cap) : bjwtLevelMerge(config, parent, lower, nil, e, cap)
            }
            #expect(status == Self.status(BJWT_ERR_CONFIG))
            #expect(merge.message == "bjwt_level_merge: missing argument")
        }

        var out = bjwt_location()
        #expect(bjwtLevelLocation(nil, &out) == Self.status(BJWT_ERR_CONFIG))
        #expect(bjwtLevelLocation(level, nil) == Self.status(BJWT_ERR_CONFIG))
        #expect(bjwtConfigTemplates(nil) == 0)
        bjwtLevelFree(nil)
        bjwtConfigFree(nil)
    }

    /// Rules checked without a verified caller are not met: a NULL caller is no one, never a pass.
    @Test func rulesWithoutAVerifiedCallerAreNotMet() {
        let conf = Conf()
        let rules = retain(ClaimRules(require: [], claims: [], config: borrow(conf.handle, as: Configuration.self)))
        defer { release(rules) }
        var verdict = bjwt_verdict()
        let err = ErrorBuffer()
        #expect(err.call { e, cap in bjwtRulesCheck(rules, nil, nil, nil, 0, &verdict, e, cap) } == Self.status(BJWT_ERR_TOKEN))
        #expect(verdict.status == 401 && verdict.reason == Int32(BJWT_REFUSED_REQUIRE))
        #expect(verdict.challenge == Int32(BJWT_CHALLENGE_INVALID))
        #expect(err.message == "bjwt_rules_check: no verified caller")
        #expect(err.untouchedPastCap)
        #expect(bjwtRulesCheck(nil, nil, nil, nil, 0, &verdict, nil, 0) == Self.status(BJWT_ERR_TOKEN))
    }

    /// A size_t past Int.max arrives as a negative Int: no bound fits it.
    @Test func tokenBoundOfAHugeSizeIsTheMaximum() throws {
        let signer = try Signer(algorithm: .none, encoding: .base64url, ttl: 60, key: nil, claims: [])
        #expect(signer.tokenBound(valueBytes: -1) == Int.max)
        #expect(signer.tokenBound(valueBytes: Int.min) == Int.max)
    }

    @Test func directiveReadsOnlyTheGivenLengths() {
        let conf = Conf()
        let level = conf.level()
        let rc = Self.withBytes("backend_jwt_signing_algorithmXYZ") { name, length in
            Self.withArguments(["RS256 and more"]) { pointers, _, count in
                var five = 5
                return bjwtDirective(conf.handle, level, name, length - 3, pointers, &five, count, nil, 0, 1, 0, nil, nil, 0)
            }
        }
        #expect(rc == Self.status(BJWT_OK))
        #expect(conf.settings(level).algorithm.value == .rs256)
    }

    @Test func directiveErrorLeavesTheLevelAlone() {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        var serves: Int32 = 7
        let rc = conf.directive(level, "backend_jwt_signing_algorithm", ["HS999"], err, servesJWKS: &serves)
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(conf.settings(level).algorithm.value == nil)
        #expect(serves == 7)
        #expect(err.message == "\"backend_jwt_signing_algorithm\" directive: " + Self.unknownHS999)
        #expect(err.untouchedPastCap)
        // The level can still take the directive: the refused one left nothing behind.
        #expect(conf.directive(level, "backend_jwt_signing_algorithm", ["ES256"], servesJWKS: &serves) == Self.status(BJWT_OK))
        #expect(serves == 0)
        #expect(conf.settings(level).algorithm.value == .es256)
    }

    @Test func aNullStringIsEmpty() {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        var pointers: [UnsafePointer<CChar>?] = [nil]
        var lengths = [0]
        let rc = err.call { e, cap in
            Self.withBytes("backend_jwt_signing_algorithm") {
                bjwtDirective(conf.handle, level, $0, $1, &pointers, &lengths, 1, nil, 0, 1, 0, nil, e, cap)
            }
        }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message.hasPrefix("\"backend_jwt_signing_algorithm\" directive: unknown signing algorithm \"\";"))
        let noName = ErrorBuffer()
        #expect(noName.call { e, cap in bjwtDirective(conf.handle, level, nil, 0, nil, nil, 0, nil, 0, 1, 0, nil, e, cap) } == Self.status(BJWT_ERR_CONFIG))
        #expect(noName.message == "unknown directive \"\"")
    }

    @Test func parseEncoding() {
        for (text, encoding) in [("base64", TokenEncoding.base64), ("Base64Url", .base64url)] {
            let conf = Conf()
            let level = conf.level()
            #expect(conf.directive(level, "backend_jwt_encoding", [text]) == Self.status(BJWT_OK))
            #expect(conf.settings(level).encoding.value == encoding)
        }
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(level, "backend_jwt_encoding", ["hex"], err) == Self.status(BJWT_ERR_CONFIG))
        #expect(conf.settings(level).encoding.value == nil)
        #expect(err.message == "\"backend_jwt_encoding\" directive: unknown encoding \"hex\"; use base64url or base64")
    }

    @Test func parseTTL() {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(level, "backend_jwt_token_ttl", ["30m1h"], err) == Self.status(BJWT_ERR_CONFIG))
        #expect(conf.settings(level).ttl.value == nil)
        #expect(err.message.hasPrefix("\"backend_jwt_token_ttl\" directive: invalid token TTL \"30m1h\""))
        #expect(conf.directive(level, "backend_jwt_token_ttl", ["1h 30m"]) == Self.status(BJWT_OK))
        #expect(conf.settings(level).ttl.value == 5400)
    }

    @Test func checkHeaderName() throws {
        let conf = Conf()
        let level = conf.level()
        #expect(conf.directive(level, "backend_jwt_header", ["X-JWT-Assertion"]) == Self.status(BJWT_OK))
        #expect(conf.settings(level).header.value == [UInt8]("X-JWT-Assertion"))
        let location = try conf.location(level)
        #expect(String(decoding: UnsafeRawBufferPointer(start: location.header, count: location.header_len), as: UTF8.self) == "X-JWT-Assertion")
        let other = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(other, "backend_jwt_header", ["Host"], err) == Self.status(BJWT_ERR_CONFIG))
        #expect(conf.settings(other).header.value == nil)
        #expect(
            err.message
                == "\"backend_jwt_header\" directive: header name \"Host\" controls how the request is routed or framed; choose another")
    }

    // MARK: Error text

    static let unknownHS999Line = "\"backend_jwt_signing_algorithm\" directive: " + unknownHS999

    @Test(arguments: [1, 2, 8, 40, 80])
    func errorTextIsTruncatedAndNULTerminated(_ cap: Int) {
        let conf = Conf()
        let err = ErrorBuffer(cap: cap)
        let rc = conf.directive(conf.level(), "backend_jwt_signing_algorithm", ["HS999"], err)
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == String(Self.unknownHS999Line.prefix(cap - 1)))
        #expect(err.storage[cap - 1] == 0)
        #expect(err.untouchedPastCap)
    }

    @Test func noErrorBufferStillGivesTheStatus() {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer(cap: 0)
        let rc = err.call { e, _ in
            Self.withBytes("backend_jwt_signing_algorithm") { n, nl in
                Self.withArguments(["HS999"]) { bjwtDirective(conf.handle, level, n, nl, $0, $1, $2, nil, 0, 1, 0, nil, e, 0) }
            }
        }
        #expect(rc == Self.status(BJWT_ERR_CONFIG))
        #expect(err.untouchedPastCap)
        let none = Self.withBytes("backend_jwt_signing_algorithm") { n, nl in
            Self.withArguments(["HS999"]) { bjwtDirective(conf.handle, level, n, nl, $0, $1, $2, nil, 0, 1, 0, nil, nil, 256) }
        }
        #expect(none == Self.status(BJWT_ERR_CONFIG))
    }

    // MARK: Keys and claims

    /// backend_jwt_signing_key at a new level of `conf`: the status and the level.
    static func loadKey(_ conf: Conf, _ file: String, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, OpaquePointer) {
        let level = conf.level()
        return (conf.directive(level, "backend_jwt_signing_key", [Fixture.path(file)], err), level)
    }

    @Test func keyLoadAndFree() {
        let conf = Conf()
        let (rc, level) = Self.loadKey(conf, "rsa2048-pkcs1.pem")
        #expect(rc == Self.status(BJWT_OK))
        weak var key = conf.settings(level).key.value
        #expect(key != nil)
        #expect(conf.settings(level).key.place == Where(file: Conf.file, line: conf.line))
        conf.free(level)
        #expect(key == nil, "bjwt_level_free releases the level's key")
        bjwtLevelFree(nil)
    }

    @Test(arguments: ["missing.pem", "rsa2048-public.pem", "certificate.pem", "rsa1024.pem", "garbage.pem"])
    func keyLoadErrorsAreKeyErrors(_ file: String) {
        let conf = Conf()
        let err = ErrorBuffer()
        let (rc, level) = Self.loadKey(conf, file, err)
        #expect(rc == Self.status(BJWT_ERR_KEY))
        #expect(conf.settings(level).key.value == nil)
        #expect(err.message.hasPrefix("\"backend_jwt_signing_key\" directive: "), "\(err.message)")
        #expect(err.message.contains("key file \""), "\(err.message)")
    }

    @Test func claimList() throws {
        let conf = Conf()
        let level = conf.level()
        #expect(conf.directive(level, "backend_jwt_claim", ["dept", "$dept"]) == Self.status(BJWT_OK))
        #expect(conf.directive(level, "backend_jwt_claim", ["level", "$level", "type=int"]) == Self.status(BJWT_OK))
        let declared = try #require(conf.settings(level).claims.value)
        #expect(declared.list.claims.map(\.type) == [.string, .int])
        #expect(conf.templates == ["$dept", "$level"])

        let err = ErrorBuffer()
        let reserved = conf.directive(level, "backend_jwt_claim", ["exp", "$exp"], err)
        #expect(reserved == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "\"backend_jwt_claim\" directive: claim name \"exp\" is reserved: the module sets it")
        #expect(err.untouchedPastCap)
        #expect(conf.settings(level).claims.value?.list.claims.count == 2)
        #expect(bjwtConfigTemplates(conf.handle) == 2, "a refused claim adds no template")
    }

    // MARK: Signer

    /// Calls bjwt_signer_mint with C arrays; nil values are NULL pointers.
    static func mintC(
        _ signer: OpaquePointer?, now: Int64, values: [String?], outCap: Int? = nil, maxSize: Int = -1,
        _ err: ErrorBuffer = ErrorBuffer()
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
        let cap = outCap ?? bjwtSignerTokenBound(signer, lengths.reduce(0, +), nil)
        var out = [UInt8](repeating: 0xEE, count: cap + 16)
        var outLength = -1
        let cPointers = pointers.map { UnsafePointer($0) }
        let rc = err.call { e, errCap in
            cPointers.withUnsafeBufferPointer { valuesBuffer in
                lengths.withUnsafeBufferPointer { lengthsBuffer in
                    out.withUnsafeMutableBufferPointer { o in
                        bjwtSignerMint(
                            signer, now, nil, valuesBuffer.baseAddress, lengthsBuffer.baseAddress, values.count, o.baseAddress,
                            cap, &outLength, maxSize, e, errCap)
                    }
                }
            }
        }
        guard rc == Int32(BJWT_OK) else { return (rc, "", out.allSatisfy { $0 == 0xEE }) }
        return (rc, String(decoding: out[0..<outLength], as: UTF8.self), out[outLength...].allSatisfy { $0 == 0xEE })
    }

    @Test func roundTripVerifiedByJWTKit() async throws {
        let conf = Conf()
        let location = try conf.enabledLocation([
            ("backend_jwt_signing_key", [Fixture.path("rsa2048-pkcs8.pem")]), ("backend_jwt_issuer", ["$iss"]),
            ("backend_jwt_subject", ["$user"]), ("backend_jwt_claim", ["level", "$level", "type=int"]),
            ("backend_jwt_claim", ["team", "$team"]),
        ])
        // The arguments were freed after each call: the core keeps its own copies.
        #expect(location.enabled == 1)
        #expect(Self.valueTemplates(conf, location) == ["$iss", "$user", "$level", "$team"])

        let now = Int64(Date().timeIntervalSince1970)
        let minted = Self.mintC(location.signer, now: now, values: ["issuer", "alice", "42", nil])
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

    /// Levels own their settings: a location shares its enclosing level's signer when nothing that
    /// signs differs, and bjwt_level_free releases the level, its signer and its key once no other
    /// level holds them.
    @Test func handlesAreReleasedByTheirFree() throws {
        let conf = Conf()
        let http = conf.level()
        let server = conf.level()
        let location = conf.level()
        try conf.apply(server, [("backend_jwt", ["on"]), ("backend_jwt_signing_key", [Fixture.path("rsa2048-pkcs8.pem")])])
        try #require(conf.merge(http, server) == Self.status(BJWT_OK))
        try #require(conf.merge(server, location) == Self.status(BJWT_OK))
        let serverSigner = try #require(try conf.location(server).signer)
        #expect(try conf.location(location).signer == serverSigner, "one signer for both")

        weak var key = conf.settings(server).key.value
        weak var signer = conf.settings(server).signer
        weak var settings = conf.settings(location)
        #expect(key != nil && signer != nil && settings != nil)
        conf.free(location)
        #expect(settings == nil)
        #expect(signer != nil && key != nil, "the server level still holds them")
        conf.free(server)
        #expect(signer == nil)
        #expect(key == nil)
    }

    @Test func noneSignerWithoutKeyOrClaims() throws {
        let conf = Conf()
        let location = try conf.enabledLocation([("backend_jwt_signing_algorithm", ["NONE"]), ("backend_jwt_encoding", ["base64"])])
        #expect(location.nvalues == 2)
        #expect(Self.valueTemplates(conf, location) == [nil, nil])
        let minted = Self.mintC(location.signer, now: 1_700_000_000, values: [nil, ""])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(minted.token.hasPrefix("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."))
        #expect(minted.token.hasSuffix("."))
        #expect(try DecodedToken(minted.token, standardBase64: true).payload.hasPrefix(#"{"iat":1700000000,"exp":1700003600,"#))
    }

    /// What the signer of a location refuses, at the merge: the message names the directive's
    /// place (`backend_jwt on` when there is no key, else the key's).
    @Test(arguments: [
        ("RS256", nil as String?, BJWT_ERR_CONFIG, "backend_jwt: no signing key: RS256 needs backend_jwt_signing_key", 1),
        ("RS256", "ec-p256.pem", BJWT_ERR_KEY,
         "holds a key of type EC P-256, which cannot sign RS256; RS256 needs an RSA key", 3),
        ("ES384", "ec-p256.pem", BJWT_ERR_KEY,
         "holds a key of type EC P-256, which cannot sign ES384; ES384 needs an EC P-384 key", 3),
        ("HS256", nil, BJWT_ERR_CONFIG, "backend_jwt: no signing key: HS256 needs backend_jwt_signing_secret", 1),
    ])
    func signerCreateErrors(_ alg: String, _ keyFile: String?, _ status: Int, _ message: String, _ line: Int) throws {
        let conf = Conf()
        let level = conf.level()
        try conf.apply(level, "backend_jwt", ["on"])
        try conf.apply(level, "backend_jwt_signing_algorithm", [alg])
        if let keyFile { try conf.apply(level, "backend_jwt_signing_key", [Fixture.path(keyFile)]) }
        let err = ErrorBuffer()
        #expect(conf.merge(conf.level(), level, err) == Self.status(status))
        #expect(try conf.location(level).signer == nil)
        #expect(err.message.hasPrefix("backend_jwt: "), "\(err.message)")
        #expect(err.message.hasSuffix(message + Conf.at(line)), "\(err.message)")
    }

    /// A TTL of 0 never reaches a signer: the directive refuses it.
    @Test func aZeroTTLIsRefused() {
        let conf = Conf()
        let err = ErrorBuffer()
        #expect(conf.directive(conf.level(), "backend_jwt_token_ttl", ["0"], err) == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message == "\"backend_jwt_token_ttl\" directive: token TTL \"0\" must be at least one second")
    }

    @Test func mintErrors() throws {
        let conf = Conf()
        let location = try conf.enabledLocation([
            ("backend_jwt_signing_key", [Fixture.path("rsa2048-pkcs8.pem")]), ("backend_jwt_token_ttl", ["3600"]),
            ("backend_jwt_claim", ["on", "$on", "type=bool"]),
        ])
        let signer = location.signer
        #expect(location.nvalues == 3)

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
        let noValues = bjwtSignerMint(signer, 0, nil, nil, nil, 3, &out, out.count, &outLength, -1, nil, 0)
        #expect(noValues == Self.status(BJWT_ERR_CONFIG))
        let noOutLength = bjwtSignerMint(signer, 0, nil, nil, nil, 0, &out, out.count, nil, -1, nil, 0)
        #expect(noOutLength == Self.status(BJWT_ERR_CONFIG))
    }

    /// Whether the caller's Authorization goes on to the backend is the core's: it is dropped
    /// where the token verified here comes from it, unless backend_jwt_verify_forward is on.
    @Test(arguments: [
        ([("backend_jwt_verify", ["on"])], true),
        ([("backend_jwt_verify", ["on"]), ("backend_jwt_verify_forward", ["on"])], false),
        ([("backend_jwt_verify", ["on", "token=$cookie_t"])], false),
        ([("backend_jwt_verify", ["off"])], false),
        ([], false),
    ])
    func dropsTheCallersAuthorization(_ directives: [(String, [String])], _ dropped: Bool) throws {
        let conf = Conf()
        let http = conf.level()
        let location = conf.level()
        let key = directives.contains { $0.0 == "backend_jwt_verify" && $0.1.first == "on" }
            ? [("backend_jwt_verify_key", [Fixture.path("rsa2048-public.pem")])] : []
        try conf.apply(location, key + directives)
        let err = ErrorBuffer()
        try #require(conf.merge(http, location, err) == Int32(BJWT_OK), "\(err.message)")
        #expect(try conf.location(location).drop_authorization == (dropped ? 1 : 0))
    }

    /// backend_jwt_max_size is the core's: a token one byte longer fails, and is not handed out.
    @Test func maxSizeRefusesALongerToken() throws {
        let conf = Conf()
        let location = try conf.enabledLocation([("backend_jwt_signing_algorithm", ["NONE"])])
        let signer = try #require(location.signer)
        let values = [String?](repeating: nil, count: location.nvalues)
        let token = Self.mintC(signer, now: 1_700_000_000, values: values)
        #expect(token.status == Self.status(BJWT_OK))
        let fits = Self.mintC(signer, now: 1_700_000_000, values: values, maxSize: token.token.utf8.count)
        #expect(fits.status == Self.status(BJWT_OK) && fits.token.utf8.count == token.token.utf8.count)
        let err = ErrorBuffer()
        let over = Self.mintC(signer, now: 1_700_000_000, values: values, maxSize: token.token.utf8.count - 1, err)
        #expect(over.status == Self.status(BJWT_ERR_SPACE))
        #expect(err.message == "the token would be \(token.token.utf8.count) bytes, more than backend_jwt_max_size \(token.token.utf8.count - 1)")
    }

    @Test func tokenBound() throws {
        #expect(bjwtSignerTokenBound(nil, 100, nil) == 0)
        let conf = Conf()
        let location = try conf.enabledLocation([("backend_jwt_signing_key", [Fixture.path("rsa4096-pkcs8.pem")])])
        let signer = location.signer
        let issuer = String(repeating: "\u{1}", count: 200)
        let minted = Self.mintC(signer, now: Int64.min, values: [issuer, "\"\"\""], outCap: bjwtSignerTokenBound(signer, 203, nil))
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(minted.token.utf8.count <= bjwtSignerTokenBound(signer, 203, nil))
    }

    // MARK: Secrets, password files, certificates and kid

    /// backend_jwt_signing_key with password_file=: a relative name is taken from the configuration
    /// prefix.
    @Test func keyLoadWithAPasswordFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.write("password", "secret\n")
        let path = Fixture.path("rsa2048-encrypted.pem")
        for (option, prefix) in [("password_file=password", directory.path + "/"), ("password_file=" + directory.path + "/password", "/elsewhere/")] {
            let conf = Conf(prefix: prefix)
            let level = conf.level()
            let err = ErrorBuffer()
            #expect(conf.directive(level, "backend_jwt_signing_key", [path, option], err) == Self.status(BJWT_OK), "\(err.message)")
            #expect(conf.settings(level).key.value != nil)
        }
    }

    @Test(arguments: [
        ("password_file=", BJWT_ERR_CONFIG, "unknown option \"password_file=\"; the only option is password_file=FILE"),
        ("password=secret", BJWT_ERR_CONFIG, "unknown option \"password=secret\"; the only option is password_file=FILE"),
        ("password_file=nowhere", BJWT_ERR_KEY, "cannot open password file \"/conf/nowhere\": No such file or directory"),
    ])
    func keyLoadOptionErrors(_ option: String, _ status: Int, _ message: String) {
        let conf = Conf(prefix: "/conf/")
        let level = conf.level()
        let err = ErrorBuffer()
        let rc = conf.directive(level, "backend_jwt_signing_key", [Fixture.path("rsa2048-encrypted.pem"), option], err)
        #expect(rc == Self.status(status))
        #expect(conf.settings(level).key.value == nil)
        #expect(err.message == "\"backend_jwt_signing_key\" directive: " + message)
    }

    static func loadSecret(_ conf: Conf, _ file: String, option: String?, _ err: ErrorBuffer = ErrorBuffer()) -> (Int32, OpaquePointer) {
        let level = conf.level()
        let rc = conf.directive(level, "backend_jwt_signing_secret", [Fixture.path(file)] + (option.map { [$0] } ?? []), err)
        return (rc, level)
    }

    @Test func secretLoadAndHS512() throws {
        let conf = Conf()
        let location = try conf.enabledLocation([
            ("backend_jwt_signing_secret", [Fixture.path("secret-64.hex"), "encoding=hex"]),
            ("backend_jwt_signing_algorithm", ["HS512"]),
        ])
        let minted = Self.mintC(location.signer, now: 1_700_000_000, values: ["i", "s"])
        #expect(minted.status == Self.status(BJWT_OK))
        #expect(try DecodedToken(minted.token).header == #"{"alg":"HS512","typ":"JWT"}"#)

        // raw: the 64 hex characters are the secret, long enough for HS512
        let rawConf = Conf()
        let raw = try rawConf.enabledLocation([
            ("backend_jwt_signing_secret", [Fixture.path("secret-32.hex")]), ("backend_jwt_signing_algorithm", ["HS512"]),
        ])
        #expect(raw.signer != nil)
    }

    @Test(arguments: [
        ("secret-64.hex", "encoding=raw", BJWT_ERR_CONFIG, "unknown option \"encoding=raw\"; use encoding=base64, encoding=base64url or encoding=hex"),
        ("secret-64.hex", "encoding=base64url", BJWT_OK, ""),  // hex digits are base64url too: 96 bytes
        ("garbage.pem", "encoding=hex", BJWT_ERR_KEY, "is not valid hex"),
        ("rsa2048-pkcs8.pem", "encoding=hex", BJWT_ERR_KEY, "holds a PEM block (\"PRIVATE KEY\"), not an HMAC secret"),
        ("missing.hex", "encoding=hex", BJWT_ERR_KEY, "cannot open secret file"),
    ])
    func secretLoadErrors(_ file: String, _ option: String, _ status: Int, _ message: String) {
        let conf = Conf()
        let err = ErrorBuffer()
        let (rc, level) = Self.loadSecret(conf, file, option: option, err)
        #expect(rc == Self.status(status))
        #expect((conf.settings(level).key.value != nil) == (status == BJWT_OK))
        if status != BJWT_OK {
            #expect(err.message.hasPrefix("\"backend_jwt_signing_secret\" directive: "), "\(err.message)")
            #expect(err.message.contains(message), "\(err.message)")
        }
    }

    /// A certificate and a custom kid: the tokens' header carries both.
    @Test func signerWithACertificateAndACustomKeyID() throws {
        let conf = Conf()
        let location = try conf.enabledLocation([
            ("backend_jwt_signing_key", [Fixture.path("rsa2048-pkcs8.pem")]),
            ("backend_jwt_certificate", [Fixture.path("certificate.pem")]), ("backend_jwt_key_id", ["2025-a"]),
        ])
        let header = try DecodedToken(Self.mintC(location.signer, now: 1_700_000_000, values: [nil, nil]).token).header
        #expect(header.hasPrefix(#"{"alg":"RS256","typ":"JWT","kid":"2025-a","x5t":""#))
        #expect(header.contains(#","x5t#S256":""#))
    }

    @Test func signerKeyIDModes() throws {
        let key = ("backend_jwt_signing_key", [Fixture.path("ec-p256.pem")])
        let alg = ("backend_jwt_signing_algorithm", ["ES256"])
        for off in ["off", "OFF"] {
            let conf = Conf()
            let location = try conf.enabledLocation([key, alg, ("backend_jwt_key_id", [off])])
            #expect(
                try DecodedToken(Self.mintC(location.signer, now: 0, values: [nil, nil]).token).header
                    == #"{"alg":"ES256","typ":"JWT"}"#)
        }

        let thumbConf = Conf()
        let thumb = try thumbConf.enabledLocation([key, alg])
        let kid = try Independent.thumbprint(of: "ec-p256.pem")
        #expect(
            try DecodedToken(Self.mintC(thumb.signer, now: 0, values: [nil, nil]).token).header
                == #"{"alg":"ES256","typ":"JWT","kid":""# + kid + #""}"#)

        for (kid, message) in [
            ("", "invalid key id \"\": use 1 to 256 bytes of printable UTF-8, or off"),
            ("a\u{7F}", "invalid key id \"a\\x7f\": use 1 to 256 bytes of printable UTF-8, or off"),
        ] {
            let conf = Conf()
            let level = conf.level()
            let err = ErrorBuffer()
            #expect(conf.directive(level, "backend_jwt_key_id", [kid], err) == Self.status(BJWT_ERR_CONFIG))
            #expect(conf.settings(level).keyID.value == nil)
            #expect(err.message == "\"backend_jwt_key_id\" directive: " + message)
        }
    }

    @Test func certificateErrors() throws {
        let conf = Conf()
        let level = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(level, "backend_jwt_certificate", [Fixture.path("rsa2048-pkcs8.pem")], err) == Self.status(BJWT_ERR_CERT))
        #expect(conf.settings(level).certificate.value == nil)
        #expect(
            err.message
                == "\"backend_jwt_certificate\" directive: certificate file \(shownPath(Fixture.path("rsa2048-pkcs8.pem"))) holds no PEM certificate")

        let mismatch = try conf.mergeError([
            ("backend_jwt_signing_key", [Fixture.path("rsa4096-pkcs8.pem")]),
            ("backend_jwt_certificate", [Fixture.path("certificate.pem")]),
        ])
        #expect(mismatch.status == Self.status(BJWT_ERR_CERT))
        #expect(mismatch.message.hasPrefix("backend_jwt: "))
        #expect(
            mismatch.message.hasSuffix(
                "is not for the signing key in \(shownPath(Fixture.path("rsa4096-pkcs8.pem")))" + Conf.at(conf.line)),
            "\(mismatch.message)")
    }

    @Test func checkKeyID() {
        let conf = Conf()
        let level = conf.level()
        #expect(conf.directive(level, "backend_jwt_key_id", ["2025-rotation"]) == Self.status(BJWT_OK))
        let other = conf.level()
        let err = ErrorBuffer()
        #expect(conf.directive(other, "backend_jwt_key_id", [String(repeating: "k", count: 257)], err) == Self.status(BJWT_ERR_CONFIG))
        #expect(err.message.hasPrefix("\"backend_jwt_key_id\" directive: invalid key id \"kkkk"))
        #expect(err.message.hasSuffix("\"...: use 1 to 256 bytes of printable UTF-8, or off"))
    }
}

@Suite("C ABI: the shared JWK Set")
struct JWKSDecideABITests {
    /// A worker whose token names a kid it has no key for, while another worker's fetch has
    /// already stored a newer set (and the refetch interval forbids another): the request
    /// verifies again with that set, not refused with the old one (a 401 seen in rotation).
    @Test func unknownKidWithANewerStoredSetVerifiesAgain() throws {
        let set = RemoteKeySet(uri: Array("/_jwks".utf8), refresh: 30)
        let verifier = retain(try JWSVerifier(keys: [], remote: set))
        defer { release(verifier) }
        var record = bjwt_jwks_shared()
        record.generation = 7  // stored by another worker; this one has parsed none
        record.fetched_at = 1000
        record.fresh_until = 2000
        record.last_refresh = 1000  // the refetch for the new kid was just granted
        var retry: Int64 = 0
        var take: Int32 = 0
        #expect(bjwtJWKSDecide(verifier, &record, nil, 0, 1001, 1, 1, 1, &retry, &take) == Int32(BJWT_JWKS_READY))
        #expect(take == 1)
        // with no newer set than the worker's, the same kid is refused within the interval
        record.generation = 0
        #expect(bjwtJWKSDecide(verifier, &record, nil, 0, 1001, 1, 1, 1, &retry, &take) == Int32(BJWT_JWKS_REFUSE))
        #expect(take == 0)
    }
}
