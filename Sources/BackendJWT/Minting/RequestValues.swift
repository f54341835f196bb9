/// The values of one request, as the module hands them over: C arrays of pointers and lengths,
/// read in place (the issuer, the subject, the audiences, then each custom claim's value).
public struct RequestValues {
    let pointers: UnsafePointer<UnsafePointer<UInt8>?>
    let lengths: UnsafePointer<Int>
    public let count: Int

    public init(pointers: UnsafePointer<UnsafePointer<UInt8>?>, lengths: UnsafePointer<Int>, count: Int) {
        self.pointers = pointers
        self.lengths = lengths
        self.count = count
    }

    /// Runs `body` with `values` (Swift buffers, nil for an absent value) laid out as the module
    /// passes them.
    static func with<R>(
        _ values: [UnsafeBufferPointer<UInt8>?], _ body: (RequestValues) throws(BackendJWTError) -> R
    ) throws(BackendJWTError) -> R {
        // A present but empty buffer may have no base address; any non-nil pointer with length 0
        // keeps it apart from an absent value (nil), and is never read.
        let pointers = values.map { $0?.baseAddress ?? ($0 == nil ? nil : UnsafePointer(bitPattern: 1)) }
        let lengths = values.map { $0?.count ?? 0 }
        return try pointers.withUnsafeBufferPointer { (p) throws(BackendJWTError) -> R in
            try lengths.withUnsafeBufferPointer { (l) throws(BackendJWTError) -> R in
                try body(RequestValues(pointers: p.baseAddress!, lengths: l.baseAddress!, count: values.count))
            }
        }
    }

    /// The value at `index`, nil if the configuration gives none.
    subscript(index: Int) -> UnsafeBufferPointer<UInt8>? {
        pointers[index].map { UnsafeBufferPointer(start: $0, count: lengths[index]) }
    }

    /// The sum of the values' lengths.
    var totalBytes: Int { (0..<count).reduce(0) { $0 + (pointers[$1] == nil ? 0 : lengths[$1]) } }
}
