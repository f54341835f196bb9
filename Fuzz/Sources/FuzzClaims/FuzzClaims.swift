import BackendJWT
import Foundation

/// Claim encoding, the per-request path: claims declared from the input's head (names, types,
/// separators, if_empty) as `backend_jwt_claim` directives, each with a variable as its value, in
/// a location signing with NONE for one audience; its signer (from the merge) then mints a token
/// from the rest as request values. A token must be minted or refused with a BackendJWTError; a
/// minted payload must be a JSON object in valid UTF-8 that fits the bound the module allocates.
/// Anything else traps, and libFuzzer reports it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClaims(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let types = ["string", "int", "long", "float", "bool", "date", "json", "list"]
    let ifEmpty = ["omit", "null", "empty", "fail"]
    // Head: count of claims; each claim is 2 bytes (type, if_empty) plus a name from the body.
    let count = Int(input[0] % 6)
    let parts = input.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    guard parts.count >= 2 * count + 1 else { return 0 }
    let config = Configuration(prefix: [])
    let location = LevelSettings()
    let place = Where(file: "fuzz.conf", line: 1)
    do {
        for (name, args) in [
            ("backend_jwt", ["on"]), ("backend_jwt_signing_algorithm", ["NONE"]), ("backend_jwt_token_ttl", ["60"]),
            ("backend_jwt_audience", ["$aud"]),
        ] {
            _ = try location.apply(name, args.map { Array($0.utf8) }, at: place, in: config)
        }
    } catch {
        fatalError("the fixed directives are refused: \(error)")
    }
    for i in 0..<count {
        let spec = parts[2 * i]
        let type = types[Int(spec.first ?? 0) % types.count]
        var options: [[UInt8]] = [Array("type=\(type)".utf8)]
        if spec.count > 1 { options.append(Array("if_empty=\(ifEmpty[Int(spec[1]) % ifEmpty.count])".utf8)) }
        if type == "list", spec.count > 2 { options.append(Array("separator=".utf8) + spec[2...].prefix(3)) }
        let declaration = [parts[2 * i + 1], Array("$claim\(i)".utf8)] + options
        guard (try? location.apply("backend_jwt_claim", declaration, at: place, in: config)) != nil else { return 0 }
    }
    guard (try? LevelSettings.merge(LevelSettings(), into: location, facts: LevelFacts(), config: config)) != nil,
        let signer = location.signer
    else { return 0 }
    precondition(signer.valueCount == 3 + count && location.valueTemplates.count == signer.valueCount)
    let values = Array(parts[(2 * count)...])
    var filled = values.prefix(signer.valueCount).map { Optional($0) }
    while filled.count < signer.valueCount { filled.append(nil) }
    let total = filled.reduce(0) { $0 + ($1?.count ?? 0) }
    var out = [UInt8](repeating: 0, count: signer.tokenBound(valueBytes: total))
    let length: Int
    do {
        length = try withBuffers(filled) { buffers in
            try out.withUnsafeMutableBufferPointer { try signer.mint(now: 1_700_000_000, values: buffers, into: $0) }
        }
    } catch let error as BackendJWTError {
        precondition(error.kind == .value, "unexpected \(error.kind): \(error.message)")
        return 0
    } catch {
        fatalError("not a BackendJWTError: \(error)")
    }
    let segments = out[..<length].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    precondition(segments.count == 3 && segments[2].isEmpty, "a NONE token has three segments, the last empty")
    var payload = String(decoding: segments[1], as: UTF8.self).replacingOccurrences(of: "-", with: "+")
        .replacingOccurrences(of: "_", with: "/")
    payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
    let json = Data(base64Encoded: payload)!
    precondition(String(data: json, encoding: .utf8) != nil, "payload is not valid UTF-8")
    let object = try? JSONSerialization.jsonObject(with: json)
    precondition(object is [String: Any], "payload is not a JSON object: \(String(decoding: json, as: UTF8.self))")
    return 0
}

/// Runs `body` with the values as the buffers `mint` takes.
private func withBuffers<R>(_ values: [[UInt8]?], _ body: ([UnsafeBufferPointer<UInt8>?]) throws -> R) rethrows -> R {
    var buffers: [UnsafeBufferPointer<UInt8>?] = []
    var storage: [UnsafeMutableBufferPointer<UInt8>] = []
    defer { storage.forEach { $0.deallocate() } }
    for value in values {
        guard let value else {
            buffers.append(nil)
            continue
        }
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(value.count, 1))
        _ = copy.initialize(from: value)
        storage.append(copy)
        buffers.append(UnsafeBufferPointer(start: copy.baseAddress, count: value.count))
    }
    return try body(buffers)
}
