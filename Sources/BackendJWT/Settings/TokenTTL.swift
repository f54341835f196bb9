/// Parses `backend_jwt_token_ttl`: whole seconds (`3600`) or nginx time syntax (`1h`, `90s`,
/// `1h 30m`, `1d`), units in decreasing order as nginx's own `ngx_parse_time` wants them.
public enum TokenTTL {
    /// APK's tokenTTL is a uint32; a longer lifetime is a configuration mistake.
    public static let maximum: Int64 = 4_294_967_295

    private static let units: [(unit: UInt8, seconds: Int64)] = [
        (UInt8(ascii: "y"), 365 * 86400), (UInt8(ascii: "M"), 30 * 86400), (UInt8(ascii: "w"), 7 * 86400),
        (UInt8(ascii: "d"), 86400), (UInt8(ascii: "h"), 3600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
    ]

    public static func parse<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> Int64
    where Bytes.Element == UInt8 {
        let total = try seconds(Array(text), what: "token TTL")
        guard total > 0 else {
            throw BackendJWTError(.config, "token TTL \(quoted(Array(text))) must be at least one second")
        }
        return total
    }

    /// Parses `backend_jwt_not_before`: `on` (or 0) is no leeway, `off` is nil, else the leeway
    /// in seconds or nginx time.
    public static func parseNotBefore<Bytes: Collection>(_ text: Bytes) throws(BackendJWTError) -> Int64?
    where Bytes.Element == UInt8 {
        if text.equalsIgnoringCase("off") { return nil }
        if text.equalsIgnoringCase("on") { return 0 }
        return try seconds(Array(text), what: "not-before leeway")
    }

    /// Whole seconds, 0 allowed; `what` names the value in messages.
    static func seconds(_ bytes: [UInt8], what: String) throws(BackendJWTError) -> Int64 {
        let invalid = BackendJWTError(
            .config, "invalid \(what) \(quoted(bytes)); use seconds (3600) or nginx time (1h, 90s, 1h 30m)")
        var total: Int64 = 0
        var i = 0
        var nextUnit = 0  // index into `units`: units must come in decreasing order
        var sawNumber = false
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: " ") {
                i += 1
                continue
            }
            var number: Int64 = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                number = number * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
                guard number <= maximum else { throw tooLong(bytes, what) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw invalid }
            sawNumber = true
            var multiplier: Int64 = 1
            if i < bytes.count, bytes[i] != UInt8(ascii: " ") {
                guard let index = units[nextUnit...].firstIndex(where: { $0.unit == bytes[i] }) else { throw invalid }
                multiplier = units[index].seconds
                nextUnit = index + 1
                i += 1
                // "ms" is nginx syntax too, but a TTL is whole seconds.
                if i < bytes.count, bytes[i] == UInt8(ascii: "s"), multiplier == 60 { throw invalid }
            } else {
                guard nextUnit < units.count else { throw invalid }
                nextUnit = units.count  // bare seconds end the value
            }
            total += number * multiplier
            guard total <= maximum else { throw tooLong(bytes, what) }
        }
        guard sawNumber else { throw invalid }
        return total
    }

    private static func tooLong(_ bytes: [UInt8], _ what: String) -> BackendJWTError {
        BackendJWTError(.config, "\(what) \(quoted(bytes)) is longer than \(maximum) seconds")
    }
}
