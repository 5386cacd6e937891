import CordonShared

/// One port to probe on one address: a TCP connect, or a UDP datagram on a connected socket.
public struct PortProbe: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case tcp
        /// Send `payload`; a reply, an ICMP port unreachable or silence decides the state.
        case udp(payload: [UInt8])
    }

    public var port: UInt16
    public var kind: Kind

    public init(port: UInt16, kind: Kind) {
        self.port = port
        self.kind = kind
    }

    public static func tcp(_ port: UInt16) -> PortProbe { PortProbe(port: port, kind: .tcp) }
    public static func udp(_ port: UInt16, payload: [UInt8]) -> PortProbe { PortProbe(port: port, kind: .udp(payload: payload)) }

    public var isUDP: Bool { proto == .udp }

    public var proto: TransportProtocol {
        if case .tcp = kind { return .tcp }
        return .udp
    }
}

/// What one port probe came to.
public struct PortOutcome: Sendable, Equatable {
    public var state: PortState
    public var reason: PortReason
    /// Round trip of the answer that decided the state.
    public var rtt: Duration?
    /// UDP: the reply datagram (at most ``PortScanEngine/maxDatagram`` bytes).
    public var reply: [UInt8]?
    /// Tries made (1 + retries used).
    public var tries: Int
    /// False when the scan was cancelled before the probe ran to an answer or its last timeout.
    public var finished: Bool

    public init(state: PortState, reason: PortReason, rtt: Duration? = nil, reply: [UInt8]? = nil, tries: Int = 1, finished: Bool = true) {
        self.state = state
        self.reason = reason
        self.rtt = rtt
        self.reply = reply
        self.tries = tries
        self.finished = finished
    }

    /// A probe that never ran (cancelled).
    public static let cancelled = PortOutcome(state: .filtered, reason: .timeout, tries: 0, finished: false)

    /// True when the host itself answered (SYN-ACK, RST, UDP reply, ICMP port unreachable): the host is up.
    public var hostAnswered: Bool {
        finished && (reason == .connected || reason == .refused || reason == .udpResponse || reason == .portUnreachable)
    }
}

/// How a connect or a datagram ended, classified from the socket error.
public enum ProbeFailure: Sendable, Equatable {
    /// ECONNREFUSED: TCP RST, or ICMP port unreachable on a connected UDP socket.
    case refused
    /// No answer before the timeout.
    case timeout
    /// Host or network unreachable, or administratively prohibited (ICMP or local policy).
    case unreachable(errno: Int32)
    /// Out of a local resource (fds, ephemeral ports, buffers): not the target's fault; retry later.
    case localResource(errno: Int32)
}
