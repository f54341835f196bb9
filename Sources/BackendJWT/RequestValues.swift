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

    /// The value at `index`, nil if the configuration gives none.
    subscript(index: Int) -> UnsafeBufferPointer<UInt8>? {
        pointers[index].map { UnsafeBufferPointer(start: $0, count: lengths[index]) }
    }

    /// The sum of the values' lengths.
    var totalBytes: Int { (0..<count).reduce(0) { $0 + (pointers[$1] == nil ? 0 : lengths[$1]) } }
}
