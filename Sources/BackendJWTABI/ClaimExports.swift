import BackendJWT

// Custom claims: one list per configuration level, built while nginx reads nginx.conf.

@_cdecl("bjwt_claims_create")
public func bjwtClaimsCreate() -> OpaquePointer { retain(ClaimList()) }

@_cdecl("bjwt_claims_free")
public func bjwtClaimsFree(_ claims: OpaquePointer?) { release(claims) }

@_cdecl("bjwt_claims_count")
public func bjwtClaimsCount(_ claims: OpaquePointer?) -> Int {
    guard let claims else { return 0 }
    return borrow(claims, as: ClaimList.self).claims.count
}

@_cdecl("bjwt_claims_add")
public func bjwtClaimsAdd(
    _ claims: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ nameLen: Int,
    _ options: UnsafePointer<UnsafePointer<CChar>?>?, _ optionLens: UnsafePointer<Int>?, _ noptions: Int,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let claims else { throw BackendJWTError(.config, "no claim list") }
        try borrow(claims, as: ClaimList.self).add(
            name: bytes(name, nameLen), options: try arguments(options, optionLens, noptions))
    }
}

@_cdecl("bjwt_claims_add_wso2")
public func bjwtClaimsAddWSO2(
    _ claims: OpaquePointer?, _ args: UnsafePointer<UnsafePointer<CChar>?>?, _ argLens: UnsafePointer<Int>?,
    _ nargs: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let claims else { throw BackendJWTError(.config, "no claim list") }
        try WSO2Claims.add(to: borrow(claims, as: ClaimList.self), options: try arguments(args, argLens, nargs))
    }
}

@_cdecl("bjwt_claims_template")
public func bjwtClaimsTemplate(
    _ claims: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int {
    guard let claims else { return 0 }
    let list = borrow(claims, as: ClaimList.self).claims
    guard index >= 0, index < list.count, let template = list[index].template else { return 0 }
    if let out, template.count <= cap { out.update(from: template, count: template.count) }
    return template.count
}

@_cdecl("bjwt_claims_check_constant")
public func bjwtClaimsCheckConstant(
    _ claims: OpaquePointer?, _ index: Int, _ value: UnsafePointer<CChar>?, _ len: Int,
    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let list = claims.map { borrow($0, as: ClaimList.self).claims } ?? []
        guard index >= 0, index < list.count else { throw BackendJWTError(.config, "no claim \(index)") }
        try list[index].checkConstant(Array(bytes(value, len)))
    }
}

@_cdecl("bjwt_claims_append")
public func bjwtClaimsAppend(
    _ upper: OpaquePointer?, _ lower: OpaquePointer?, _ merged: UnsafeMutablePointer<OpaquePointer?>?,
    _ conflict: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let out = try output(merged)
        let upperList = upper.map { borrow($0, as: ClaimList.self) } ?? ClaimList()
        let lowerList = lower.map { borrow($0, as: ClaimList.self) } ?? ClaimList()
        var index = 0
        defer { conflict?.pointee = index }
        out.pointee = retain(try upperList.appending(lowerList, conflict: &index))
    }
}

@_cdecl("bjwt_parse_cache")
public func bjwtParseCache(
    _ args: UnsafePointer<UnsafePointer<CChar>?>?, _ argLens: UnsafePointer<Int>?, _ nargs: Int,
    _ size: UnsafeMutablePointer<Int64>?, _ minSeconds: UnsafeMutablePointer<Int64>?,
    _ minPercent: UnsafeMutablePointer<Int64>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        let (sizeOut, secondsOut, percentOut) = (try output(size), try output(minSeconds), try output(minPercent))
        guard let parsed = try TokenCache.parse(try arguments(args, argLens, nargs)) else {
            sizeOut.pointee = 0
            return
        }
        sizeOut.pointee = Int64(parsed.size)
        switch parsed.remaining {
        case .seconds(let seconds): (secondsOut.pointee, percentOut.pointee) = (seconds, 0)
        case .percent(let percent): (secondsOut.pointee, percentOut.pointee) = (-1, percent)
        }
    }
}

/// A C array of (pointer, length) arguments as byte arrays.
func arguments(_ pointers: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?, _ count: Int)
    throws(BackendJWTError) -> [[UInt8]]
{
    guard count > 0 else { return [] }
    guard let pointers, let lens else { throw BackendJWTError(.config, "missing arguments") }
    return (0..<count).map { Array(bytes(pointers[$0], lens[$0])) }
}
