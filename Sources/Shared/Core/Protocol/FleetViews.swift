import Foundation

/// Whether a finding still holds.
public enum FindingStatus: String, Codable, Sendable, CaseIterable {
    case open
    case resolved
}

/// A finding as the coordinator keeps it: one detection on one host (or on a jump host),
/// with when it was first and last seen and, once a later complete scan or inventory no
/// longer shows it, when it was resolved.
public struct FindingView: Codable, Sendable, Equatable {
    public var id: Int64
    public var detectionID: String
    public var worm: Worm
    public var kind: DetectionKind
    public var severity: Severity
    public var source: DetectionSource
    public var title: String
    public var segment: String
    /// The scanned host's address, or nil for a finding on the jump host itself.
    public var address: String?
    /// NetBIOS name of the host, or the jump host's name.
    public var hostName: String?
    /// The agent that reported it.
    public var agentID: String
    public var port: Int?
    public var proto: TransportProtocol?
    /// What distinguishes findings of one detection on one host: a port, an account, a task ID.
    public var item: String
    public var evidence: String
    public var references: [String]
    public var remediation: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var resolvedAt: Date?

    public init(id: Int64, detectionID: String, worm: Worm, kind: DetectionKind, severity: Severity, source: DetectionSource, title: String,
                segment: String, address: String?, hostName: String?, agentID: String, port: Int?, proto: TransportProtocol?, item: String,
                evidence: String, references: [String], remediation: String, firstSeen: Date, lastSeen: Date, resolvedAt: Date?) {
        self.id = id
        self.detectionID = detectionID
        self.worm = worm
        self.kind = kind
        self.severity = severity
        self.source = source
        self.title = title
        self.segment = segment
        self.address = address
        self.hostName = hostName
        self.agentID = agentID
        self.port = port
        self.proto = proto
        self.item = item
        self.evidence = evidence
        self.references = references
        self.remediation = remediation
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.resolvedAt = resolvedAt
    }

    public var status: FindingStatus { resolvedAt == nil ? .open : .resolved }
}

/// A port of a scanned host as last seen.
public struct ServiceView: Codable, Sendable, Equatable {
    public var observation: ServiceObservation
    public var firstSeen: Date
    public var lastSeen: Date

    public init(observation: ServiceObservation, firstSeen: Date, lastSeen: Date) {
        self.observation = observation
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}

/// A host an agent found in its segment.
public struct HostView: Codable, Sendable, Equatable {
    public var segment: String
    public var address: String
    public var agentID: String
    public var netbiosName: String?
    public var workgroup: String?
    public var dnsName: String?
    public var mac: String?
    public var osGuess: String?
    /// What showed it alive in the last scan.
    public var reason: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var services: [ServiceView]
    /// Open findings.
    public var findings: [FindingView]

    public init(segment: String, address: String, agentID: String, netbiosName: String?, workgroup: String?, dnsName: String?, mac: String?,
                osGuess: String?, reason: String, firstSeen: Date, lastSeen: Date, services: [ServiceView], findings: [FindingView]) {
        self.segment = segment
        self.address = address
        self.agentID = agentID
        self.netbiosName = netbiosName
        self.workgroup = workgroup
        self.dnsName = dnsName
        self.mac = mac
        self.osGuess = osGuess
        self.reason = reason
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.services = services
        self.findings = findings
    }

    /// Worms the host is exposed to (any open finding of the worm).
    public var exposedTo: [Worm] { Array(Set(findings.map(\.worm))).sorted() }
    /// Worms with an open indicator of compromise on the host.
    public var infectedBy: [Worm] { Array(Set(findings.filter { $0.kind == .ioc }.map(\.worm))).sorted() }
}

/// Something that changed on a jump host between two inventories.
public struct ChangeView: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case taskAdded = "task.added"
        case taskRemoved = "task.removed"
        case accountAdded = "account.added"
        case accountRemoved = "account.removed"
        case uid0Added = "account.uid0"
        case passwordChanged = "password.changed"
        case portOpened = "port.opened"
        case portClosed = "port.closed"
        case firewallChanged = "firewall.changed"
        case sshKeyAdded = "ssh-key.added"
        case sshKeyRemoved = "ssh-key.removed"
    }

    public var id: Int64
    public var at: Date
    public var agentID: String
    public var segment: String
    public var hostName: String
    public var kind: Kind
    /// What changed: a task ID, an account, `tcp/0.0.0.0:22`, a worm port.
    public var subject: String
    public var detail: String

    public init(id: Int64, at: Date, agentID: String, segment: String, hostName: String, kind: Kind, subject: String, detail: String) {
        self.id = id
        self.at = at
        self.agentID = agentID
        self.segment = segment
        self.hostName = hostName
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }
}

/// `GET /v1/inventory/:agent`: the latest inventory of a jump host.
public struct InventoryView: Codable, Sendable, Equatable {
    public var agentID: String
    public var segment: String
    public var hostName: String
    public var reportID: String
    /// When the first inventory (the baseline for new scheduled tasks) was taken.
    public var baselineAt: Date?
    public var inventory: InventoryReport

    public init(agentID: String, segment: String, hostName: String, reportID: String, baselineAt: Date?, inventory: InventoryReport) {
        self.agentID = agentID
        self.segment = segment
        self.hostName = hostName
        self.reportID = reportID
        self.baselineAt = baselineAt
        self.inventory = inventory
    }
}

/// Per segment and worm: how many hosts are exposed, how many show signs of infection.
public struct WormCount: Codable, Sendable, Equatable {
    public var worm: Worm
    public var exposedHosts: Int
    public var infectedHosts: Int

    public init(worm: Worm, exposedHosts: Int, infectedHosts: Int) {
        self.worm = worm
        self.exposedHosts = exposedHosts
        self.infectedHosts = infectedHosts
    }
}
