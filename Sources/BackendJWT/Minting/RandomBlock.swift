import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Random bytes from OpenSSL's CSPRNG for `jti`, fetched 1 KiB at a time instead of 16 bytes per
/// token. A block belongs to the process that fetched it: a worker forked after the fetch
/// fetches its own, so no two workers ever use the same bytes.
struct RandomBlock {
    private var bytes = [UInt8](repeating: 0, count: 1024)
    private var used = 1024
    private var owner: pid_t = 0

    init() {}

    /// A block of the given bytes (zeros after them) that this process uses before fetching its
    /// own: tests pin `jti` with it, to compare whole tokens.
    init(fixed: [UInt8]) {
        bytes = Array((fixed + [UInt8](repeating: 0, count: 1024)).prefix(1024))
        used = 0
        owner = getpid()
    }

    /// Each byte's two lowercase hexadecimal digits, the first in the low byte.
    private static let hexPairs: [UInt16] = (0..<256).map {
        UInt16(JSONWriter.hexDigit(UInt8($0 >> 4))) | UInt16(JSONWriter.hexDigit(UInt8($0 & 0xF))) << 8
    }

    /// Appends a random (version 4) UUID in lowercase 8-4-4-4-12 form, in quotes.
    mutating func appendUUID(to json: inout JSONWriter) throws(BackendJWTError) {
        let pid = getpid()
        if used + 16 > bytes.count || owner != pid {
            guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw SigningKey.openSSLError("RAND_bytes") }
            used = 0
            owner = pid
        }
        // "8-4-4-4-12" in quotes: 38 bytes, written in place, two digits per byte.
        bytes.withUnsafeBufferPointer { random in
            Self.hexPairs.withUnsafeBufferPointer { hex in
                json.append(count: 38) { out in
                    let text = UnsafeMutableRawPointer(out)
                    var o = 1
                    for i in 0..<16 {
                        if i == 4 || i == 6 || i == 8 || i == 10 { o += 1 }
                        text.storeBytes(of: hex[Int(random[used + i])].littleEndian, toByteOffset: o, as: UInt16.self)
                        o += 2
                    }
                    (out[0], out[9], out[14], out[19], out[24], out[37]) = (0x22, 0x2D, 0x2D, 0x2D, 0x2D, 0x22)  // " - "
                    out[15] = UInt8(ascii: "4")  // version 4
                    out[20] = JSONWriter.hexDigit(0x8 | random[used + 8] >> 4 & 0x3)  // RFC 4122 variant
                }
            }
        }
        used += 16
    }
}
