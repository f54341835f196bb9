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

    /// Appends a random (version 4) UUID in lowercase 8-4-4-4-12 form, in quotes.
    mutating func appendUUID(to json: inout JSONWriter) throws(BackendJWTError) {
        let pid = getpid()
        if used + 16 > bytes.count || owner != pid {
            guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw SigningKey.openSSLError("RAND_bytes") }
            used = 0
            owner = pid
        }
        json.bytes.append(UInt8(ascii: "\""))
        for i in 0..<16 {
            var byte = bytes[used + i]
            if i == 6 { byte = byte & 0x0F | 0x40 }  // version 4
            if i == 8 { byte = byte & 0x3F | 0x80 }  // RFC 4122 variant
            if i == 4 || i == 6 || i == 8 || i == 10 { json.bytes.append(UInt8(ascii: "-")) }
            json.bytes.append(JSONWriter.hexDigits[Int(byte >> 4)])
            json.bytes.append(JSONWriter.hexDigits[Int(byte & 0x0F)])
        }
        json.bytes.append(UInt8(ascii: "\""))
        used += 16
    }
}
