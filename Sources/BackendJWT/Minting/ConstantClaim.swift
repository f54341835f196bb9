/// A claim whose value has no variables is the same in every request: if it cannot convert to
/// the claim's type, every request would fail, so `nginx -t` refuses it instead.
extension ClaimList.Claim {
    /// Throws a `.config` error when the constant `value` would fail every request.
    public func checkConstant(_ value: [UInt8]) throws(BackendJWTError) {
        if value.isEmpty {
            guard ifEmpty != .fail else {
                throw BackendJWTError(.config, "claim \(quoted(name)) is always empty and has if_empty=fail: every request would fail")
            }
            return
        }
        var json = JSONWriter()
        do {
            try value.withUnsafeBufferPointer { (buffer) throws(BackendJWTError) in
                try type.appendJSON(buffer, claim: name, separator: separator, to: &json)
            }
        } catch {
            throw BackendJWTError(.config, "\(error.message): every request would fail")
        }
    }
}
