/// The custom claims as JSON members, built once per signer: claims with dotted names share
/// their parent objects (`realm_access.roles` and `realm_access.groups` go into one
/// `realm_access`), in the order their first member was declared.
struct ClaimTree {
    indirect enum Node {
        /// A claim: its index in the claim list and its `"name":` text.
        case leaf(index: Int, member: [UInt8])
        /// An object holding nested claims: its `"name":` text and members.
        case object(member: [UInt8], children: [Node])
    }

    let roots: [Node]
    /// The bytes of every `"name":` and `{}`, for the token bound.
    let constantBytes: Int

    init(_ claims: [ClaimList.Claim]) {
        var constant = 0
        func member(_ name: String) -> [UInt8] {
            var json = JSONWriter()
            json.appendString(Array(name.utf8))
            json.append(":")
            constant += json.bytes.count + 3  // a comma, and braces for objects
            return json.bytes
        }
        func build(_ items: [(index: Int, path: ArraySlice<String>)]) -> [Node] {
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
            return order.map { head, key in
                let group = groups[key]!
                if group[0].path.count == 1 { return .leaf(index: group[0].index, member: member(head)) }
                return .object(member: member(head), children: build(group.map { ($0.index, $0.path.dropFirst()) }))
            }
        }
        roots = build(claims.enumerated().map { ($0.offset, $0.element.path[...]) })
        constantBytes = constant
    }

    /// Appends the members for `values` (one per claim, in claim order) to `json`; a comma
    /// goes before each member when `needComma`. Objects whose members are all left out are
    /// left out too.
    func append(
        _ claims: [ClaimList.Claim], values: RequestValues, from first: Int, to json: inout JSONWriter,
        needComma: inout Bool
    ) throws(BackendJWTError) {
        try append(roots, claims, values, first, &json, &needComma)
    }

    private func append(
        _ nodes: [Node], _ claims: [ClaimList.Claim], _ values: RequestValues, _ first: Int,
        _ json: inout JSONWriter, _ needComma: inout Bool
    ) throws(BackendJWTError) {
        for node in nodes {
            switch node {
            case .leaf(let index, let member):
                let claim = claims[index]
                let value = values[first + index]
                if let value, !value.isEmpty {
                    open(member, &json, &needComma)
                    try claim.type.appendJSON(value, claim: claim.name, separator: claim.separator, to: &json)
                    continue
                }
                switch claim.ifEmpty {
                case .omit: continue
                case .fail: throw BackendJWTError(.value, "claim \(quoted(claim.name)) is empty (if_empty=fail)")
                case .null:
                    open(member, &json, &needComma)
                    json.append("null")
                case .empty:
                    open(member, &json, &needComma)
                    json.bytes.append(contentsOf: claim.type == .list ? Array("[]".utf8) : Array("\"\"".utf8))
                }
            case .object(let member, let children):
                let mark = json.bytes.count
                let hadComma = needComma
                open(member, &json, &needComma)
                json.append("{")
                var inner = false
                try append(children, claims, values, first, &json, &inner)
                if inner {
                    json.append("}")
                } else {
                    json.bytes.removeSubrange(mark...)
                    needComma = hadComma
                }
            }
        }
    }

    private func open(_ member: [UInt8], _ json: inout JSONWriter, _ needComma: inout Bool) {
        if needComma { json.append(",") }
        json.bytes.append(contentsOf: member)
        needComma = true
    }
}
