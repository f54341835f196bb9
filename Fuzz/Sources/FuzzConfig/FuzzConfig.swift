import BackendJWT
import Foundation

/// The settings, as nginx builds them: directives applied by name to the levels of one http
/// block (`LevelSettings.apply`), then the levels merged (`LevelSettings.merge`) and a token minted
/// where a signer came out. Each step must succeed or throw a BackendJWTError, never trap; a minted
/// token must fit the bound the module allocates and the JWK Set must stay a JSON object.
///
/// Input: records separated by 0x01 bytes. A record's first byte picks the directive (`table`,
/// its high bit the server level rather than the location); the rest, split at NUL bytes, are its
/// arguments. The first record's first byte is the input's first byte. File names are taken from
/// Tests/BackendJWTTests/Fixtures (the configuration prefix); a name with a `/` is skipped, so no
/// input reads anything else.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    var records: [(selector: UInt8, args: [[UInt8]])] = []
    for (index, body) in input.dropFirst().split(separator: 1, omittingEmptySubsequences: false).enumerated() {
        var body = Array(body)
        let selector: UInt8
        if index == 0 {
            selector = input[0]
        } else {
            guard !body.isEmpty else { continue }
            selector = body.removeFirst()
        }
        records.append((selector, body.split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }))
    }

    let config = Configuration(prefix: fixtures)
    let http = LevelSettings()
    let server = LevelSettings()
    let location = LevelSettings()
    var line = 0
    for (selector, args) in records {
        let entry = table[Int(selector & 0x7F) % table.count]
        var level = selector & 0x80 != 0 ? server : location
        line += 1
        let place = Where(file: "fuzz.conf", line: line)
        guard let name = entry.name else {
            // Claims only: alternately in a server under `backend_jwt_enforce on` and its location.
            if server.enforce.value == nil {
                guard (try? server.apply("backend_jwt_enforce", [Array("on".utf8)], at: place, in: config)) != nil else { return 0 }
            }
            for (index, claim) in args.enumerated() {
                let value = Array("$c\(index)".utf8)
                guard (try? (index % 2 == 0 ? server : location).apply("backend_jwt_claim", [claim, value], at: place, in: config)) != nil
                else { return 0 }
            }
            continue
        }
        // What nginx checks before the core sees a directive: its argument count and context.
        guard args.count >= entry.arguments.lowerBound, args.count <= entry.arguments.upperBound else { return 0 }
        if entry.name == "backend_jwt_jwks_key" { level = http }
        if entry.name == "backend_jwt_enforce" { level = server }
        if entry.name == "backend_jwt_jwks" { level = location }
        if entry.name == "backend_jwt_verify_claim_set" { level = http }
        if entry.files, args.contains(where: { $0.contains(UInt8(ascii: "/")) }) { return 0 }
        let directive = name.isEmpty ? String(decoding: args.first ?? [], as: UTF8.self) : name
        do {
            _ = try level.apply(directive, name.isEmpty ? Array(args.dropFirst()) : args, at: place, in: config)
        } catch {
            return 0  // nginx -t fails here
        }
    }

    do {
        try LevelSettings.merge(http, into: server, facts: LevelFacts(), config: config)
        let handler: ContentHandler = location.servesJWKS ? .jwks : .other
        try LevelSettings.merge(
            server, into: location, facts: LevelFacts(contentHandler: handler, location: "/fuzz/"), config: config)
        let block = LevelSettings()
        try LevelSettings.merge(
            location, into: block, facts: LevelFacts(isBlockInLocation: true, contentHandler: handler, location: "/fuzz/"),
            config: config)
        precondition(block.origin === location, "an if block sends its location's token")
        for level in [server, location, block] { mint(level, config) }
        checkRules(location, config)
    } catch {
        // a merge error: nginx -t fails
    }
    let jwks = config.jwks.json()
    precondition(
        (try? JSONSerialization.jsonObject(with: Data(jwks))) is [String: Any],
        "the JWK Set is not a JSON object: \(String(decoding: jwks, as: UTF8.self))")
    return 0
}

/// The directives by selector: their names (nil: claims under `backend_jwt_enforce`; "": the name
/// is the first argument), the argument counts of the module's command table, and whether the
/// arguments name files. The first ten keep the selectors of the seed corpus.
private let table: [(name: String?, arguments: ClosedRange<Int>, files: Bool)] = [
    ("backend_jwt_signing_algorithm", 1...1, false),
    ("backend_jwt_encoding", 1...1, false),
    ("backend_jwt_token_ttl", 1...1, false),
    ("backend_jwt_header", 1...1, false),
    ("backend_jwt_claim", 2...Int.max, false),
    ("backend_jwt_wso2_claims", 1...Int.max, false),
    ("backend_jwt_key_id", 1...1, false),
    ("backend_jwt_signing_key", 1...2, true),
    ("backend_jwt_jwks_key", 1...2, true),
    (nil, 0...Int.max, false),
    ("backend_jwt", 1...1, false),
    ("backend_jwt_signing_secret", 1...2, true),
    ("backend_jwt_certificate", 1...1, true),
    ("backend_jwt_jwks", 0...0, false),
    ("backend_jwt_issuer", 1...2, false),
    ("backend_jwt_subject", 1...2, false),
    ("backend_jwt_audience", 1...Int.max, false),
    ("backend_jwt_not_before", 1...1, false),
    ("backend_jwt_jti", 1...1, false),
    ("backend_jwt_max_size", 1...1, false),
    ("backend_jwt_cache", 1...Int.max, false),
    ("backend_jwt_enforce", 1...1, false),
    ("", 0...Int.max, false),
    ("backend_jwt_verify_require_claim", 2...Int.max, false),
    ("backend_jwt_verify_claim_set", 2...2, false),
    ("backend_jwt_verify_realm", 1...1, false),
]

/// The fixtures directory, with a trailing slash: the configuration prefix.
private let fixtures: [UInt8] = Array(
    (URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path + "/Tests/BackendJWTTests/Fixtures/").utf8)

/// Claims of the shapes identity providers send, for the requirements a location sets.
private let claims = JSONValue.parse(
    Array(#"{"sub":"a","scope":"openid x:y","realm_access":{"roles":["admin"]},"n":1e3,"b":false,"https://e/r":[1]}"#.utf8))!

/// The requirements of `backend_jwt_verify_require_claim` (paths, operators, values) decide
/// for any claims, each template's value its own text.
private func checkRules(_ level: LevelSettings, _ config: Configuration) {
    for rule in level.verifyRequireClaims.value ?? [] {
        _ = rule.isMet(by: claims, values: { config.templates[$0] })
    }
    for set in config.claimSets { _ = set.path.value(in: claims) }
}

/// Mints a token for a merged level that has a signer, each value its template's text.
private func mint(_ level: LevelSettings, _ config: Configuration) {
    guard level.enabled.value == true, let signer = level.signer else { return }
    let values: [[UInt8]?] = level.valueTemplates.map { $0.map { config.templates[$0] } }
    precondition(values.count == signer.valueCount, "\(values.count) values for a signer of \(signer.valueCount)")
    let total = values.reduce(0) { $0 + ($1?.count ?? 0) }
    let bound = signer.tokenBound(valueBytes: total)
    var out = [UInt8](repeating: 0, count: bound)
    let storage = values.map { $0.map { value -> UnsafeMutableBufferPointer<UInt8> in
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(value.count, 1))
        _ = copy.initialize(from: value)
        return copy
    } }
    defer { storage.forEach { $0?.deallocate() } }
    let buffers = zip(storage, values).map { copy, value in
        copy.map { UnsafeBufferPointer(start: $0.baseAddress, count: value?.count ?? 0) }
    }
    do {
        let length = try out.withUnsafeMutableBufferPointer { try signer.mint(now: 1_700_000_000, values: buffers, into: $0) }
        precondition(length <= bound, "a token of \(length) bytes past its bound \(bound)")
        precondition(out[..<length].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).count == 3)
    } catch let error as BackendJWTError {
        precondition(error.kind == .value, "unexpected \(error.kind): \(error.message)")
    } catch {
        fatalError("not a BackendJWTError: \(error)")
    }
}
