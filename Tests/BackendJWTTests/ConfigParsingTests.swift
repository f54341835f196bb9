import Testing

@testable import BackendJWT

/// Directive values, as nginx hands them over: accepted forms, and errors that name the value.
@Suite("Directive values")
struct ConfigParsingTests {
    /// Checks the error a directive value gets: a configuration error whose message contains `fragment`.
    static func expectConfigError(
        _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        let error = #expect(throws: BackendJWTError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.kind == .config, sourceLocation: sourceLocation)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    @Suite("backend_jwt_signing_algorithm")
    struct Algorithm {
        @Test(arguments: [
            ("SHA256withRSA", SigningAlgorithm.rs256), ("sha256withrsa", .rs256), ("SHA256WITHRSA", .rs256),
            ("RS256", .rs256), ("rs256", .rs256), ("NONE", .none), ("none", .none), ("None", .none),
        ])
        func accepts(_ text: String, _ expected: SigningAlgorithm) throws {
            #expect(try SigningAlgorithm.parse([UInt8](text)) == expected)
        }

        /// Names that are still unknown: other sizes, other hashes, other curves, near misses.
        @Test(arguments: [
            "HS999", "RS128", "PS1024", "ES257", "ES256K", "Ed448", "HmacSHA1", "SHA1withRSA", "SHA512withDSA",
            "SHA256withRSAandMGF2", "SHA256", "RS256 ", " none", "nonee", "",
        ])
        func rejects(_ text: String) {
            ConfigParsingTests.expectConfigError("unknown signing algorithm \"\(text)\"") {
                _ = try SigningAlgorithm.parse([UInt8](text))
            }
        }

        @Test func errorSuggestsTheAcceptedNames() {
            ConfigParsingTests.expectConfigError(
                "unknown signing algorithm \"HS999\"; use one of HS256, HS384, HS512, RS256, RS384, RS512, "
                    + "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, NONE or a Java-style name such as SHA256withRSA"
            ) {
                _ = try SigningAlgorithm.parse([UInt8]("HS999"))
            }
        }

        @Test func joseNamesAreTheHeaderValues() {
            #expect(
                SigningAlgorithm.allCases.map(\.joseName) == [
                    "none", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256",
                    "HS384", "HS512", "EdDSA",
                ])
        }
    }

    @Suite("backend_jwt_encoding")
    struct Encoding {
        @Test(arguments: [
            ("base64url", TokenEncoding.base64url), ("Base64Url", .base64url), ("BASE64URL", .base64url),
            ("base64", .base64), ("Base64", .base64), ("BASE64", .base64),
        ])
        func accepts(_ text: String, _ expected: TokenEncoding) throws {
            #expect(try TokenEncoding.parse([UInt8](text)) == expected)
        }

        @Test(arguments: ["base64-url", "base64_url", "base64url ", "base32", "hex", "base64urlsafe", "url", ""])
        func rejects(_ text: String) {
            ConfigParsingTests.expectConfigError("unknown encoding \"\(text)\"; use base64url or base64") {
                _ = try TokenEncoding.parse([UInt8](text))
            }
        }
    }

    @Suite("backend_jwt_token_ttl")
    struct TTL {
        @Test(arguments: [
            ("1", 1), ("3600", 3600), ("007", 7), ("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400),
            ("2w", 1_209_600), ("1M", 2_592_000), ("1y", 31_536_000), ("1h 30m", 5400), ("1h30m", 5400),
            ("1d 12h", 129_600), ("2h 5", 7205), ("0h 1s", 1), (" 5m ", 300),
            ("1y 1M 1w 1d 1h 1m 1s", 31_536_000 + 2_592_000 + 604_800 + 86_400 + 3600 + 60 + 1),
            ("136y", 4_288_896_000), ("4294967295", 4_294_967_295), ("4294967295s", 4_294_967_295),
        ] as [(String, Int64)])
        func accepts(_ text: String, _ seconds: Int64) throws {
            #expect(try TokenTTL.parse([UInt8](text)) == seconds)
        }

        @Test(arguments: [
            "", " ", "abc", "h", "1ms", "500ms", "30m1h", "1s 1m", "1h 1h", "5 5", "5 m", "1.5h", "-1", "+1", "1H",
            "1x", "1h\t30m", "1e3",
        ])
        func rejectsWhatIsNotATime(_ text: String) {
            let shown = text.replacingOccurrences(of: "\t", with: "\\x09")
            ConfigParsingTests.expectConfigError("invalid token TTL \"\(shown)\"; use seconds (3600) or nginx time") {
                _ = try TokenTTL.parse([UInt8](text))
            }
        }

        @Test(arguments: ["0", "0s", "0h 0m", "00"])
        func rejectsZero(_ text: String) {
            ConfigParsingTests.expectConfigError("token TTL \"\(text)\" must be at least one second") {
                _ = try TokenTTL.parse([UInt8](text))
            }
        }

        @Test(arguments: ["4294967296", "4294967296s", "137y", "71582789m", "99999999999999999999999", "100000000000y"])
        func rejectsMoreThanUInt32Seconds(_ text: String) {
            ConfigParsingTests.expectConfigError("token TTL \"\(text)\" is longer than 4294967295 seconds") {
                _ = try TokenTTL.parse([UInt8](text))
            }
        }
    }

    @Suite("backend_jwt_header")
    struct Header {
        @Test(arguments: ["X-JWT-Assertion", "x-jwt-assertion", "X-Backend-Token2", "Authorization", "a", "9", "-"])
        func accepts(_ name: String) throws {
            try HeaderName.check([UInt8](name))
        }

        @Test func acceptsTheLongestName() throws {
            try HeaderName.check([UInt8](repeating: UInt8(ascii: "x"), count: 256))
        }

        @Test func rejectsALongerName() {
            let name = String(repeating: "x", count: 257)
            // The message shows the first 64 bytes and marks the cut.
            ConfigParsingTests.expectConfigError(
                "header name \"\(String(repeating: "x", count: 64))\"... is longer than 256 bytes"
            ) { try HeaderName.check([UInt8](name)) }
        }

        @Test func rejectsAnEmptyName() {
            ConfigParsingTests.expectConfigError("header name is empty") { try HeaderName.check([UInt8]()) }
        }

        /// Underscores: nginx drops such headers unless `underscores_in_headers` is on.
        @Test(arguments: [
            ("X_JWT", "\"X_JWT\""), ("X JWT", "\"X JWT\""), ("X-JWT:", "\"X-JWT:\""), ("X.JWT", "\"X.JWT\""),
            ("X-JWT\r\n", "\"X-JWT\\x0d\\x0a\""), ("X\"Y", "\"X\\x22Y\""), ("Ä", "\"\\xc3\\x84\""),
        ])
        func rejectsCharactersOtherThanLettersDigitsAndDash(_ name: String, _ shown: String) {
            ConfigParsingTests.expectConfigError(
                "invalid header name \(shown): only letters, digits and \"-\" are allowed"
            ) { try HeaderName.check([UInt8](name)) }
        }

        @Test(arguments: [
            "Host", "host", "CONNECTION", "Keep-Alive", "Proxy-Connection", "TE", "te", "Trailer",
            "Transfer-Encoding", "Upgrade", "Content-Length", "Expect",
        ])
        func rejectsFramingAndRoutingHeaders(_ name: String) {
            ConfigParsingTests.expectConfigError(
                "header name \"\(name)\" controls how the request is routed or framed; choose another"
            ) { try HeaderName.check([UInt8](name)) }
        }
    }

    @Suite("backend_jwt_claim")
    struct Claims {
        /// A claim as a directive with no other option declares it: one member, `,`-separated,
        /// left out when empty, no template.
        static func plain(_ name: String, _ type: ClaimType) -> ClaimList.Claim {
            ClaimList.Claim(name: name, path: [name], type: type, separator: [UInt8](","), ifEmpty: .omit, template: nil)
        }

        @Test(arguments: [
            ("", ClaimType.string), ("type=string", .string), ("type=int", .int), ("type=long", .long),
            ("type=float", .float), ("type=bool", .bool), ("type=date", .date), ("type=json", .json),
            ("type=list", .list), ("type=INT", .int), ("Type=int", .int), ("type=Bool", .bool), ("TYPE=JSON", .json),
            ("type=List", .list),
        ])
        func acceptsEachType(_ option: String, _ type: ClaimType) throws {
            let list = ClaimList()
            try list.add(name: [UInt8]("department"), options: option.isEmpty ? [] : [[UInt8](option)])
            #expect(list.claims == [Self.plain("department", type)])
        }

        @Test func keepsDirectiveOrder() throws {
            let list = ClaimList()
            try list.add(name: [UInt8]("b"), options: [])
            try list.add(name: [UInt8]("a"), options: [[UInt8]("type=int")])
            try list.add(name: [UInt8]("c"), options: [[UInt8]("type=date")])
            #expect(list.claims.map(\.name) == ["b", "a", "c"])
            #expect(list.claims.map(\.type) == [.string, .int, .date])
        }

        /// Any printable UTF-8 (quotes too) is a name; one that a Go backend folds onto a reserved
        /// name (`ISS`, `Sub`) is not (ClaimOptionsTests).
        @Test(arguments: ["ISSUER", "Subject", "http://wso2.org/claims/role", "département", "a\"b", "x y", String(repeating: "n", count: 256)])
        func acceptsOtherNames(_ name: String) throws {
            let list = ClaimList()
            try list.add(name: [UInt8](name), options: [])
            #expect(list.claims.map(\.name) == [name])
            #expect(list.claims.map(\.path) == [[name]])
        }

        @Test(arguments: [
            ("iss", "set it with backend_jwt_issuer"), ("sub", "set it with backend_jwt_subject"),
            ("aud", "set it with backend_jwt_audience"), ("nbf", "set it with backend_jwt_not_before"),
            ("iat", "the module sets it"), ("exp", "the module sets it"), ("jti", "the module sets it (backend_jwt_jti)"),
        ])
        func rejectsReservedNames(_ name: String, _ why: String) {
            let list = ClaimList()
            ConfigParsingTests.expectConfigError("claim name \"\(name)\" is reserved: \(why)") {
                try list.add(name: [UInt8](name), options: [])
            }
            #expect(list.claims.isEmpty)
        }

        @Test func rejectsADuplicateEvenWithAnotherType() throws {
            let list = ClaimList()
            try list.add(name: [UInt8]("dept"), options: [])
            ConfigParsingTests.expectConfigError("claim \"dept\" is declared twice") {
                try list.add(name: [UInt8]("dept"), options: [[UInt8]("type=int")])
            }
            #expect(list.claims == [Self.plain("dept", .string)])
        }

        @Test func rejectsAnEmptyName() {
            ConfigParsingTests.expectConfigError("claim name is empty") {
                try ClaimList().add(name: [UInt8](), options: [])
            }
        }

        @Test func rejectsANameLongerThan256Bytes() {
            ConfigParsingTests.expectConfigError("\"... is longer than 256 bytes") {
                try ClaimList().add(name: [UInt8](repeating: UInt8(ascii: "n"), count: 257), options: [])
            }
        }

        @Test(arguments: [
            ([UInt8]("a\nb"), "\"a\\x0ab\""), ([UInt8]("\t"), "\"\\x09\""), ([0x61, 0xFF], "\"a\\xff\""),
            ([0xC3], "\"\\xc3\""), ([0xED, 0xA0, 0x80], "\"\\xed\\xa0\\x80\""), ([0x61, 0x7F], "\"a\\x7f\""),
        ])
        func rejectsNamesThatAreNotPrintableUTF8(_ name: [UInt8], _ shown: String) {
            ConfigParsingTests.expectConfigError("claim name \(shown) is not printable UTF-8") {
                try ClaimList().add(name: name, options: [])
            }
        }

        @Test(arguments: ["int", "typ=int", " type=int", "format=int", "", "=int"])
        func rejectsUnknownOptions(_ option: String) {
            ConfigParsingTests.expectConfigError(
                "unknown option \"\(option)\"; use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail"
            ) {
                try ClaimList().add(name: [UInt8]("n"), options: [[UInt8](option)])
            }
        }

        @Test(arguments: ["integer", "double", "number", "boolean", "datetime", "", "int ", "array", "object"])
        func rejectsUnknownTypes(_ type: String) {
            ConfigParsingTests.expectConfigError(
                "unknown claim type \"\(type)\"; use string, int, long, float, bool, date, json or list"
            ) { try ClaimList().add(name: [UInt8]("n"), options: [[UInt8]("type=" + type)]) }
        }
    }
}
