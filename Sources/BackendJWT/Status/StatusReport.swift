/// What `backend_jwt_status` shows: the counters of every worker, summed in shared memory, and
/// each fetched JWK Set as the answering worker holds it. Rendered here, as JSON or in the
/// Prometheus text exposition format (version 0.0.4), so any host of the core shows the same.
public struct StatusSnapshot: Sendable {
    /// The release (`BJWT_VERSION` of include/backend_jwt.h) and the ABI's version.
    public var version: String
    public var abiVersion: Int
    /// The http block's counters, by `MetricSlot`.
    public var counters: [UInt64]
    public var jwks: [JWKSStatus]

    public init(version: String, abiVersion: Int, counters: [UInt64], jwks: [JWKSStatus]) {
        self.version = version
        self.abiVersion = abiVersion
        self.counters = counters
        self.jwks = jwks
    }

    /// One `backend_jwt_verify_jwks` URI: its counters (every worker's) and its set (this worker's).
    public struct JWKSStatus: Sendable {
        public var uri: [UInt8]
        /// Each usable key: its `kid` (nil: none) and the algorithms it verifies.
        public var keys: [(kid: [UInt8]?, algorithms: [SigningAlgorithm])]
        public var fetchedAt: Int64?
        public var freshUntil: Int64?
        public var lastError: String?
        public var lastErrorAt: Int64?
        /// By `JWKSMetricSlot`.
        public var counters: [UInt64]

        public init(
            uri: [UInt8], keys: [(kid: [UInt8]?, algorithms: [SigningAlgorithm])], fetchedAt: Int64?,
            freshUntil: Int64?, lastError: String?, lastErrorAt: Int64?, counters: [UInt64]
        ) {
            self.uri = uri
            self.keys = keys
            self.fetchedAt = fetchedAt
            self.freshUntil = freshUntil
            self.lastError = lastError
            self.lastErrorAt = lastErrorAt
            self.counters = counters
        }
    }
}

extension Configuration {
    /// The figures now: the counters (read once each) and the fetched sets, in URI order.
    public func statusSnapshot(version: String, abiVersion: Int) -> StatusSnapshot {
        StatusSnapshot(
            version: version, abiVersion: abiVersion, counters: (0..<metrics.count).map { metrics[$0] },
            jwks: jwksSets.map { set in
                StatusSnapshot.JWKSStatus(
                    uri: set.uri,
                    keys: set.currentKeys.map { key in
                        (key.keyID, SigningAlgorithm.allCases.filter { $0 != .none && key.canVerify($0) })
                    },
                    fetchedAt: set.fetchTime, freshUntil: set.freshTime, lastError: set.lastError,
                    lastErrorAt: set.lastErrorTime, counters: (0..<set.metrics.count).map { set.metrics[$0] })
            })
    }

    /// The fetched JWK Sets, ordered by URI: the order the module hands over their counters in.
    public var jwksSets: [RemoteKeySet] {
        remoteKeySets.values.map(\.set).sorted { $0.uri.lexicographicallyPrecedes($1.uri) }
    }
}

extension StatusSnapshot {
    private func count(_ slot: Int) -> UInt64 { slot < counters.count ? counters[slot] : 0 }
    private static let refusals = Refusal.allCases
    private static let algorithms = SigningAlgorithm.allCases

    // MARK: - JSON

    /// One JSON object, for people and scripts.
    public var json: [UInt8] {
        var w = JSONWriter()
        func key(_ name: String) { w.appendString(Array(name.utf8)); w.append(":") }
        func number(_ value: UInt64) { w.append(contentsOf: Array(String(value).utf8)) }
        func optional(_ value: Int64?) { if let value { w.append(value) } else { w.append("null") } }
        func object(_ members: [(String, UInt64)]) {
            w.append("{")
            for (i, (name, value)) in members.enumerated() {
                if i > 0 { w.append(",") }
                key(name)
                number(value)
            }
            w.append("}")
        }
        w.append("{")
        key("version")
        w.appendString(Array(version.utf8))
        w.append(",")
        key("abi_version")
        w.append(Int64(abiVersion))
        w.append(",")
        key("verify")
        w.append("{")
        key("ok")
        number(count(0))
        w.append(",")
        key("refused")
        object(Self.refusals.map { ($0.word.description, count(Int($0.rawValue))) })
        w.append(",")
        key("cache")
        object([
            ("hits", count(MetricSlot.verifyCacheHits)), ("misses", count(MetricSlot.verifyCacheMisses)),
            ("evictions", count(MetricSlot.verifyCacheEvictions)),
        ])
        w.append("},")
        key("mint")
        w.append("{")
        key("tokens")
        object(Self.algorithms.map { ($0.joseName, count(MetricSlot.mint($0))) })
        w.append(",")
        key("cache")
        object([("hits", count(MetricSlot.mintCacheHits)), ("misses", count(MetricSlot.mintCacheMisses))])
        w.append(",")
        key("failures")
        object(MintFailure.allCases.map { ($0.word, count(MetricSlot.mintFailure($0))) })
        w.append("},")
        key("jwks")
        w.append("[")
        for (i, set) in jwks.enumerated() {
            if i > 0 { w.append(",") }
            w.append("{")
            key("uri")
            w.appendString(set.uri)
            w.append(",")
            key("keys")
            w.append("[")
            for (j, k) in set.keys.enumerated() {
                if j > 0 { w.append(",") }
                w.append("{")
                key("kid")
                if let kid = k.kid { w.appendString(kid) } else { w.append("null") }
                w.append(",")
                key("algorithms")
                w.append("[")
                for (n, algorithm) in k.algorithms.enumerated() {
                    if n > 0 { w.append(",") }
                    w.appendString(Array(algorithm.joseName.utf8))
                }
                w.append("]}")
            }
            w.append("],")
            key("fetched_at")
            optional(set.fetchedAt)
            w.append(",")
            key("fresh_until")
            optional(set.freshUntil)
            w.append(",")
            key("fetches")
            object([("ok", set.count(JWKSMetricSlot.fetchesOK)), ("error", set.count(JWKSMetricSlot.fetchesFailed))])
            w.append(",")
            key("refetches_unknown_kid")
            number(set.count(JWKSMetricSlot.refetches))
            w.append(",")
            key("last_error")
            if let error = set.lastError { w.appendString(Array(error.utf8)) } else { w.append("null") }
            w.append(",")
            key("last_error_at")
            optional(set.lastErrorAt)
            w.append("}")
        }
        w.append("]}\n")
        return w.bytes
    }

    // MARK: - Prometheus

    /// The Prometheus text exposition format: one `# HELP` and `# TYPE` per family, `_total` on
    /// counters, `_seconds` on times (Unix time), labels for reasons, algorithms and URIs.
    public var prometheus: [UInt8] {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            guard !samples.isEmpty else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                text += sample.labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(sample.labels)} \(sample.value)\n"
            }
        }
        func counter(_ name: String, _ help: String, _ slot: Int) {
            family(name, "counter", help, [("", String(count(slot)))])
        }
        family(
            "backend_jwt_info", "gauge", "The module's version and its core's ABI version.",
            [(Self.labels(["version": version, "abi_version": String(abiVersion)]), "1")])
        counter("backend_jwt_verify_ok_total", "Requests whose caller's token verified.", 0)
        family(
            "backend_jwt_verify_refused_total", "counter", "Requests refused, by reason.",
            Self.refusals.map { (Self.labels(["reason": $0.word.description]), String(count(Int($0.rawValue)))) })
        counter(
            "backend_jwt_verify_cache_hits_total", "Tokens found in the verified-token cache.",
            MetricSlot.verifyCacheHits)
        counter(
            "backend_jwt_verify_cache_misses_total", "Tokens looked up and not found in the verified-token cache.",
            MetricSlot.verifyCacheMisses)
        counter(
            "backend_jwt_verify_cache_evictions_total", "Verified tokens that pushed another out of the cache.",
            MetricSlot.verifyCacheEvictions)
        family(
            "backend_jwt_mint_total", "counter", "Tokens minted for upstreams (cached ones included), by algorithm.",
            Self.algorithms.map { (Self.labels(["alg": $0.joseName]), String(count(MetricSlot.mint($0)))) })
        counter("backend_jwt_mint_cache_hits_total", "Minted tokens served from the token cache.", MetricSlot.mintCacheHits)
        counter(
            "backend_jwt_mint_cache_misses_total", "Minted tokens the token cache did not have.",
            MetricSlot.mintCacheMisses)
        family(
            "backend_jwt_mint_failures_total", "counter", "Tokens that could not be minted, by reason.",
            MintFailure.allCases.map { (Self.labels(["reason": $0.word]), String(count(MetricSlot.mintFailure($0)))) })
        family(
            "backend_jwt_jwks_fetches_total", "counter", "Fetches of a JWK Set, by result.",
            jwks.flatMap { set in
                [
                    (Self.labels(["uri": set.text, "result": "ok"]), String(set.count(JWKSMetricSlot.fetchesOK))),
                    (Self.labels(["uri": set.text, "result": "error"]), String(set.count(JWKSMetricSlot.fetchesFailed))),
                ]
            })
        family(
            "backend_jwt_jwks_refetches_total", "counter", "Refetches of a JWK Set for a token with an unknown kid.",
            jwks.map { (Self.labels(["uri": $0.text]), String($0.count(JWKSMetricSlot.refetches))) })
        family(
            "backend_jwt_jwks_keys", "gauge", "Usable keys in the JWK Set this worker holds.",
            jwks.map { (Self.labels(["uri": $0.text]), String($0.keys.count)) })
        family(
            "backend_jwt_jwks_key_info", "gauge", "Each key of the JWK Set this worker holds and an algorithm it verifies.",
            jwks.flatMap { set in
                set.keys.flatMap { key in
                    key.algorithms.map { algorithm in
                        (
                            Self.labels([
                                "uri": set.text, "kid": key.kid.map { String(decoding: $0, as: UTF8.self) } ?? "",
                                "alg": algorithm.joseName,
                            ]), "1"
                        )
                    }
                }
            })
        func time(_ name: String, _ help: String, _ value: (JWKSStatus) -> Int64?) {
            family(
                name, "gauge", help,
                jwks.compactMap { set in value(set).map { (Self.labels(["uri": set.text]), String($0)) } })
        }
        time("backend_jwt_jwks_fetched_at_seconds", "When this worker's JWK Set was fetched (Unix time).", \.fetchedAt)
        time("backend_jwt_jwks_fresh_until_seconds", "Until when this worker's JWK Set is fresh (Unix time).", \.freshUntil)
        time(
            "backend_jwt_jwks_last_error_at_seconds", "When this worker's last fetch of the JWK Set failed (Unix time).",
            \.lastErrorAt)
        return Array(text.utf8)
    }

    /// `name="value",...` in the order given by the names, values escaped (backslash, quote,
    /// line feed) as the exposition format asks.
    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        pairs.map { name, value in
            var escaped = ""
            for c in value.unicodeScalars {
                switch c {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.unicodeScalars.append(c)
                }
            }
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
    }
}

extension StatusSnapshot.JWKSStatus {
    fileprivate func count(_ slot: Int) -> UInt64 { slot < counters.count ? counters[slot] : 0 }
    /// The URI as text (invalid UTF-8 as U+FFFD), for labels.
    fileprivate var text: String { String(decoding: uri, as: UTF8.self) }
}
