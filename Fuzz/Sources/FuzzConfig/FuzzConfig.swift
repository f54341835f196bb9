import BackendJWT

/// Every directive parser of the core, fed arbitrary arguments: each must return a value or a
/// BackendJWTError, never trap. The first byte picks the parser; the rest, split at NUL bytes,
/// are the directive's arguments.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let args = input.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    let first = args.first ?? []
    switch input[0] % 10 {
    case 0: _ = try? SigningAlgorithm.parse(first)
    case 1: _ = try? TokenEncoding.parse(first)
    case 2: _ = try? TokenTTL.parse(first)
    case 3: try? HeaderName.check(first)
    case 4: try? ClaimList().add(name: first, options: Array(args.dropFirst()))
    case 5: try? WSO2Claims.add(to: ClaimList(), options: args)
    case 6: try? KeyOptions.checkKeyID(first)
    case 7: _ = try? KeyOptions.passwordFile(first, prefix: args.count > 1 ? args[1] : [])
    case 8: _ = try? KeyOptions.algorithm(first)
    default:
        // Several claims into one list, then appended to another: conflicts and nesting.
        let upper = ClaimList()
        let lower = ClaimList()
        for (index, name) in args.enumerated() {
            try? (index % 2 == 0 ? upper : lower).add(name: name, options: [])
        }
        var conflict = 0
        _ = try? upper.appending(lower, conflict: &conflict)
    }
    return 0
}
