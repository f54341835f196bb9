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
        // stat() first, so a FIFO, a device or a directory is refused without opening it: open()
        // blocks on a FIFO until a writer comes, which would hang `nginx -t` and a reload.
        // O_NONBLOCK as well, for a file replaced by a FIFO between the two calls; fstat() then
        // says what was opened. Reads from a regular file are not affected by it.
        var info = stat()
        let terminated = path + [0]
        let stated = terminated.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { stat($0.baseAddress!, &info) }
        }
        guard stated == 0 else { throw ioError("cannot open \(noun)", shown) }
        try checkRegular(info, noun, shown)
        let fd = terminated.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        }
        guard fd >= 0 else { throw ioError("cannot open \(noun)", shown) }
        defer { close(fd) }
        guard fstat(fd, &info) == 0 else { throw ioError("cannot read \(noun)", shown) }
        try checkRegular(info, noun, shown)
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

    /// Refuses what is not a regular file, saying what it is.
    private static func checkRegular(_ info: stat, _ noun: String, _ shown: String) throws(BackendJWTError) {
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFIFO: kind = " (a FIFO)"
        case S_IFSOCK: kind = " (a socket)"
        case S_IFCHR, S_IFBLK: kind = " (a device)"
        default: kind = ""
        }
        throw BackendJWTError(.key, "\(noun) \(quotedPath(shown)) is not a regular file\(kind)")
    }

    private static func ioError(_ what: String, _ path: String) -> BackendJWTError {
        let reason = String(cString: strerror(errno))
        return BackendJWTError(.key, "\(what) \(quotedPath(path)): \(reason)")
    }

    /// The labels of the PEM blocks in `bytes` (`-----BEGIN LABEL-----` ... `-----END ...-----`),
    /// in order, and whether anything but white space lies before the first or after the last.
    /// Lines inside a block (an encrypted key's `Proc-Type:` headers among them) are not looked at.
    static func pemLayout(_ bytes: [UInt8]) -> (labels: [[UInt8]], textBefore: Bool, textAfter: Bool) {
        var labels: [[UInt8]] = []
        var textBefore = false
        var textAfter = false
        var inside = false
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = rawLine[...]
            while let c = line.first, c == 0x20 || c == 0x09 || c == 0x0D { line = line.dropFirst() }
            while let c = line.last, c == 0x20 || c == 0x09 || c == 0x0D { line = line.dropLast() }
            if line.isEmpty { continue }
            let dashes = Array("-----".utf8)
            if inside {
                if line.starts(with: Array("-----END ".utf8)) { inside = false }
                continue
            }
            let begin = Array("-----BEGIN ".utf8)
            if line.starts(with: begin), line.count >= begin.count + dashes.count, line.suffix(5).elementsEqual(dashes) {
                labels.append(Array(line.dropFirst(begin.count).dropLast(dashes.count)))
                inside = true
            } else if labels.isEmpty {
                textBefore = true
            } else {
                textAfter = true
            }
        }
        return (labels, textBefore, textAfter)
    }

    /// Refuses a PEM file with more than one block of what it is for, or with text around its
    /// blocks: which of two keys would sign, and what the text was meant to say, would be guesses.
    /// Blocks for which `counts` is false may stand beside it (a certificate in a key file and
    /// the key in a certificate file: one bundle named by both directives; the `EC PARAMETERS`
    /// that `openssl ecparam -genkey` writes before a key). A file with no block that counts
    /// passes, for the parser to say what it holds instead.
    static func checkSinglePEMBlock(
        _ bytes: [UInt8], noun: String, path: String, one: String, counts: ([UInt8]) -> Bool
    ) throws(BackendJWTError) {
        let layout = pemLayout(bytes)
        let labels = layout.labels.filter(counts)
        guard !labels.isEmpty else { return }
        if labels.count > 1 {
            let names = labels.prefix(4).map { quoted($0) }.joined(separator: ", ") + (labels.count > 4 ? ", ..." : "")
            throw BackendJWTError(
                .key, "\(noun) \(quotedPath(path)) holds \(labels.count) PEM blocks (\(names)); put \(one) in it")
        }
        if layout.textBefore || layout.textAfter {
            let place = layout.textBefore ? "before" : "after"
            throw BackendJWTError(
                .key, "\(noun) \(quotedPath(path)) has text \(place) its PEM block; remove it, the file must hold only \(one)")
        }
    }

    /// A key file's blocks that count: all but certificates and EC parameters.
    static func isKeyBlock(_ label: [UInt8]) -> Bool {
        !label.elementsEqual("CERTIFICATE".utf8) && !label.elementsEqual("TRUSTED CERTIFICATE".utf8)
            && !label.elementsEqual("EC PARAMETERS".utf8)
    }

    /// A certificate file's blocks that count: all but private keys and EC parameters.
    static func isCertificateBlock(_ label: [UInt8]) -> Bool {
        !label.reversed().starts(with: "PRIVATE KEY".utf8.reversed()) && !label.elementsEqual("EC PARAMETERS".utf8)
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
