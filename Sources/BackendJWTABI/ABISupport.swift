import BackendJWT
import CBackendJWT

/// Runs `body`, turning a thrown error into its BJWT_ERR_* status and a message in `err`.
/// Nothing thrown crosses into C.
func status(_ err: UnsafeMutablePointer<CChar>?, _ cap: Int, _ body: () throws(BackendJWTError) -> Void) -> Int32 {
    do {
        try body()
        return Int32(BJWT_OK)
    } catch {
        write(error.message, to: err, cap: cap)
        return error.kind.status
    }
}

/// The caller's output pointer, checked before any work: NULL is an error, not a skipped step.
func output<T>(_ pointer: UnsafeMutablePointer<T>?) throws(BackendJWTError) -> UnsafeMutablePointer<T> {
    guard let pointer else { throw BackendJWTError(.config, "output pointer is NULL") }
    return pointer
}

/// Copies `message` into the caller's buffer, truncated and NUL-terminated.
func write(_ message: String, to err: UnsafeMutablePointer<CChar>?, cap: Int) {
    guard let err, cap > 0 else { return }
    let bytes = Array(message.utf8.prefix(cap - 1))
    for (i, byte) in bytes.enumerated() { err[i] = CChar(bitPattern: byte) }
    err[bytes.count] = 0
}

/// A (pointer, length) pair from C as a byte buffer; an absent pointer is empty.
func bytes(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> UnsafeBufferPointer<UInt8> {
    guard let pointer, length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: length)
}

/// Handles are retained Swift objects; C holds them as opaque pointers.
func retain(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func borrow<T: AnyObject>(_ handle: OpaquePointer, as: T.Type) -> T {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func release(_ handle: OpaquePointer?) {
    guard let handle else { return }
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).release()
}
