import Foundation

/// One report from an agent. Ingest is idempotent by ``id``: a report delivered twice is
/// stored once.
public struct AgentReport: Codable, Sendable, Equatable {
    /// Unique per report (a UUID), chosen by the agent when it makes the report.
    public var id: String
    public var protocolVersion: ProtocolVersion
    public var createdAt: Date
    /// Reports the agent's spool dropped (oldest first, when full) since the last one the
    /// coordinator acknowledged.
    public var spoolDropped: Int
    public var facts: AgentFacts
    /// The latest segment scan, in the first report made after it finished.
    public var scan: ScanReport?
    /// The jump host's inventory, when one was collected for this report.
    public var inventory: InventoryReport?

    public init(id: String = UUID().uuidString.lowercased(), protocolVersion: ProtocolVersion = .current,
                createdAt: Date, spoolDropped: Int = 0, facts: AgentFacts, scan: ScanReport? = nil,
                inventory: InventoryReport? = nil) {
        self.id = id
        self.protocolVersion = protocolVersion
        self.createdAt = createdAt
        self.spoolDropped = spoolDropped
        self.facts = facts
        self.scan = scan
        self.inventory = inventory
    }

    /// Bounds a coordinator enforces on a report's identifiers.
    public static func isValidID(_ id: String) -> Bool {
        (8...64).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x2D
        }
    }
}

/// What an agent says about the jump host it runs on.
public struct AgentFacts: Codable, Sendable, Equatable {
    public var hostname: String
    /// `PRETTY_NAME` from os-release.
    public var osRelease: String
    public var kernel: String
    public var agentVersion: String
    public var uptimeSeconds: Double
    public var addresses: [String]
    /// The jump host's local remediation policy as the agent reads it now (nil: an agent that
    /// does not say, or whose policy file is invalid; see `policyError`), so that `cordon plan`
    /// leaves out what the agent would refuse.
    public var policy: RemediationPolicy?
    public var policyError: String?

    public init(hostname: String, osRelease: String, kernel: String, agentVersion: String, uptimeSeconds: Double, addresses: [String],
                policy: RemediationPolicy? = nil, policyError: String? = nil) {
        self.hostname = hostname
        self.osRelease = osRelease
        self.kernel = kernel
        self.agentVersion = agentVersion
        self.uptimeSeconds = uptimeSeconds
        self.addresses = addresses
        self.policy = policy
        self.policyError = policyError
    }
}

/// The coordinator's acknowledgement, sent only after the report is committed.
public struct ReportAck: Codable, Sendable, Equatable {
    public var reportID: String
    /// True when the report had already been stored (a redelivery); it was not stored again.
    public var duplicate: Bool

    public init(reportID: String, duplicate: Bool) {
        self.reportID = reportID
        self.duplicate = duplicate
    }
}

/// What one report may carry. A real agent stays far inside these (its scope is at most 65,536
/// addresses unless widened on purpose, and its profiles probe a few ports per host); a report
/// beyond them comes from a broken or hostile client and is refused whole (413), so that it can
/// neither fill the database nor hold the coordinator's writer.
public enum ReportLimits {
    public static let maxHosts = 65_536
    public static let maxServicesPerHost = 4_096
    public static let maxFindingsPerHost = 256

    /// Why `report` is over the limits, naming the field; nil when it is within them.
    public static func violation(_ report: AgentReport) -> String? {
        guard let scan = report.scan else { return nil }
        if scan.hosts.count > maxHosts {
            return "'scan.hosts' lists \(scan.hosts.count) hosts; a report may carry at most \(maxHosts)"
        }
        for (index, host) in scan.hosts.enumerated() {
            if host.services.count > maxServicesPerHost {
                return "'scan.hosts[\(index)].services' lists \(host.services.count) services; a host may have at most \(maxServicesPerHost)"
            }
            if host.findings.count > maxFindingsPerHost {
                return "'scan.hosts[\(index)].findings' lists \(host.findings.count) findings; a host may have at most \(maxFindingsPerHost)"
            }
        }
        return nil
    }
}
