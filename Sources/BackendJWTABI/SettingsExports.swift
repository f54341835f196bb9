import BackendJWT
import CBackendJWT

// The settings: built while nginx's master reads nginx.conf. The module hands over each
// directive by name and each merge of two levels; the core decides everything about them.

@_cdecl("bjwt_abi_version")
public func bjwtABIVersion() -> Int32 {
    #if BJWT_ABI_MISMATCH_TEST
        // a core built to report another version, for the test of the module's handshake
        return Int32(BJWT_ABI_VERSION) + 1
    #else
        return Int32(BJWT_ABI_VERSION)
    #endif
}

@_cdecl("bjwt_config_create")
public func bjwtConfigCreate(_ prefix: UnsafePointer<CChar>?, _ len: Int) -> OpaquePointer {
    retain(Configuration(prefix: Array(bytes(prefix, len))))
}

@_cdecl("bjwt_config_free")
public func bjwtConfigFree(_ config: OpaquePointer?) { release(config) }

/// A level's settings and the C copies of what a request there gets, in memory of its own so
/// the pointers bjwt_level_location hands out stay valid while the level lives.
final class LevelHandle {
    let settings = LevelSettings()
    private(set) var header = UnsafeMutableBufferPointer<CChar>(start: nil, count: 0)
    private(set) var values = UnsafeMutableBufferPointer<Int>(start: nil, count: 0)
    private(set) var scheme = UnsafeMutableBufferPointer<CChar>(start: nil, count: 0)
    private(set) var ruleValues = UnsafeMutableBufferPointer<Int>(start: nil, count: 0)
    private(set) var jwksURI = UnsafeMutableBufferPointer<CChar>(start: nil, count: 0)
    private(set) var jwksPlace = UnsafeMutableBufferPointer<CChar>(start: nil, count: 0)
    private(set) var challenges: [UnsafeMutableBufferPointer<CChar>] = []
    /// Keeps C copies of the settings bjwt_level_location hands out.
    func keep() {
        header = Self.replace(header, with: (settings.header.value ?? []).map { CChar(bitPattern: $0) })
        scheme = Self.replace(scheme, with: (settings.headerScheme.value ?? []).map { CChar(bitPattern: $0) })
        values = Self.replace(values, with: settings.valueTemplates.map { $0 ?? -1 })  // -1: BJWT_NO_VALUE
        ruleValues = Self.replace(ruleValues, with: settings.rules?.templates ?? [])
        jwksURI = Self.replace(jwksURI, with: ((settings.verifyJWKS.value ?? nil) ?? []).map { CChar(bitPattern: $0) })
        jwksPlace = Self.replace(jwksPlace, with: Array((settings.verifyJWKS.place?.description ?? "").utf8).map { CChar(bitPattern: $0) })
        for old in challenges { old.deallocate() }
        challenges = settings.challenges.map { Self.replace(UnsafeMutableBufferPointer(start: nil, count: 0), with: $0.map { CChar(bitPattern: $0) }) }
    }

    private static func replace<T>(_ old: UnsafeMutableBufferPointer<T>, with new: [T]) -> UnsafeMutableBufferPointer<T> {
        old.deallocate()
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: new.count)
        _ = buffer.initialize(from: new)
        return buffer
    }

    deinit {
        header.deallocate()
        values.deallocate()
        scheme.deallocate()
        ruleValues.deallocate()
        jwksURI.deallocate()
        jwksPlace.deallocate()
        for challenge in challenges { challenge.deallocate() }
    }
}

@_cdecl("bjwt_level_create")
public func bjwtLevelCreate() -> OpaquePointer { retain(LevelHandle()) }

@_cdecl("bjwt_level_free")
public func bjwtLevelFree(_ level: OpaquePointer?) { release(level) }

@_cdecl("bjwt_directive")
public func bjwtDirective(
    _ config: OpaquePointer?, _ level: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ nameLen: Int,
    _ args: UnsafePointer<UnsafePointer<CChar>?>?, _ argLens: UnsafePointer<Int>?, _ nargs: Int,
    _ file: UnsafePointer<CChar>?, _ fileLen: Int, _ line: Int, _ handler: Int32,
    _ content: UnsafeMutablePointer<Int32>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let config, let level else { throw BackendJWTError(.config, "bjwt_directive: missing argument") }
        let handler = try borrow(level, as: LevelHandle.self).settings.apply(
            String(decoding: bytes(name, nameLen), as: UTF8.self), try arguments(args, argLens, nargs),
            at: Where(file: String(decoding: bytes(file, fileLen), as: UTF8.self), line: line),
            in: borrow(config, as: Configuration.self), contentHandler: ContentHandler(rawValue: handler) ?? .other)
        content?.pointee = handler.rawValue
    }
}

@_cdecl("bjwt_config_templates")
public func bjwtConfigTemplates(_ config: OpaquePointer?) -> Int {
    guard let config else { return 0 }
    return borrow(config, as: Configuration.self).templates.count
}

@_cdecl("bjwt_config_template")
public func bjwtConfigTemplate(
    _ config: OpaquePointer?, _ index: Int, _ len: UnsafeMutablePointer<Int>?
) -> UnsafePointer<CChar>? {
    guard let config else { return nil }
    let templates = borrow(config, as: Configuration.self).templates
    guard index >= 0, index < templates.count else { return nil }
    len?.pointee = templates[index].count
    // The configuration keeps each template unchanged while it lives: its storage stays put.
    return templates[index].withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self) }
}

@_cdecl("bjwt_level_merge")
public func bjwtLevelMerge(
    _ config: OpaquePointer?, _ parent: OpaquePointer?, _ child: OpaquePointer?,
    _ facts: UnsafePointer<bjwt_level_facts>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int
) -> Int32 {
    status(err, cap) { () throws(BackendJWTError) in
        guard let config, let parent, let child, let f = facts?.pointee else {
            throw BackendJWTError(.config, "bjwt_level_merge: missing argument")
        }
        try LevelSettings.merge(
            borrow(parent, as: LevelHandle.self).settings, into: borrow(child, as: LevelHandle.self).settings,
            facts: LevelFacts(
                isBlockInLocation: f.in_location != 0, contentHandler: ContentHandler(rawValue: f.handler) ?? .other,
                location: String(decoding: bytes(f.location, f.location_len), as: UTF8.self),
                droppedHeaders: f.dropped.map { String(cString: $0) }),
            config: borrow(config, as: Configuration.self))
    }
}

@_cdecl("bjwt_level_location")
public func bjwtLevelLocation(_ level: OpaquePointer?, _ out: UnsafeMutablePointer<bjwt_location>?) -> Int32 {
    guard let level, let out else { return Int32(BJWT_ERR_CONFIG) }
    let handle = borrow(level, as: LevelHandle.self)
    let settings = handle.settings
    handle.keep()
    let origin = settings.origin ?? settings
    out.pointee.enabled = settings.enabled.value == true ? 1 : 0
    out.pointee.header = UnsafePointer(handle.header.baseAddress)
    out.pointee.header_len = handle.header.count
    out.pointee.signer = settings.enabled.value == true ? settings.signer.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) } : nil
    out.pointee.max_size = settings.maxSize.value ?? 0
    out.pointee.origin = UnsafeRawPointer(Unmanaged.passUnretained(origin).toOpaque())
    out.pointee.values = UnsafePointer(OpaquePointer(handle.values.baseAddress))
    out.pointee.nvalues = handle.values.count
    out.pointee.scheme = UnsafePointer(handle.scheme.baseAddress)
    out.pointee.scheme_len = handle.scheme.count
    let verifies = settings.verify.value == true
    out.pointee.verifier = verifies ? settings.verifier.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) } : nil
    let token = (settings.verifyToken.value ?? nil) ?? -1
    out.pointee.token = token
    out.pointee.drop_authorization = verifies && token == -1 && settings.verifyForward.value != true ? 1 : 0
    out.pointee.rules = verifies ? settings.rules.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) } : nil
    out.pointee.rule_values = UnsafePointer(OpaquePointer(handle.ruleValues.baseAddress))
    out.pointee.nrule_values = verifies ? handle.ruleValues.count : 0
    out.pointee.jwks_uri = UnsafePointer(handle.jwksURI.baseAddress)
    out.pointee.jwks_uri_len = verifies ? handle.jwksURI.count : 0
    out.pointee.jwks_place = UnsafePointer(handle.jwksPlace.baseAddress)
    out.pointee.jwks_place_len = handle.jwksPlace.count
    let c = handle.challenges
    out.pointee.challenge = (UnsafePointer(c[0].baseAddress), UnsafePointer(c[1].baseAddress), UnsafePointer(c[2].baseAddress))
    out.pointee.challenge_len = (c[0].count, c[1].count, c[2].count)
    out.pointee.jwks_wait = settings.verifyJWKSWait.value ?? RemoteKeySet.defaultWait
    return Int32(BJWT_OK)
}

@_cdecl("bjwt_config_claim_sets")
public func bjwtConfigClaimSets(_ config: OpaquePointer?) -> Int {
    guard let config else { return 0 }
    return borrow(config, as: Configuration.self).claimSets.count
}

@_cdecl("bjwt_config_claim_set")
public func bjwtConfigClaimSet(
    _ config: OpaquePointer?, _ index: Int, _ len: UnsafeMutablePointer<Int>?
) -> UnsafePointer<CChar>? {
    guard let config else { return nil }
    let sets = borrow(config, as: Configuration.self).claimSets
    guard index >= 0, index < sets.count else { return nil }
    len?.pointee = sets[index].variable.count
    // kept unchanged while the configuration lives
    return sets[index].variable.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self) }
}

@_cdecl("bjwt_config_jwks_json")
public func bjwtConfigJWKSJSON(_ config: OpaquePointer?, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    guard let config else { return 0 }
    return copyOut(borrow(config, as: Configuration.self).jwks.json(), out, cap)
}

@_cdecl("bjwt_config_jwks_etag")
public func bjwtConfigJWKSETag(_ config: OpaquePointer?, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    guard let config else { return 0 }
    return copyOut(JWKSet.etag(of: borrow(config, as: Configuration.self).jwks.json()), out, cap)
}

/// Copies `bytes` into the caller's buffer if they fit; returns their length either way.
private func copyOut(_ bytes: [UInt8], _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int) -> Int {
    if let out, bytes.count <= cap {
        out.update(from: bytes, count: bytes.count)
    }
    return bytes.count
}

/// A C array of (pointer, length) arguments as byte arrays.
func arguments(_ pointers: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?, _ count: Int)
    throws(BackendJWTError) -> [[UInt8]]
{
    guard count > 0 else { return [] }
    guard let pointers, let lens else { throw BackendJWTError(.config, "missing arguments") }
    return (0..<count).map { Array(bytes(pointers[$0], lens[$0])) }
}
