// TEMPORARY STUB (helper A writes the real one)
public struct ClaimCopies: Equatable, Sendable {
    public static func parse(_ args: [[UInt8]]) throws(BackendJWTError) -> ClaimCopies? { nil }
    public func checkConflicts(with claims: [ClaimList.Claim]) throws(BackendJWTError) {}
}
