import CordonShared

/// Decides what an nftables ruleset does to a *new* connection to one port.
///
/// Model: for each IP family the base chains of type `filter` on the hook are run in priority
/// order. A drop or reject is final; an accept ends only its own base chain (the next one still
/// runs). Within a chain, rules run in order and `jump`/`goto` follow regular chains.
///
/// A rule's matches are evaluated against the packet (family, transport, destination port,
/// conntrack state `new`): `tcp dport`, `udp dport`, `th dport`, `meta l4proto`, `ip protocol`,
/// `ip6 nexthdr`, `meta nfproto`, `ct state`, concatenations of those, against single values,
/// anonymous sets, ranges and named sets. So `ct state established,related accept` never
/// matches a new connection, and `tcp dport 22 accept` never matches port 445. Any other
/// condition (interfaces, addresses, rate limits, iptables `xt` matches) makes the rule
/// *conditional*: a conditional accept before a drop, or a conditional drop before an accept,
/// gives `partial`. Rules that match only the loopback interface (`iifname "lo" accept`) are
/// ignored: worm traffic does not arrive on `lo`.
struct NftVerdictEvaluator {
    enum Family: String {
        case ipv4, ipv6

        var tableFamilies: Set<String> { self == .ipv4 ? ["ip", "inet"] : ["ip6", "inet"] }
    }

    struct Packet {
        var family: Family
        /// `tcp` or `udp`.
        var transport: String
        var port: Int

        var protocolNumber: Int { transport == "tcp" ? 6 : 17 }
    }

    let ruleset: NftRuleset

    /// The verdict for `transport`/`port` on `hook`, over IPv4 and IPv6.
    func verdict(transport: String, port: Int, hook: String) -> PortFilterVerdict {
        let v4 = familyVerdict(Packet(family: .ipv4, transport: transport, port: port), hook: hook)
        let v6 = familyVerdict(Packet(family: .ipv6, transport: transport, port: port), hook: hook)
        if v4.state == v6.state {
            if v4.evidence == v6.evidence { return v4 }
            return PortFilterVerdict(state: v4.state, evidence: v4.evidence.map { "IPv4: " + $0 } + v6.evidence.map { "IPv6: " + $0 })
        }
        return PortFilterVerdict(state: .partial, evidence: v4.evidence.map { "IPv4: " + $0 } + v6.evidence.map { "IPv6: " + $0 })
    }

    // MARK: per family

    private func familyVerdict(_ packet: Packet, hook: String) -> PortFilterVerdict {
        let chains = ruleset.chains.enumerated()
            .filter { packet.family.tableFamilies.contains($0.element.family) && $0.element.hook == hook && ($0.element.type ?? "filter") == "filter" }
            .sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
            .map(\.element)
        guard !chains.isEmpty else {
            return PortFilterVerdict(state: .notBlocked, evidence: ["no filter chain on hook \(hook)"])
        }
        var partial: PortFilterVerdict?
        var passes: [String] = []
        for chain in chains {
            let outcome = baseChainVerdict(chain, packet: packet)
            switch outcome.state {
            case .blocked: return outcome
            case .partial: if partial == nil { partial = outcome }
            case .notBlocked: passes.append(contentsOf: outcome.evidence)
            }
        }
        return partial ?? PortFilterVerdict(state: .notBlocked, evidence: passes)
    }

    private struct Walk {
        var conditionalAccepts: [String] = []
        var conditionalDrops: [String] = []
        var depth = 0
    }

    private enum Terminal {
        case accept(String)
        case drop(String)
    }

    private func baseChainVerdict(_ chain: NftRuleset.Chain, packet: Packet) -> PortFilterVerdict {
        var walk = Walk()
        let terminal = run(chain, packet: packet, conditional: false, walk: &walk) ?? {
            let name = "\(chain.family) \(chain.table) \(chain.name) policy \(chain.policy ?? "accept")"
            return chain.policy == "drop" ? .drop(name) : .accept(name)
        }()
        switch terminal {
        case .drop(let evidence):
            if walk.conditionalAccepts.isEmpty { return PortFilterVerdict(state: .blocked, evidence: [evidence]) }
            return PortFilterVerdict(state: .partial, evidence: walk.conditionalAccepts + [evidence])
        case .accept(let evidence):
            if walk.conditionalDrops.isEmpty { return PortFilterVerdict(state: .notBlocked, evidence: [evidence]) }
            return PortFilterVerdict(state: .partial, evidence: walk.conditionalDrops + [evidence])
        }
    }

    /// Runs a chain; `nil` means it fell through (or returned).
    private func run(_ chain: NftRuleset.Chain, packet: Packet, conditional: Bool, walk: inout Walk) -> Terminal? {
        guard walk.depth < 16 else { return nil }
        for rule in chain.rules {
            let name = "\(chain.family) \(chain.table) \(chain.name) handle \(rule.handle.map(String.init) ?? "?")"
            let outcome = evaluate(rule, chain: chain, packet: packet)
            guard case .verdict(let verdict, let ruleConditional) = outcome else { continue }
            let isConditional = conditional || ruleConditional
            // In a chain entered conditionally, an unconditional verdict still ends the chain
            // for every packet that got here: record it as conditional and leave the chain.
            let leavesChain = conditional && !ruleConditional
            switch verdict {
            case .accept:
                guard isConditional else { return .accept(name + " (accept)") }
                walk.conditionalAccepts.append(name + " (accept, conditional)")
                if leavesChain { return nil }
            case .drop(let word):
                guard isConditional else { return .drop(name + " (\(word))") }
                walk.conditionalDrops.append(name + " (\(word), conditional)")
                if leavesChain { return nil }
            case .unknown:
                walk.conditionalAccepts.append(name + " (verdict unknown)")
                walk.conditionalDrops.append(name + " (verdict unknown)")
            case .return:
                guard ruleConditional else { return nil }
                walk.conditionalAccepts.append(name + " (return, conditional)")
            case .jump(let target), .goto(let target):
                guard let next = ruleset.chains.first(where: { $0.family == chain.family && $0.table == chain.table && $0.name == target }) else {
                    walk.conditionalAccepts.append(name + " (jump to unknown chain \(target))")
                    continue
                }
                walk.depth += 1
                let result = run(next, packet: packet, conditional: isConditional, walk: &walk)
                walk.depth -= 1
                if let result { return result }
                if case .goto = verdict, !ruleConditional { return nil }
            }
        }
        return nil
    }

    // MARK: rules

    private enum Verdict {
        case accept
        case drop(String)
        case jump(String)
        case goto(String)
        case `return`
        case unknown
    }

    private enum RuleOutcome {
        case noMatch
        case noVerdict
        case verdict(Verdict, conditional: Bool)
    }

    private enum Match {
        case yes, no, unknown
    }

    private func evaluate(_ rule: NftRuleset.Rule, chain: NftRuleset.Chain, packet: Packet) -> RuleOutcome {
        var conditional = false
        for expression in rule.expressions {
            guard let (kind, body) = expression.soleEntry else {
                conditional = true
                continue
            }
            switch kind {
            case "match":
                if isLoopbackMatch(body) { return .noMatch }
                switch match(body, chain: chain, packet: packet) {
                case .yes: continue
                case .no: return .noMatch
                case .unknown: conditional = true
                }
            case "accept":
                return .verdict(.accept, conditional: conditional)
            case "drop":
                return .verdict(.drop("drop"), conditional: conditional)
            case "reject":
                return .verdict(.drop("reject"), conditional: conditional)
            case "return":
                return .verdict(.return, conditional: conditional)
            case "jump", "goto":
                guard let target = body["target"]?.string else { return .verdict(.unknown, conditional: true) }
                return .verdict(kind == "jump" ? .jump(target) : .goto(target), conditional: conditional)
            case "vmap":
                return vmap(body, chain: chain, packet: packet, conditional: conditional)
            case "counter", "log", "notrack", "mangle", "continue":
                continue
            default:
                // limit, quota, xt, set updates, ...: may or may not let the packet through.
                conditional = true
            }
        }
        return .noVerdict
    }

    /// `iifname "lo"`, `oif "lo"`, ... with `==`.
    private func isLoopbackMatch(_ body: NftJSON) -> Bool {
        guard body["op"]?.string ?? "==" == "==", let key = body["left"]?["meta"]?["key"]?.string,
              ["iifname", "oifname", "iif", "oif"].contains(key), body["right"]?.string == "lo"
        else { return false }
        return true
    }

    private func vmap(_ body: NftJSON, chain: NftRuleset.Chain, packet: Packet, conditional: Bool) -> RuleOutcome {
        guard let key = body["key"] else { return .verdict(.unknown, conditional: true) }
        let value = value(of: key, packet: packet)
        var entries: [NftJSON] = []
        if let elements = body["data"]?["set"]?.array {
            entries = elements
        } else if let reference = body["data"]?.string, reference.hasPrefix("@"),
                  let elements = ruleset.sets[NftRuleset.key(chain.family, chain.table, String(reference.dropFirst()))] {
            entries = elements
        } else {
            return .verdict(.unknown, conditional: true)
        }
        guard case .value(let packetValue) = value else {
            if case .absent = value { return .noMatch }
            return .verdict(.unknown, conditional: true)
        }
        for entry in entries {
            guard let pair = entry.array, pair.count == 2 else { continue }
            switch contains(packetValue, element: pair[0], chain: chain) {
            case .yes:
                guard let (word, target) = pair[1].soleEntry else { return .verdict(.unknown, conditional: true) }
                switch word {
                case "accept": return .verdict(.accept, conditional: conditional)
                case "drop": return .verdict(.drop("drop"), conditional: conditional)
                case "reject": return .verdict(.drop("reject"), conditional: conditional)
                case "return": return .verdict(.return, conditional: conditional)
                case "jump", "goto":
                    guard let name = target["target"]?.string else { return .verdict(.unknown, conditional: true) }
                    return .verdict(word == "jump" ? .jump(name) : .goto(name), conditional: conditional)
                default: return .verdict(.unknown, conditional: true)
                }
            case .no: continue
            case .unknown: return .verdict(.unknown, conditional: true)
            }
        }
        return .noMatch
    }

    // MARK: matching

    private indirect enum Value {
        case port(Int)
        case proto(Int)
        case family(String)
        case ctState
        case concat([Value])
    }

    private enum Evaluated {
        case value(Value)
        /// The header is not in this packet (`udp dport` of a TCP packet): no match.
        case absent
        /// Something we do not model.
        case unknown
    }

    private static let protocolNumbers: [String: Int] = [
        "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132, "dccp": 33,
        "udplite": 136, "esp": 50, "ah": 51, "gre": 47,
    ]

    private func value(of expression: NftJSON, packet: Packet) -> Evaluated {
        if let payload = expression["payload"] {
            guard let proto = payload["protocol"]?.string, let field = payload["field"]?.string else { return .unknown }
            switch proto {
            case "tcp", "udp":
                guard proto == packet.transport else { return .absent }
                return field == "dport" ? .value(.port(packet.port)) : .unknown
            case "th":
                return field == "dport" ? .value(.port(packet.port)) : .unknown
            case "ip":
                guard packet.family == .ipv4 else { return .absent }
                return field == "protocol" ? .value(.proto(packet.protocolNumber)) : .unknown
            case "ip6":
                guard packet.family == .ipv6 else { return .absent }
                return field == "nexthdr" ? .value(.proto(packet.protocolNumber)) : .unknown
            case "sctp", "dccp", "icmp", "icmpv6", "udplite", "esp", "ah", "comp":
                return .absent
            default:
                return .unknown
            }
        }
        if let key = expression["meta"]?["key"]?.string {
            switch key {
            case "l4proto": return .value(.proto(packet.protocolNumber))
            case "nfproto": return .value(.family(packet.family.rawValue))
            default: return .unknown
            }
        }
        if let key = expression["ct"]?["key"]?.string {
            return key == "state" ? .value(.ctState) : .unknown
        }
        if let parts = expression["concat"]?.array {
            var values: [Value] = []
            for part in parts {
                switch value(of: part, packet: packet) {
                case .value(let value): values.append(value)
                case .absent: return .absent
                case .unknown: return .unknown
                }
            }
            return .value(.concat(values))
        }
        return .unknown
    }

    private func match(_ body: NftJSON, chain: NftRuleset.Chain, packet: Packet) -> Match {
        guard let left = body["left"], let right = body["right"] else { return .unknown }
        let op = body["op"]?.string ?? "=="
        let evaluated = value(of: left, packet: packet)
        guard case .value(let packetValue) = evaluated else {
            if case .absent = evaluated { return .no }
            return .unknown
        }
        let result: Match
        switch op {
        case "==", "in":
            result = contains(packetValue, element: right, chain: chain)
        case "!=":
            switch contains(packetValue, element: right, chain: chain) {
            case .yes: result = .no
            case .no: result = .yes
            case .unknown: result = .unknown
            }
        case "<", ">", "<=", ">=", "lt", "gt", "le", "ge":
            guard case .port(let port) = packetValue, let bound = right.int else { return .unknown }
            switch op {
            case "<", "lt": result = port < bound ? .yes : .no
            case ">", "gt": result = port > bound ? .yes : .no
            case "<=", "le": result = port <= bound ? .yes : .no
            default: result = port >= bound ? .yes : .no
            }
        default:
            result = .unknown
        }
        return result
    }

    /// Whether the packet's value is (in) `element`: a value, a range, a set, a named set.
    private func contains(_ packetValue: Value, element: NftJSON, chain: NftRuleset.Chain) -> Match {
        if let reference = element.string, reference.hasPrefix("@") {
            guard let elements = ruleset.sets[NftRuleset.key(chain.family, chain.table, String(reference.dropFirst()))] else {
                return .unknown
            }
            return anyOf(packetValue, elements, chain: chain)
        }
        if let elements = element["set"]?.array {
            return anyOf(packetValue, elements, chain: chain)
        }
        if let wrapped = element["elem"]?["val"] {
            return contains(packetValue, element: wrapped, chain: chain)
        }
        if case .ctState = packetValue {
            // ct state flags: a single name or a list of names.
            let names = element.array?.compactMap(\.string) ?? element.string.map { [$0] } ?? []
            guard !names.isEmpty else { return .unknown }
            return names.contains("new") ? .yes : .no
        }
        if let bounds = element["range"]?.array, bounds.count == 2 {
            guard let low = scalar(bounds[0]), let high = scalar(bounds[1]), let value = scalar(packetValue) else { return .unknown }
            return low <= value && value <= high ? .yes : .no
        }
        if case .concat(let values) = packetValue {
            guard let parts = element["concat"]?.array, parts.count == values.count else { return .unknown }
            var result = Match.yes
            for (value, part) in zip(values, parts) {
                switch contains(value, element: part, chain: chain) {
                case .yes: continue
                case .no: return .no
                case .unknown: result = .unknown
                }
            }
            return result
        }
        if case .family(let name) = packetValue {
            guard let text = element.string else { return .unknown }
            return text == name ? .yes : .no
        }
        guard let value = scalar(packetValue), let wanted = scalar(element) else { return .unknown }
        return value == wanted ? .yes : .no
    }

    private func anyOf(_ packetValue: Value, _ elements: [NftJSON], chain: NftRuleset.Chain) -> Match {
        var result = Match.no
        for element in elements {
            switch contains(packetValue, element: element, chain: chain) {
            case .yes: return .yes
            case .no: continue
            case .unknown: result = .unknown
            }
        }
        return result
    }

    private func scalar(_ value: Value) -> Int? {
        switch value {
        case .port(let port): return port
        case .proto(let number): return number
        default: return nil
        }
    }

    private func scalar(_ element: NftJSON) -> Int? {
        if let number = element.int { return number }
        if let name = element.string { return Self.protocolNumbers[name] ?? Int(name) }
        return nil
    }
}
