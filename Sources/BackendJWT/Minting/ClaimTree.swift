/// The custom claims as JSON members, built once per signer: claims with dotted names share
/// their parent objects (`realm_access.roles` and `realm_access.groups` go into one
/// `realm_access`), in the order their first member was declared.
struct ClaimTree {
    /// What writing the members does, in order: a claim, or an object's opening (its members
    /// follow, up to its `close`). Trivial values read from one buffer: no reference counting
    /// per claim.
    struct Step {
        enum Kind { case claim, open, close }
        let kind: Kind
        /// The claim's index in the claim list (`claim`).
        var index = 0
        /// Where `,"name":` is in `names` (`claim` and `open`).
        var name = 0..<0
        var type = ClaimType.string
        var ifEmpty = ClaimList.IfEmpty.omit
    }

    private let steps: [Step]
    /// Every `,"name":` text, one after the other.
    private let names: [UInt8]
    /// The bytes of every `"name":` and `{}`, for the token bound.
    let constantBytes: Int

    init(_ claims: [ClaimList.Claim]) {
        var steps: [Step] = []
        var names: [UInt8] = []
        var constant = 0
        func member(_ name: String) -> Range<Int> {
            let json = JSONWriter.text { json in
                json.append(",")
                json.appendString(Array(name.utf8))
                json.append(":")
            }
            constant += json.count + 2  // braces for objects (the comma is in `json`)
            names += json
            return (names.count - json.count)..<names.count
        }
        func build(_ items: [(index: Int, path: ArraySlice<String>)]) {
            // Grouped by the bytes of the name, as JSON tells members apart: a String key would
            // merge "\u{E9}" and "e\u{301}" (canonically equivalent) into one object.
            var order: [(head: String, key: [UInt8])] = []
            var groups: [[UInt8]: [(index: Int, path: ArraySlice<String>)]] = [:]
            for item in items {
                let head = item.path.first!
                let key = Array(head.utf8)
                if groups[key] == nil { order.append((head, key)) }
                groups[key, default: []].append(item)
            }
            // ClaimList refuses a path that is a prefix of another, so a one-segment path is
            // alone in its group.
            for (head, key) in order {
                let group = groups[key]!
                if group[0].path.count == 1 {
                    let claim = claims[group[0].index]
                    steps.append(
                        Step(kind: .claim, index: group[0].index, name: member(head), type: claim.type, ifEmpty: claim.ifEmpty))
                } else {
                    steps.append(Step(kind: .open, name: member(head)))
                    build(group.map { ($0.index, $0.path.dropFirst()) })
                    steps.append(Step(kind: .close))
                }
            }
        }
        build(claims.enumerated().map { ($0.offset, $0.element.path[...]) })
        self.steps = steps
        self.names = names
        constantBytes = constant
    }

    /// Appends the members for `values` (one per claim, in claim order) to `json`; a comma
    /// goes before each member when `needComma`. Objects whose members are all left out are
    /// left out too.
    func append(
        _ claims: [ClaimList.Claim], values: RequestValues, from first: Int, to json: inout JSONWriter,
        needComma: inout Bool
    ) throws(BackendJWTError) {
        try steps.withUnsafeBufferPointer { (steps) throws(BackendJWTError) in
            try names.withUnsafeBufferPointer { (names) throws(BackendJWTError) in
                var at = 0
                try append(steps, &at, names, claims, values, first, &json, &needComma)
            }
        }
    }

    /// Writes the steps from `at` to the end of the object they are in (past its `close`).
    private func append(
        _ steps: UnsafeBufferPointer<Step>, _ at: inout Int, _ names: UnsafeBufferPointer<UInt8>,
        _ claims: [ClaimList.Claim], _ values: RequestValues, _ first: Int, _ json: inout JSONWriter,
        _ needComma: inout Bool
    ) throws(BackendJWTError) {
        while at < steps.count {
            let step = steps[at]
            at += 1
            switch step.kind {
            case .close:
                return
            case .claim:
                if let value = values[first + step.index], !value.isEmpty {
                    open(step, names, &json, &needComma)
                    if step.type == .string {
                        json.appendString(value)
                    } else {
                        let claim = claims[step.index]
                        try claim.type.appendJSON(value, claim: claim.name, separator: claim.separator, to: &json)
                    }
                    continue
                }
                switch step.ifEmpty {
                case .omit: continue
                case .fail:
                    throw BackendJWTError(.value, "claim \(quoted(claims[step.index].name)) is empty (if_empty=fail)")
                case .null:
                    open(step, names, &json, &needComma)
                    json.append("null")
                case .empty:
                    open(step, names, &json, &needComma)
                    if step.type == .list { json.append("[]") } else { json.append("\"\"") }
                }
            case .open:
                let mark = json.count
                let hadComma = needComma
                open(step, names, &json, &needComma)
                json.append("{")
                var inner = false
                try append(steps, &at, names, claims, values, first, &json, &inner)
                if inner {
                    json.append("}")
                } else {
                    json.truncate(to: mark)
                    needComma = hadComma
                }
            }
        }
    }

    /// Writes the step's `"name":`, after a comma when `needComma`.
    @inline(__always)
    private func open(_ step: Step, _ names: UnsafeBufferPointer<UInt8>, _ json: inout JSONWriter, _ needComma: inout Bool) {
        let from = needComma ? step.name.lowerBound : step.name.lowerBound + 1
        json.append(contentsOf: UnsafeBufferPointer(rebasing: names[from..<step.name.upperBound]))
        needComma = true
    }
}
