import CordonCodecs
import CordonShared

/// Assembles one host's ``ScannedHost`` from its port outcomes and probe mappings. Pure.
///
/// Listed services: open ports (TCP and UDP) and filtered TCP ports; closed ports and silent UDP
/// ports (open|filtered) are left out, as nmap leaves out the majority state.
public struct HostReportBuilder: Sendable {
    struct PortKey: Hashable, Sendable {
        var port: UInt16
        var proto: TransportProtocol
    }

    public let address: IPv4Address
    private var order: [PortKey] = []
    private var outcomes: [PortKey: PortOutcome] = [:]
    private var annotations: [PortKey: ServiceAnnotation] = [:]
    private var findings: [FindingObservation] = []
    private var identities: [(priority: Int, identity: HostIdentity)] = []
    /// False when some probe of the host did not run to its end.
    public var complete = true

    public init(address: IPv4Address) {
        self.address = address
    }

    public mutating func record(_ probe: PortProbe, _ outcome: PortOutcome) {
        let key = PortKey(port: probe.port, proto: probe.proto)
        if outcomes[key] == nil { order.append(key) }
        // Keep the more telling outcome when a port was probed twice (profile and Conficker).
        if let existing = outcomes[key], existing.hostAnswered, !outcome.hostAnswered { return }
        outcomes[key] = outcome
        if !outcome.finished { complete = false }
    }

    public func outcome(port: UInt16, proto: TransportProtocol) -> PortOutcome? {
        outcomes[PortKey(port: port, proto: proto)]
    }

    public var alive: Bool { outcomes.values.contains { $0.hostAnswered } }

    /// Applies a probe's mapping. Identity from lower `priority` values wins.
    public mutating func apply(_ mapping: ProbeMapping, port: UInt16, proto: TransportProtocol, priority: Int) {
        let key = PortKey(port: port, proto: proto)
        var annotation = annotations[key] ?? ServiceAnnotation()
        annotation.service = mapping.annotation.service ?? annotation.service
        annotation.product = mapping.annotation.product ?? annotation.product
        annotation.version = mapping.annotation.version ?? annotation.version
        annotation.banner = mapping.annotation.banner ?? annotation.banner
        annotations[key] = annotation
        for finding in mapping.findings where !findings.contains(finding) {
            findings.append(finding)
        }
        identities.append((priority, mapping.identity))
    }

    public func build() -> ScannedHost {
        var identity = HostIdentity()
        for entry in identities.sorted(by: { $0.priority < $1.priority }) { identity.merge(entry.identity) }
        var services: [ServiceObservation] = []
        for key in order {
            guard let outcome = outcomes[key] else { continue }
            let listed = outcome.state == .open || (key.proto == .tcp && outcome.state == .filtered)
            guard listed else { continue }
            let a = annotations[key]
            services.append(ServiceObservation(
                port: Int(key.port), proto: key.proto, state: outcome.state, reason: outcome.reason,
                service: a?.service ?? ScanProfile.serviceName(port: key.port, proto: key.proto),
                product: a?.product, version: a?.version, banner: a?.banner))
        }
        return ScannedHost(address: address.description, reason: reason, netbiosName: identity.netbiosName, workgroup: identity.workgroup,
                           dnsName: identity.dnsName, mac: identity.mac, osGuess: identity.osGuess, services: services,
                           findings: findings, complete: complete)
    }

    /// What showed the host alive: "syn-ack tcp/445", else the first other answer.
    var reason: String {
        let answered = order.compactMap { key in outcomes[key].map { (key, $0) } }.filter { $0.1.hostAnswered }
        guard let best = answered.first(where: { $0.1.state == .open }) ?? answered.first else { return "no-response" }
        return "\(best.1.reason.rawValue) \(best.0.proto.rawValue)/\(best.0.port)"
    }
}
