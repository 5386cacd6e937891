/// Whether one worm port is blocked in each direction.
public struct WormPortFilter: Codable, Sendable, Equatable {
    /// The transport of the port (`tcp` or `udp`).
    public var transport: String
    public var port: Int
    /// New connections to this port arriving at the host (hook input).
    public var inbound: PortFilterVerdict
    /// New connections to this port routed through the host (hook forward).
    public var forwarded: PortFilterVerdict
    /// New connections from the host to this port elsewhere (hook output).
    public var outbound: PortFilterVerdict

    public init(transport: String, port: Int, inbound: PortFilterVerdict, forwarded: PortFilterVerdict, outbound: PortFilterVerdict) {
        self.transport = transport
        self.port = port
        self.inbound = inbound
        self.forwarded = forwarded
        self.outbound = outbound
    }
}

/// The verdict for one port in one direction, with the rule that decided it.
public struct PortFilterVerdict: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Every new connection (IPv4 and IPv6) is dropped or rejected.
        case blocked
        /// New connections get through.
        case notBlocked = "not-blocked"
        /// Some are blocked, some not (conditions on interfaces, addresses, one family only, ...).
        case partial
    }

    public var state: State
    /// The deciding rules or policies, e.g. `inet cordon input handle 4 (drop)`,
    /// `inet filter input policy drop`; prefixed `IPv4:`/`IPv6:` when the families differ.
    public var evidence: [String]

    public init(state: State, evidence: [String]) {
        self.state = state
        self.evidence = evidence
    }
}
