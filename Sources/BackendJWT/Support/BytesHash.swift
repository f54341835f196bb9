#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The hash and comparison of the per-worker caches' keys (`VerifiedTokenCache`: a caller's
/// token; `TokenCache`: what a minted token is made of), looked up on every request.
enum BytesHash {
    /// The hash of some bytes, 32 at a time in four independent lanes (a multiply-xorshift mix,
    /// seeded per process from Swift's random hashing seed). It only picks a cache slot: the
    /// bytes are then compared in full, so it needs to be fast, not cryptographic (SipHash took
    /// four times as long for a 500-byte token).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        let m: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func mix(_ x: UInt64) -> UInt64 {
            let y = x &* m
            return y ^ (y >> 29)
        }
        let count = bytes.count
        var a = seed ^ UInt64(count)
        var b = seed &+ m
        var c = seed ^ 0x6A09_E667_F3BC_C908
        var d = seed &- m
        var offset = 0
        while offset + 32 <= count {
            a = mix(a ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            b = mix(b ^ bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            c = mix(c ^ bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
            d = mix(d ^ bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
            offset += 32
        }
        while offset + 8 <= count {
            a = mix(a ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        b = mix(b ^ tail)
        let h = mix(a ^ ((b << 16) | (b >> 48)) ^ ((c << 32) | (c >> 32)) ^ ((d << 48) | (d >> 16)))
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    private static let seed: UInt64 = {
        var hasher = Hasher()
        hasher.combine(0x6A77_7473 as UInt64)
        return UInt64(truncatingIfNeeded: hasher.finalize())
    }()

    /// Whether two buffers hold the same bytes.
    static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// Same, for arrays.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in same(a, b) } }
    }
}
