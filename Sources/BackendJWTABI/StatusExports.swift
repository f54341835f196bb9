import BackendJWT
import CBackendJWT

// backend_jwt_status: the module hands the core memory shared by every worker for its counters,
// and asks it for the report.

@_cdecl("bjwt_metrics_size")
public func bjwtMetricsSize() -> Int { MetricSlot.count * MemoryLayout<UInt64>.size }

@_cdecl("bjwt_jwks_metrics_size")
public func bjwtJWKSMetricsSize() -> Int { JWKSMetricSlot.count * MemoryLayout<UInt64>.size }

@_cdecl("bjwt_config_jwks_count")
public func bjwtConfigJWKSCount(_ config: OpaquePointer?) -> Int {
    guard let config else { return 0 }
    return borrow(config, as: Configuration.self).jwksSets.count
}

@_cdecl("bjwt_config_jwks_uri")
public func bjwtConfigJWKSURI(_ config: OpaquePointer?, _ index: Int, _ len: UnsafeMutablePointer<Int>?)
    -> UnsafePointer<CChar>?
{
    guard let config else { return nil }
    let sets = borrow(config, as: Configuration.self).jwksSets
    guard index >= 0, index < sets.count else { return nil }
    len?.pointee = sets[index].uri.count
    // the set keeps its URI unchanged while it lives: its storage stays put
    return sets[index].uri.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self) }
}

@_cdecl("bjwt_config_metrics")
public func bjwtConfigMetrics(
    _ config: OpaquePointer?, _ counters: UnsafeMutableRawPointer?, _ jwks: UnsafePointer<UnsafeMutableRawPointer?>?,
    _ count: Int
) {
    guard let config else { return }
    let configuration = borrow(config, as: Configuration.self)
    if let counters { configuration.metrics.attach(counters) }
    for (i, set) in configuration.jwksSets.enumerated() where i < count {
        if let shared = jwks?[i] { set.metrics.attach(shared) }
    }
}

@_cdecl("bjwt_status_render")
public func bjwtStatusRender(_ config: OpaquePointer?, _ format: Int32, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int)
    -> Int
{
    guard let config else { return 0 }
    let snapshot = borrow(config, as: Configuration.self).statusSnapshot(version: BJWT_VERSION, abiVersion: Int(BJWT_ABI_VERSION))
    let text = format == Int32(BJWT_STATUS_PROMETHEUS) ? snapshot.prometheus : snapshot.json
    if let out, text.count <= cap { text.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: text.count) } }
    return text.count
}

@_cdecl("bjwt_status_format")
public func bjwtStatusFormat(
    _ arg: UnsafePointer<UInt8>?, _ len: Int, _ contentType: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> Int32 {
    let name = arg.map { Array(UnsafeBufferPointer(start: $0, count: max(len, 0))) }
    let (format, type): (Int32, StaticString)
    switch name {
    case nil, Array("json".utf8)?: (format, type) = (Int32(BJWT_STATUS_JSON), "application/json")
    case Array("prometheus".utf8)?: (format, type) = (Int32(BJWT_STATUS_PROMETHEUS), "text/plain; version=0.0.4; charset=utf-8")
    default: return -1
    }
    contentType?.pointee = UnsafeRawPointer(type.utf8Start).assumingMemoryBound(to: CChar.self)
    return format
}
