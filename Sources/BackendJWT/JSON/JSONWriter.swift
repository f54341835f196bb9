/// Appends JSON (RFC 8259) text to a byte buffer.
///
/// Strings: `"` and `\` are escaped, control characters below U+0020 become `\b \f \n \r \t` or
/// `\u00XX`, valid UTF-8 is copied as is, and every byte that is not part of a valid UTF-8
/// sequence (stray continuation bytes, overlong forms, surrogates, code points past U+10FFFF,
/// truncated sequences) becomes U+FFFD, so the output is always valid JSON in valid UTF-8.
///
/// The signer writes each payload into one writer it keeps, so the hot path is plain memory:
/// the room for each piece is checked once (an Array checks capacity and uniqueness per append),
/// and string bytes that need no escape are copied eight at a time.
struct JSONWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// How many bytes are written.
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the text.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The text `body` writes.
    static func text(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var json = JSONWriter()
        body(&json)
        return json.bytes
    }

    /// The text, read in place.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets the text, keeping the memory.
    mutating func removeAll() { count = 0 }

    /// Forgets what was written after the first `mark` bytes.
    mutating func truncate(to mark: Int) {
        precondition(mark >= 0 && mark <= count)
        count = mark
    }

    /// The most bytes `appendString` writes per input byte (`\u00XX`), plus the two quotes.
    static let stringExpansion = 6

    /// Where `n` more bytes go, the buffer grown first if they do not fit; the caller writes at
    /// most `n` there and adds what it wrote to `count`.
    @inline(__always)
    private mutating func room(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if n > capacity &- count { grow(n) }
        return base + count
    }

    @inline(never)
    private mutating func grow(_ n: Int) {
        let newCapacity = Swift.max(count + n, capacity * 2)  // trapping arithmetic: never wraps
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        new.initialize(from: base, count: count)
        base.deallocate()
        base = new
        capacity = newCapacity
    }

    /// Appends `n` bytes that `body` writes in place.
    mutating func append(count n: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Void) {
        body(room(n))
        count += n
    }

    mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { append(contentsOf: $0) }
    }

    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        room(bytes.count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    mutating func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// A whole number in decimal, written in place two digits at a time.
    mutating func append(_ value: Int64) {
        let p = room(20)  // a sign and 19 digits
        var n = 0
        if value < 0 {
            p.pointee = UInt8(ascii: "-")
            n = 1
        }
        var magnitude = value.magnitude
        var rest = magnitude
        while rest >= 100 {
            rest /= 100
            n += 2
        }
        n += rest >= 10 ? 2 : 1
        var i = n
        while magnitude >= 100 {
            let pair = UInt8(truncatingIfNeeded: magnitude % 100)
            magnitude /= 100
            p[i - 1] = UInt8(ascii: "0") &+ pair % 10
            p[i - 2] = UInt8(ascii: "0") &+ pair / 10
            i -= 2
        }
        let last = UInt8(truncatingIfNeeded: magnitude)
        if last >= 10 {
            p[i - 1] = UInt8(ascii: "0") &+ last % 10
            p[i - 2] = UInt8(ascii: "0") &+ last / 10
        } else {
            p[i - 1] = UInt8(ascii: "0") &+ last
        }
        count += n
    }

    mutating func appendString<Bytes: Collection>(_ value: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = value.withContiguousStorageIfAvailable { appendString($0) }
        if done == nil { appendString(Array(value)) }
    }

    mutating func appendString(_ value: UnsafeBufferPointer<UInt8>) {
        let n = value.count
        let start = room(n * Self.stringExpansion + 2)
        var o = start
        o.pointee = UInt8(ascii: "\"")
        o += 1
        var i = 0
        while i < n {
            // Up to eight bytes at once, to the first that needs more than a copy: the rest of a
            // value of eight bytes or more is its last eight shifted. A whole word always fits
            // the room (six bytes per input byte) when two input bytes or more are left.
            let left = n &- i
            if left >= 8 || (n >= 8 && left >= 2) {
                let lanes = Swift.min(left, 8)
                let at = value.baseAddress! + (left >= 8 ? i : n &- 8)
                let word = UInt64(littleEndian: UnsafeRawPointer(at).loadUnaligned(as: UInt64.self)) >> (64 &- 8 &* lanes)
                let flags = Self.special(word) & (lanes == 8 ? ~0 : (1 &<< (8 &* lanes)) &- 1)
                UnsafeMutableRawPointer(o).storeBytes(of: word.littleEndian, as: UInt64.self)
                let plain = flags == 0 ? lanes : flags.trailingZeroBitCount / 8
                o += plain
                i += plain
                if plain == lanes { continue }
            }
            let byte = value[i]
            if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                o.pointee = byte
                o += 1
                i += 1
                continue
            }
            if byte >= 0x80 {
                let length = Self.validUTF8SequenceLength(value, at: i)
                if length == 0 {
                    (o[0], o[1], o[2]) = (0xEF, 0xBF, 0xBD)  // U+FFFD
                    o += 3
                    i += 1
                } else {
                    o.initialize(from: value.baseAddress! + i, count: length)
                    o += length
                    i += length
                }
                continue
            }
            o[0] = UInt8(ascii: "\\")
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): o[1] = byte
            case 0x08: o[1] = UInt8(ascii: "b")
            case 0x0C: o[1] = UInt8(ascii: "f")
            case 0x0A: o[1] = UInt8(ascii: "n")
            case 0x0D: o[1] = UInt8(ascii: "r")
            case 0x09: o[1] = UInt8(ascii: "t")
            default:
                (o[1], o[2], o[3]) = (UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"))
                o[4] = Self.hexDigit(byte >> 4)
                o[5] = Self.hexDigit(byte & 0x0F)
                o += 4
            }
            o += 2
            i += 1
        }
        o.pointee = UInt8(ascii: "\"")
        o += 1
        count += o - start
    }

    /// Where the run of printable ASCII other than `"` and `\\` that starts at `from` ends
    /// (the JSON parser's strings), read eight bytes at a time.
    static func plainRun(_ s: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        while i + 8 <= s.count {
            let flags = special(UInt64(littleEndian: UnsafeRawPointer(s.baseAddress! + i).loadUnaligned(as: UInt64.self)))
            guard flags == 0 else { return i + flags.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < s.count, s[i] >= 0x20, s[i] < 0x80, s[i] != UInt8(ascii: "\""), s[i] != UInt8(ascii: "\\") { i += 1 }
        return i
    }

    /// The high bit of each byte of `word` that is not printable ASCII (below 0x20, or 0x80 and
    /// up), or is `"` or `\`. The lowest flagged byte is always right (a false flag needs a
    /// borrow from a true one below it), which is all `appendString` reads.
    @inline(__always)
    private static func special(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        return (control | (quote &- ones) & ~quote | (backslash &- ones) & ~backslash | word) & highs
    }

    /// A lowercase hexadecimal digit of `nibble` (0 to 15).
    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }

    /// How many bytes `appendString` writes for `value`, quotes included.
    static func stringLength<Bytes: Collection>(_ value: Bytes) -> Int
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var length = 2
        var i = value.startIndex
        while i < value.endIndex {
            let byte = value[i]
            if byte >= 0x80 {
                let sequence = validUTF8SequenceLength(value, at: i)
                length += sequence == 0 ? 3 : sequence  // U+FFFD for a stray byte
                i += max(sequence, 1)
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x0C, 0x0A, 0x0D, 0x09: length += 2
            case ..<0x20: length += 6
            default: length += 1
            }
            i += 1
        }
        return length
    }

    /// The length (2 to 4) of the well-formed UTF-8 sequence starting at `i` (RFC 3629 table),
    /// or 0 if the byte there does not start one.
    static func validUTF8SequenceLength<Bytes: Collection>(_ s: Bytes, at i: Int) -> Int
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let remaining = s.endIndex - i
        func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            k < remaining && s[i + k] >= low && s[i + k] <= high
        }
        switch s[i] {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0  // no surrogates
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }
}
