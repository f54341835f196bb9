/// `backend_jwt_copy_claims spec ... | off`: which claims of the caller's verified token go into
/// the minted one, with their JSON types. A spec is `name` (one top-level claim, dots and all),
/// `path=name` (a `ClaimPath`: dotted segments, quoted ones for names with dots; the target is one
/// top-level member, dots and all), or `*` (every other top-level claim) with `except=a,b`.
public struct ClaimCopies: Equatable, Sendable {
    /// One explicit copy.
    public struct Copy: Equatable, Sendable {
        /// Where the value is in the caller's token.
        public let path: ClaimPath
        /// The top-level member it becomes.
        public let target: [UInt8]
        /// The spec as written, for messages.
        public let spec: [UInt8]
        /// `,"target":` as JSON, written before the value.
        let member: [UInt8]
    }

    /// The explicit copies, in spec order.
    public let copies: [Copy]
    /// Whether `*` was given.
    public let all: Bool
    /// The `except=` names, skipped by `*`.
    public let except: [[UInt8]]

    /// Parses the directive's arguments; nil for a single `off`.
    public static func parse(_ args: [[UInt8]]) throws(BackendJWTError) -> ClaimCopies? {
        if args.count == 1, args[0].equalsIgnoringCase("off") { return nil }
        guard !args.isEmpty else { throw BackendJWTError(.config, "no claim to copy; give name, path=name or *") }
        var copies: [Copy] = []
        var all = false
        var except: [[UInt8]]?
        for arg in args {
            guard String(validating: arg, as: UTF8.self) != nil else {
                throw BackendJWTError(.config, "spec \(quoted(arg)) is not valid UTF-8")
            }
            if arg.equalsIgnoringCase("off") {
                throw BackendJWTError(.config, "\"off\" must stand alone (a claim named off is copied with off=off)")
            }
            if arg == Array("*".utf8) {
                guard !all else { throw BackendJWTError(.config, "\"*\" is given twice") }
                all = true
            } else if arg.count >= 7, arg.prefix(7).equalsIgnoringCase("except=") {
                guard except == nil else { throw BackendJWTError(.config, "except= is given twice") }
                except = try arg.dropFirst(7).split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
                    .map { (name) throws(BackendJWTError) in try checked(Array(name), in: arg) }
            } else {
                // `path=name`: split at the last `=`, as a target is a plain name more often
                // than a source path (which may be a URI with a query).
                let equals = arg.lastIndex(of: UInt8(ascii: "="))
                let source = try checked(equals.map { Array(arg[..<$0]) } ?? arg, in: arg)
                let path: ClaimPath
                if equals == nil {
                    path = ClaimPath(segments: [source], text: source)
                } else {
                    do {
                        path = try ClaimPath.parse(source)
                    } catch {
                        throw BackendJWTError(.config, "spec \(quoted(arg)): \(error.message)")
                    }
                }
                let target = try checked(equals.map { Array(arg[($0 + 1)...]) } ?? arg, in: arg)
                if let why = ClaimList.whyReserved(String(decoding: target, as: UTF8.self)) {
                    throw BackendJWTError(
                        .config, "spec \(quoted(arg)): \(quoted(target)) is registered: \(why)\(hint(target))")
                }
                if let other = copies.first(where: { goFolded($0.target) == goFolded(target) }) {
                    throw BackendJWTError(
                        .config, "specs \(quoted(other.spec)) and \(quoted(arg)) both copy to \(quoted(target))")
                }
                var member = JSONWriter()
                member.append(",")
                member.appendString(target)
                member.append(":")
                copies.append(Copy(path: path, target: target, spec: arg, member: member.bytes))
            }
        }
        if except != nil && !all { throw BackendJWTError(.config, "except= is only for \"*\"") }
        return ClaimCopies(copies: copies, all: all, except: except ?? [])
    }

    /// A name of a spec: not empty, printable UTF-8 (checked for the whole spec), not too long.
    private static func checked(_ name: [UInt8], in spec: [UInt8]) throws(BackendJWTError) -> [UInt8] {
        guard !name.isEmpty else { throw BackendJWTError(.config, "spec \(quoted(spec)) has an empty name") }
        guard name.count <= ClaimList.maximumNameLength else {
            throw BackendJWTError(
                .config, "spec \(quoted(spec)) has a name longer than \(ClaimList.maximumNameLength) bytes")
        }
        guard !name.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw BackendJWTError(.config, "spec \(quoted(spec)) has a control character")
        }
        return name
    }

    /// How to pass the caller's `iss`, `sub` or `aud` on instead: through the registered directive.
    private static func hint(_ target: [UInt8]) -> String {
        let directives = ["iss": "backend_jwt_issuer", "sub": "backend_jwt_subject"]
        let name = String(decoding: goFolded(target), as: UTF8.self)
        if name == "exp" { return " (backend_jwt_caller_exp cap keeps it within the caller's)" }
        // the caller's audience is this gateway; the minted token's is the backend
        if name == "aud" { return " (the backend's audience: the caller's names this gateway)" }
        guard let directive = directives[name] else { return "" }
        return " (to pass the caller's on: \(directive) $backend_jwt_in_claim_\(name))"
    }

    /// Refuses an explicit target that is the top-level member of a declared claim
    /// (`backend_jwt_claim`), also as Go folds names: the token would have that member twice.
    public func checkConflicts(with claims: [ClaimList.Claim]) throws(BackendJWTError) {
        for copy in copies {
            let target = Self.goFolded(copy.target)
            if let claim = claims.first(where: { $0.path.first.map { Self.goFolded(Array($0.utf8)) == target } ?? false }) {
                throw BackendJWTError(
                    .config,
                    "backend_jwt_copy_claims \(quoted(copy.spec)) and backend_jwt_claim \(quoted(claim.name)) "
                        + "both set \(quoted(copy.target))")
            }
        }
    }

    /// The top-level names `*` leaves alone, as `goFolded` writes them: the registered claims,
    /// `except=`, the declared claims and the explicit targets, each in any letter case.
    func skippedByAll(declared claims: [ClaimList.Claim]) -> Set<[UInt8]> {
        var names = Set(ClaimList.reserved.map { Array($0.name.utf8) })
        names.formUnion(except)
        names.formUnion(claims.compactMap { $0.path.first.map { Array($0.utf8) } })
        names.formUnion(copies.map(\.target))
        return Set(names.map(Self.goFolded))
    }

    /// Appends `,"name":value` for each claim copied from `caller`: explicit copies first, then
    /// for `*` the caller's other members in its order but those `skipped` (from `skippedByAll`)
    /// in any letter case (`SUB`, `Exp`, `ſub`, or `Tenant` beside a declared `tenant`: Go's
    /// encoding/json matches names so, last wins) and names with a control character
    /// (`sub\u0000`). A number beyond a double's range fails, as it does for `type=json`:
    /// parsers disagree on it.
    func append(from caller: VerifiedToken, skipped: Set<[UInt8]>, to json: inout JSONWriter) throws(BackendJWTError) {
        for copy in copies {
            guard let value = copy.path.value(in: caller.payload) else { continue }
            try Self.checkNumbers(value, copy.target)
            json.append(contentsOf: copy.member)
            value.write(to: &json)
        }
        guard all, case .object(let members) = caller.payload else { return }
        for member in members where !Self.isSkipped(member.name, skipped) {
            try Self.checkNumbers(member.value, member.name)
            json.append(",")
            json.appendString(member.name)
            json.append(":")
            member.value.write(to: &json)
        }
    }

    /// A name `*` does not copy: one of `skipped` in any letter case, or one with a control
    /// character.
    static func isSkipped(_ name: [UInt8], _ skipped: Set<[UInt8]>) -> Bool {
        name.contains(where: { $0 < 0x20 || $0 == 0x7F }) || skipped.contains(goFolded(name))
    }

    /// The name as Go's encoding/json compares it, lowercased: ASCII letters in any case, and the
    /// four letters outside ASCII that its ToUpper(ToLower(rune)) takes into it: U+0130 and
    /// U+0131 (`i`), U+017F (`s`), U+212A (`k`). `ſub` is `sub` to a Go backend.
    static func goFolded(_ name: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(name.count)
        var i = 0
        while i < name.count {
            let c = name[i]
            if c == 0xC4, i + 1 < name.count, name[i + 1] == 0xB0 || name[i + 1] == 0xB1 {
                out.append(UInt8(ascii: "i"))
                i += 2
            } else if c == 0xC5, i + 1 < name.count, name[i + 1] == 0xBF {
                out.append(UInt8(ascii: "s"))
                i += 2
            } else if c == 0xE2, i + 2 < name.count, name[i + 1] == 0x84, name[i + 2] == 0xAA {
                out.append(UInt8(ascii: "k"))
                i += 3
            } else {
                out.append(c &- 0x41 < 26 ? c | 0x20 : c)
                i += 1
            }
        }
        return out
    }

    /// Refuses a value holding a number beyond a double's range, anywhere in it.
    private static func checkNumbers(_ value: JSONValue, _ name: [UInt8]) throws(BackendJWTError) {
        switch value {
        case .number(let text):
            guard text.withUnsafeBufferPointer({ JSONParser.isFiniteNumber($0) }) else {
                throw BackendJWTError(
                    .value, "the caller's claim \(quoted(name)) holds a number beyond a double's range: not copied")
            }
        case .array(let elements): for element in elements { try checkNumbers(element, name) }
        case .object(let members): for member in members { try checkNumbers(member.value, name) }
        default: break
        }
    }

    /// An upper bound of what `append` writes for `caller`.
    func bound(for caller: VerifiedToken) -> Int {
        var total = 0
        for copy in copies {
            guard let value = copy.path.value(in: caller.payload) else { continue }
            total += copy.member.count + value.compactLength
        }
        // Each member `,"name":value` is no longer than its share of `{...}` (n commas against
        // n - 1 commas and two braces).
        if all { total += caller.payload.compactLength }
        return total
    }
}
