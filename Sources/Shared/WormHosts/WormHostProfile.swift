import CordonCodecs

/// What one simulated worm-era Windows host runs, as data: which services answer, how its SMB
/// server and IIS behave, which backdoors a worm left, and whether Conficker.C's peer-to-peer
/// service is up. The answers themselves come from the codecs' server-side builders
/// (``SimulatedSMBServer``, ``SimulatedIIS``, ``DCERPC``, ``NBStat``, ``TFTP``, ``ConfickerP2P``).
///
/// Named presets (``WormHostProfile/presets``) cover every scan detection of the catalogue; see
/// ``expectedFindings`` for what a safe scan of each one reports.
public struct WormHostProfile: Equatable, Sendable {
    /// A listener left by a worm: a `cmd.exe` shell or an FTP server, known by its banner.
    public struct Backdoor: Equatable, Hashable, Sendable {
        public enum Kind: String, Equatable, Hashable, Sendable {
            case shell
            case ftp
        }

        public var port: UInt16
        public var kind: Kind
        /// What the listener says as soon as a client connects.
        public var banner: [UInt8]

        public init(port: UInt16, kind: Kind, banner: [UInt8]) {
            self.port = port
            self.kind = kind
            self.banner = banner
        }

        /// Blaster's remote shell: TCP 4444, Windows XP `cmd.exe`.
        public static let blasterShell = Backdoor(port: 4444, kind: .shell, banner: BannerClassifier.windowsXPShellBanner)
        /// Zotob's remote shell: TCP 8888, Windows 2000 `cmd.exe`.
        public static let zotobShell = Backdoor(port: 8888, kind: .shell, banner: BannerClassifier.windows2000ShellBanner)
        /// Zotob's FTP server on TCP 33333, from which new victims fetch the worm.
        public static let zotobFTP = Backdoor(port: 33333, kind: .ftp, banner: Array("220 FTP server ready\r\n".utf8))
    }

    /// The preset's name (`"wannacry"`), or any label for a custom profile.
    public var name: String
    /// One line for people.
    public var summary: String
    /// SMB on TCP 445 (nil: no SMB server).
    public var smb: SimulatedSMBProfile?
    /// SMB over the NetBIOS session service on TCP 139 too (only with ``smb``).
    public var netBIOSSession: Bool
    /// The DCE/RPC endpoint mapper on TCP 135 (Blaster's target).
    public var rpcEndpointMapper: Bool
    /// IIS on TCP 80 (nil: no web server).
    public var iis: SimulatedIIS?
    /// Worm backdoors (TCP 4444, 8888, 33333).
    public var backdoors: [Backdoor]
    /// NBSTAT answers on UDP 137.
    public var nbstat: Bool
    /// A TFTP server on UDP 69 (Blaster's worm transfer).
    public var tftp: Bool
    /// Conficker.C's peer-to-peer service: two TCP and two UDP ports computed from the address and
    /// the week.
    public var confickerP2P: Bool

    public init(name: String, summary: String = "", smb: SimulatedSMBProfile? = nil, netBIOSSession: Bool = false,
                rpcEndpointMapper: Bool = false, iis: SimulatedIIS? = nil, backdoors: [Backdoor] = [], nbstat: Bool = false,
                tftp: Bool = false, confickerP2P: Bool = false) {
        self.name = name
        self.summary = summary
        self.smb = smb
        self.netBIOSSession = netBIOSSession
        self.rpcEndpointMapper = rpcEndpointMapper
        self.iis = iis
        self.backdoors = backdoors
        self.nbstat = nbstat
        self.tftp = tftp
        self.confickerP2P = confickerP2P
    }

    /// The NetBIOS computer name (from the SMB profile; "WORMHOST" without SMB, unless renamed).
    public var computerName: String { nameOverride ?? smb?.computerName ?? "WORMHOST" }
    /// The workgroup or domain (from the SMB profile; "WORKGROUP" without SMB).
    public var workgroup: String { smb?.domain ?? "WORKGROUP" }

    /// The same profile under another computer name (SMB, NTLMSSP and NBSTAT answers), cut to
    /// the 15 characters NetBIOS allows and upper-cased.
    public func renamed(_ computerName: String) -> WormHostProfile {
        var copy = self
        let name = String(computerName.uppercased().prefix(15))
        copy.smb?.computerName = name
        copy.nameOverride = name
        return copy
    }

    /// The fixed TCP ports this profile listens on (Conficker's are computed per address and week).
    public var tcpPorts: [UInt16] {
        var ports: [UInt16] = []
        if smb != nil { ports.append(445) }
        if smb != nil && netBIOSSession { ports.append(139) }
        if rpcEndpointMapper { ports.append(135) }
        if iis != nil { ports.append(80) }
        ports.append(contentsOf: backdoors.map(\.port))
        return ports
    }

    /// The fixed UDP ports this profile listens on.
    public var udpPorts: [UInt16] {
        var ports: [UInt16] = []
        if nbstat { ports.append(137) }
        if tftp { ports.append(69) }
        return ports
    }

    // Set by `renamed`, so that a profile without SMB still answers NBSTAT with the new name.
    private var nameOverride: String?
}
