import Foundation
import Testing

@testable import BackendJWT

/// String values in the payload: always valid JSON in valid UTF-8, whatever bytes a request sends.
@Suite("JSON string escaping")
struct JSONEscapingTests {
    /// The JSON text `JSONWriter` makes of `bytes`, without the enclosing quotes.
    static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var writer = JSONWriter()
        writer.appendString(bytes)
        #expect(writer.bytes.first == UInt8(ascii: "\"") && writer.bytes.last == UInt8(ascii: "\""))
        return Array(writer.bytes.dropFirst().dropLast())
    }

    static func escaped(_ text: String) -> String {
        String(decoding: escaped([UInt8](text)), as: UTF8.self)
    }

    /// What Foundation's JSON parser reads back from the writer's output.
    static func parsed(_ bytes: [UInt8]) throws -> String {
        var writer = JSONWriter()
        writer.appendString(bytes)
        return try #require(
            JSONSerialization.jsonObject(with: Data(writer.bytes), options: .fragmentsAllowed) as? String)
    }

    static let replacement = "\u{FFFD}"

    @Test(arguments: [
        ("plain", "plain"), ("", ""), ("a\"b", "a\\\"b"), ("back\\slash", "back\\\\slash"), ("/path/", "/path/"),
        ("\u{8}", "\\b"), ("\u{C}", "\\f"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\0", "\\u0000"),
        ("\u{1}", "\\u0001"), ("\u{B}", "\\u000b"), ("\u{1B}", "\\u001b"), ("\u{1F}", "\\u001f"),
        ("\u{7F}", "\u{7F}"), (" ~", " ~"), ("\"\\\"", "\\\"\\\\\\\""),
    ])
    func escapesQuotesBackslashesAndControlCharacters(_ input: String, _ json: String) {
        #expect(Self.escaped(input) == json)
    }

    @Test func escapesEveryControlCharacter() throws {
        for byte in UInt8(0)..<0x20 {
            let json = String(decoding: Self.escaped([byte]), as: UTF8.self)
            #expect(json.hasPrefix("\\"), "byte \(byte)")
            #expect(try Self.parsed([byte]) == String(UnicodeScalar(byte)), "byte \(byte)")
        }
    }

    @Test(arguments: [
        "é", "département", "€", "日本語", "😀", "\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFD}",
        "\u{FFFF}", "\u{10000}", "\u{10FFFF}", "mixed é€😀 text",
    ])
    func copiesValidUTF8AsIs(_ text: String) throws {
        #expect(Self.escaped(text) == text)
        #expect(try Self.parsed([UInt8](text)) == text)
    }

    /// Each byte that is not part of a well-formed UTF-8 sequence becomes one U+FFFD.
    @Test(arguments: [
        ([0x80], 1),  // stray continuation byte
        ([0xBF], 1),
        ([0xC0, 0xAF], 2),  // overlong "/"
        ([0xC1, 0xBF], 2),  // overlong
        ([0xE0, 0x80, 0xAF], 3),  // overlong 3-byte form
        ([0xF0, 0x80, 0x80, 0xAF], 4),  // overlong 4-byte form
        ([0xED, 0xA0, 0x80], 3),  // UTF-16 surrogate U+D800
        ([0xED, 0xBF, 0xBF], 3),  // UTF-16 surrogate U+DFFF
        ([0xF4, 0x90, 0x80, 0x80], 4),  // U+110000, past U+10FFFF
        ([0xF5], 1), ([0xF8], 1), ([0xFE], 1), ([0xFF], 1),
        ([0xC3], 1),  // truncated at the end
        ([0xE2, 0x82], 2),  // truncated 3-byte sequence
        ([0xF0, 0x9F, 0x98], 3),  // truncated 4-byte sequence
    ] as [([UInt8], Int)])
    func replacesEachInvalidByte(_ bytes: [UInt8], _ replacements: Int) throws {
        let expected = String(repeating: Self.replacement, count: replacements)
        #expect(String(decoding: Self.escaped(bytes), as: UTF8.self) == expected)
        #expect(try Self.parsed(bytes) == expected)
    }

    @Test func resumesAfterAnInvalidByte() {
        // A lead byte whose sequence is cut by an ASCII byte: the ASCII byte survives.
        #expect(String(decoding: Self.escaped([0x61, 0xE2, 0x82, 0x22, 0xC3, 0xA9]), as: UTF8.self)
            == "a\u{FFFD}\u{FFFD}\\\"é")
        // A stray continuation byte before a valid sequence.
        #expect(String(decoding: Self.escaped([0x80, 0xE2, 0x82, 0xAC]), as: UTF8.self) == "\u{FFFD}€")
    }

    /// A cheap deterministic generator, so a failure names an input that reproduces.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func anyBytesGiveValidUTF8AndValidJSON() throws {
        var random = SplitMix64(state: 42)
        for _ in 0..<2000 {
            let count = Int.random(in: 0...24, using: &random)
            // Bias towards the interesting bytes: controls, quotes, lead and continuation bytes.
            let pool: [UInt8] = [0x00, 0x0A, 0x1F, 0x22, 0x5C, 0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xFF]
            let input = (0..<count).map { _ in
                Bool.random(using: &random) ? pool.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            let output = Self.escaped(input)
            #expect(String(validating: output, as: UTF8.self) != nil, "input \(input)")
            #expect(output.count <= 6 * input.count, "input \(input)")
            #expect(throws: Never.self, "input \(input)") { _ = try Self.parsed(input) }
        }
    }

    @Test func validUTF8RoundTripsThroughAJSONParser() throws {
        var random = SplitMix64(state: 7)
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<Int.random(in: 0...16, using: &random) {
                let scalar: UInt32 =
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: UInt32.random(in: 0..<0x80, using: &random)
                    case 1: UInt32.random(in: 0x80..<0x800, using: &random)
                    case 2: UInt32.random(in: 0x800..<0x10000, using: &random)
                    default: UInt32.random(in: 0x10000...0x10FFFF, using: &random)
                    }
                if let scalar = Unicode.Scalar(scalar) { text.unicodeScalars.append(scalar) }
            }
            #expect(try Self.parsed([UInt8](text)) == text, "text \(text.unicodeScalars.map { $0.value })")
        }
    }

    /// The writer copies up to eight bytes at once and reads the last bytes of a value as a
    /// shifted word: every byte that needs more than a copy, at every position of values of
    /// every length around those words, comes out as a one-byte value would.
    @Test func specialBytesAtEveryPositionAroundTheWords() {
        let specials: [[UInt8]] = [[0x22], [0x5C], [0x00], [0x0A], [0x1F], [0xFF], [0x80], [0xC3, 0xA9], [0xE2, 0x82]]
        for special in specials {
            let alone = Self.escaped(special)
            for length in 1...26 {
                for position in 0..<length {
                    let before = [UInt8](repeating: UInt8(ascii: "a") &+ UInt8(position % 7), count: position)
                    let after = [UInt8](repeating: UInt8(ascii: "~"), count: length - position - 1)
                    #expect(
                        Self.escaped(before + special + after) == before + alone + after,
                        "\(special) at \(position) of \(length)")
                }
            }
        }
    }

    /// The verifier's parser reads strings eight bytes at a time up to the first byte that needs
    /// more: what the writer escaped reads back at every position, and a raw control character,
    /// quote or invalid UTF-8 byte is found wherever it is.
    @Test func parserFindsSpecialBytesAtEveryPosition() throws {
        for length in 1...26 {
            for position in 0..<length {
                let before = [UInt8](repeating: UInt8(ascii: "b") &+ UInt8(position % 5), count: position)
                let after = [UInt8](repeating: UInt8(ascii: "}"), count: length - position - 1)
                for special: [UInt8] in [[0x22], [0x5C], [0x00], [0x0A], [0x1F], [0xC3, 0xA9], [0xF0, 0x9F, 0x98, 0x80]] {
                    var writer = JSONWriter()
                    writer.appendString(before + special + after)
                    let parsed = try JSONParser.parse(writer.bytes)
                    #expect(parsed == .string(before + special + after), "\(special) at \(position) of \(length)")
                }
                for raw: [UInt8] in [[0x01], [0x1F], [0xFF], [0xC3], [0xED, 0xA0, 0x80]] {
                    let text = [UInt8(ascii: "\"")] + before + raw + after + [UInt8(ascii: "\"")]
                    #expect(throws: JSONParser.Failure.self, "\(raw) at \(position) of \(length)") {
                        try JSONParser.parse(text)
                    }
                }
                let cut = [UInt8(ascii: "\"")] + before + [UInt8(ascii: "\"")] + after + [UInt8(ascii: "\"")]
                #expect(throws: JSONParser.Failure.self, "a quote at \(position) of \(length)") { try JSONParser.parse(cut) }
            }
        }
    }

    @Test(arguments: [
        0, 1, -1, 9, 10, 99, 100, 101, 999, 1000, 1_700_000_000, -1_700_000_000, 9_999_999_999, 10_000_000_000,
        Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 4_294_967_295, -2_147_483_648,
    ])
    func wholeNumbersAreWrittenInDecimal(_ value: Int64) {
        var writer = JSONWriter()
        writer.append("[")
        writer.append(value)
        writer.append("]")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "[\(value)]")
    }

    @Test func worstCaseExpansionIsSixBytesPerByte() {
        #expect(Self.escaped([UInt8](repeating: 0x01, count: 10)).count == 60)
        #expect(Self.escaped([UInt8](repeating: 0xFF, count: 10)).count == 30)
    }

    /// The same escaping, end to end: the claim value as a JSON parser reads it from a minted token.
    @Test func mintedPayloadCarriesEscapedValues() throws {
        let signer = try makeSigner(.none, key: nil, claims: [("note", ""), ("x\"y\\z", "")])
        let issuer: [UInt8] = [0x22, 0x5C, 0x0A, 0x00, 0x7F] + [UInt8]("é")
        let note: [UInt8] = [0x61, 0xFF, 0x62, 0xC0, 0xAF]
        let token = try DecodedToken(try mint(signer, values: [issuer, [UInt8]("s"), note, [UInt8]("q\"")]))
        #expect(token.payload.hasPrefix(#"{"iss":"\"\\\n\u0000"# + "\u{7F}é\",\"sub\":\"s\""))
        #expect(token.payload.hasSuffix(#","note":"a"# + "\u{FFFD}b\u{FFFD}\u{FFFD}" + #"","x\"y\\z":"q\""}"#))
        let claims = try token.claims()
        #expect(claims["iss"] as? String == "\"\\\n\u{0}\u{7F}é")
        #expect(claims["note"] as? String == "a\u{FFFD}b\u{FFFD}\u{FFFD}")
        #expect(claims["x\"y\\z"] as? String == "q\"")
    }
}
