import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the small files the configuration names (keys, secrets, certificates, passwords),
/// with errors that name the file and never echo its content.
enum KeyFile {
    /// These files are small; refusing large ones keeps a wrong path (a log, a disk image) cheap.
    static let maximumSize = 1 << 20

    /// The bytes of `path`; `noun` says what it is in messages ("key file", "certificate file").
    static func load(_ path: [UInt8], noun: String) throws(BackendJWTError) -> [UInt8] {
        let shown = String(decoding: path, as: UTF8.self)
        // open() would stop at a NUL and read another file than the one named.
        guard !path.contains(0) else { throw BackendJWTError(.key, "\(noun) \(quotedPath(shown)) has a NUL byte in its name") }
        let fd = (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        }
        guard fd >= 0 else { throw ioError("cannot open \(noun)", shown) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot read \(noun)", shown) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw BackendJWTError(.key, "\(noun) \(quotedPath(shown)) is not a regular file")
        }
        guard Int(info.st_size) <= maximumSize else {
            throw BackendJWTError(.key, "\(noun) \(quotedPath(shown)) is larger than \(maximumSize) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { break }
            guard n > 0 else { throw ioError("cannot read \(noun)", shown) }
            filled += n
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    private static func ioError(_ what: String, _ path: String) -> BackendJWTError {
        let reason = String(cString: strerror(errno))
        return BackendJWTError(.key, "\(what) \(quotedPath(path)): \(reason)")
    }

    /// Whether `haystack` contains `needle` (PEM labels).
    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    /// Overwrites secret bytes before they are released.
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }
}
