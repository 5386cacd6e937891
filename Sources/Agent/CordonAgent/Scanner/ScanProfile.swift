import CordonShared

/// What a scan probes, as data: TCP ports (each with the safe probe to run when it is open), UDP
/// ports (with the datagram to send), and whether to follow up live hosts on their Conficker.C
/// peer-to-peer ports.
public struct ScanProfile: Sendable, Equatable {
    /// The safe probe run on an open TCP port of a live host.
    public enum TCPProbe: Sendable, Equatable {
        /// Connect only.
        case none
        /// HTTP `GET /` (and the Code Red checks on IIS).
        case http
        /// HTTPS: listed as open; no TLS probe yet.
        case https
        /// SMB over direct TCP (445).
        case smbDirect
        /// SMB over the NetBIOS session service (139); skipped when direct SMB already ran.
        case smbNetBIOS
        /// DCE/RPC bind to the endpoint mapper (135).
        case dcerpc
        /// Read what the service says first, looking for a shell or an FTP greeting.
        case banner(BannerRole)
    }

    /// What a banner on a port would mean.
    public enum BannerRole: Sendable, Equatable {
        /// Blaster's remote shell (TCP 4444).
        case blasterShell
        /// Zotob's remote shell (TCP 8888).
        case zotobShell
        /// Zotob's FTP server (TCP 33333).
        case zotobFTP
    }

    /// The datagram sent to a UDP port.
    public enum UDPProbe: Sendable, Equatable {
        /// NetBIOS node status (137).
        case nbstat
        /// TFTP read request of a file that does not exist (69).
        case tftp
    }

    public struct TCPPort: Sendable, Equatable {
        public var port: UInt16
        public var probe: TCPProbe
        public init(_ port: UInt16, _ probe: TCPProbe = .none) {
            self.port = port
            self.probe = probe
        }
    }

    public struct UDPPort: Sendable, Equatable {
        public var port: UInt16
        public var probe: UDPProbe
        public init(_ port: UInt16, _ probe: UDPProbe) {
            self.port = port
            self.probe = probe
        }
    }

    public var name: String
    public var tcp: [TCPPort]
    public var udp: [UDPPort]
    /// Probe each live host's Conficker.C P2P ports (2 TCP, 2 UDP, from its address and the week).
    public var confickerP2P: Bool

    public init(name: String, tcp: [TCPPort], udp: [UDPPort] = [], confickerP2P: Bool = false) {
        self.name = name
        self.tcp = tcp
        self.udp = udp
        self.confickerP2P = confickerP2P
    }

    /// The worm-era ports: TCP 80, 443, 135, 139, 445, 593, 4444, 8888, 33333; UDP 69 and 137;
    /// then the Conficker.C P2P ports of each live host.
    public static let worms = ScanProfile(
        name: "worms",
        tcp: [.init(80, .http), .init(443, .https), .init(135, .dcerpc), .init(139, .smbNetBIOS), .init(445, .smbDirect),
              .init(593), .init(4444, .banner(.blasterShell)), .init(8888, .banner(.zotobShell)),
              .init(33333, .banner(.zotobFTP))],
        udp: [.init(69, .tftp), .init(137, .nbstat)],
        confickerP2P: true)

    /// SMB only: TCP 445 with the SMB checks (WannaCry, Zotob null session, Conficker exposure).
    public static let quick = ScanProfile(name: "quick", tcp: [.init(445, .smbDirect)])

    /// Connects only, no safe probes, no UDP: the port states of the worm ports (benchmarks).
    public static let ports = ScanProfile(
        name: "ports", tcp: worms.tcp.map { .init($0.port) })

    public static let builtIn: [ScanProfile] = [worms, quick, ports]

    /// The built-in profile with that name.
    ///
    /// - Throws: ``AgentError/config`` naming the known profiles.
    public static func named(_ name: String) throws(AgentError) -> ScanProfile {
        guard let profile = builtIn.first(where: { $0.name == name }) else {
            let known = builtIn.map(\.name).joined(separator: ", ")
            throw AgentError.config("unknown scan profile '\(String(name.prefix(40)))'; known profiles: \(known)")
        }
        return profile
    }

    /// nmap's service name for a port, when the port is known to this scanner.
    public static func serviceName(port: UInt16, proto: TransportProtocol) -> String? {
        switch (proto, port) {
        case (.tcp, 80): "http"
        case (.tcp, 443): "https"
        case (.tcp, 135): "msrpc"
        case (.tcp, 139): "netbios-ssn"
        case (.tcp, 445): "microsoft-ds"
        case (.tcp, 593): "http-rpc-epmap"
        case (.tcp, 4444): "krb524"
        case (.tcp, 8888): "sun-answerbook"
        case (.udp, 69): "tftp"
        case (.udp, 137): "netbios-ns"
        default: nil
        }
    }
}

