import Foundation

/// The result of one scan of a segment, as the agent reports it.
///
/// Only hosts that answered are listed one by one; the addresses that never answered are
/// counted in ``hostsDown``. A host whose probes all finished has ``ScannedHost/complete``
/// set: only a complete scan of a host may resolve its earlier findings.
public struct ScanReport: Codable, Sendable, Equatable {
    public var id: String
    public var profile: String
    /// The scope as configured (CIDRs), and what was excluded from it.
    public var scope: [String]
    public var exclude: [String]
    public var startedAt: Date
    public var finishedAt: Date
    /// False when the scan was interrupted (shutdown, deadline) before the whole scope was done.
    public var complete: Bool
    public var addressesScanned: Int
    public var hostsDown: Int
    public var hosts: [ScannedHost]
    public var stats: ScanStats

    public init(id: String = UUID().uuidString.lowercased(), profile: String, scope: [String], exclude: [String], startedAt: Date,
                finishedAt: Date, complete: Bool, addressesScanned: Int, hostsDown: Int, hosts: [ScannedHost], stats: ScanStats = .init()) {
        self.id = id
        self.profile = profile
        self.scope = scope
        self.exclude = exclude
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.complete = complete
        self.addressesScanned = addressesScanned
        self.hostsDown = hostsDown
        self.hosts = hosts
        self.stats = stats
    }
}

public struct ScanStats: Codable, Sendable, Equatable {
    public var probesSent: Int
    public var retries: Int
    public var timeouts: Int
    /// The largest number of connects in flight at once.
    public var peakInFlight: Int
    /// Addresses of the scope left out as network or broadcast addresses (only when the scan
    /// was told each scope entry is a whole subnet); absent when none were.
    public var skippedAddresses: [String]?
    /// ICMP echo discovery of the addresses whose probed ports all stayed silent: "raw" or
    /// "ping socket" when it ran, "off" when configured off, or why it could not run.
    public var echoDiscovery: String?
    /// Hosts listed up only because they answered the echo (every probed port filtered).
    public var hostsUpByEcho: Int?
    /// Where the time went: each stage's count and time summed over the addresses or hosts it
    /// ran for (stages overlap, so the sums exceed the wall time), most time first.
    public var stages: [ScanStageTiming]?
    /// What the passive worm sensor saw (or why it could not be read); absent when it is off.
    public var sensor: String?

    public init(probesSent: Int = 0, retries: Int = 0, timeouts: Int = 0, peakInFlight: Int = 0, skippedAddresses: [String]? = nil,
                echoDiscovery: String? = nil, hostsUpByEcho: Int? = nil, stages: [ScanStageTiming]? = nil) {
        self.probesSent = probesSent
        self.retries = retries
        self.timeouts = timeouts
        self.peakInFlight = peakInFlight
        self.skippedAddresses = skippedAddresses
        self.echoDiscovery = echoDiscovery
        self.hostsUpByEcho = hostsUpByEcho
        self.stages = stages
    }
}

/// One stage of a scan: how often it ran, its summed and its longest duration.
///
/// Stages: `port-scan` (an address's connects and datagrams, queueing included), `echo-wait`
/// (waiting for an echo reply after the ports stayed silent), `conficker-p2p` (a live host's
/// P2P ports), `probe:http`, `probe:https`, `probe:smb`, `probe:dcerpc`, `probe:banner`,
/// `probe:conficker-tcp` (one safe probe of one port), `host-follow-up` (all of a live host's
/// follow-ups), and `wall:ports` / `wall:follow-ups` (first start to last end of each phase).
public struct ScanStageTiming: Codable, Sendable, Equatable {
    public var name: String
    public var count: Int
    public var totalSeconds: Double
    public var maxSeconds: Double

    public init(name: String, count: Int, totalSeconds: Double, maxSeconds: Double) {
        self.name = name
        self.count = count
        self.totalSeconds = totalSeconds
        self.maxSeconds = maxSeconds
    }
}

/// A host that answered, with what it offers and what was found on it.
public struct ScannedHost: Codable, Sendable, Equatable {
    public var address: String
    /// What showed the host alive, e.g. "conn-refused tcp/139".
    public var reason: String
    public var netbiosName: String?
    public var workgroup: String?
    public var dnsName: String?
    public var mac: String?
    /// e.g. "Windows 5.1 (build 2600)" or "Samba 4.17.12-Debian".
    public var osGuess: String?
    public var services: [ServiceObservation]
    public var findings: [FindingObservation]
    /// Every probe of the host ran to an answer or its timeout.
    public var complete: Bool

    public init(address: String, reason: String, netbiosName: String? = nil, workgroup: String? = nil, dnsName: String? = nil,
                mac: String? = nil, osGuess: String? = nil, services: [ServiceObservation] = [], findings: [FindingObservation] = [],
                complete: Bool = true) {
        self.address = address
        self.reason = reason
        self.netbiosName = netbiosName
        self.workgroup = workgroup
        self.dnsName = dnsName
        self.mac = mac
        self.osGuess = osGuess
        self.services = services
        self.findings = findings
        self.complete = complete
    }
}

public enum TransportProtocol: String, Codable, Sendable, CaseIterable {
    case tcp, udp
}

/// nmap's port states.
public enum PortState: String, Codable, Sendable, CaseIterable {
    case open
    case closed
    case filtered
    /// UDP without an answer: open, or filtered, we cannot tell.
    case openFiltered = "open|filtered"
}

/// Why a port is in its state (nmap's "reason" column).
public enum PortReason: String, Codable, Sendable, CaseIterable {
    /// TCP connect succeeded.
    case connected = "syn-ack"
    /// TCP connect refused (RST).
    case refused = "conn-refused"
    /// No answer before the timeout, after retries.
    case timeout = "no-response"
    /// Host or network unreachable (ICMP or no route).
    case unreachable = "host-unreach"
    /// A UDP reply.
    case udpResponse = "udp-response"
    /// ICMP port unreachable for UDP.
    case portUnreachable = "port-unreach"
}

public struct ServiceObservation: Codable, Sendable, Equatable {
    public var port: Int
    public var proto: TransportProtocol
    public var state: PortState
    public var reason: PortReason
    /// nmap-style service name: "http", "microsoft-ds", "msrpc", "netbios-ns", "tftp", ...
    public var service: String?
    /// e.g. "Microsoft IIS httpd", "Samba smbd".
    public var product: String?
    public var version: String?
    /// The first bytes the service said, printable and bounded (256 characters).
    public var banner: String?

    public init(port: Int, proto: TransportProtocol, state: PortState, reason: PortReason, service: String? = nil,
                product: String? = nil, version: String? = nil, banner: String? = nil) {
        self.port = port
        self.proto = proto
        self.state = state
        self.reason = reason
        self.service = service
        self.product = product
        self.version = version
        self.banner = banner
    }
}

/// A detection the agent observed on a host.
public struct FindingObservation: Codable, Sendable, Equatable {
    /// An ID from ``DetectionCatalogue``.
    public var detectionID: String
    public var port: Int?
    public var proto: TransportProtocol?
    /// What the probe saw: a banner or status excerpt, printable, at most ``maxEvidence``.
    public var evidence: String

    public static let maxEvidence = 512

    public init(detectionID: String, port: Int? = nil, proto: TransportProtocol? = nil, evidence: String) {
        self.detectionID = detectionID
        self.port = port
        self.proto = proto
        self.evidence = String(evidence.prefix(Self.maxEvidence))
    }
}
