import Foundation
import GRDB

// One Codable record struct per table.

struct EnrollmentTokenRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "enrollmentToken"
    var id: String
    var hash: String
    var segment: String
    var createdAt: Date
    var expiresAt: Date
    var usesLeft: Int
    var createdBy: String
}

struct AgentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "agent"
    var id: String
    var segment: String
    var hostname: String
    var agentVersion: String
    var enrolledAt: Date
    var tokenID: String
    var certificateNotAfter: Date
    var lastSeenAt: Date?
    var lastReportAt: Date?
    var heartbeatInterval: Double
    var reportInterval: Double
    var spoolDepth: Int
    var spoolDroppedTotal: Int
    var revokedAt: Date?
    var factsJSON: Data?
    /// Reports stored from this agent, ever (the report table keeps only the newest).
    var reportsReceived: Int = 0
}

struct OperatorRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "operator"
    var name: String
    var createdAt: Date
    var revokedAt: Date?
}

struct IssuedCertificateRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "issuedCertificate"
    var serial: String
    var role: String
    var subject: String
    var issuedAt: Date
    var notAfter: Date
    var revokedAt: Date?
}

struct ReportRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "report"
    var id: String
    var agentID: String
    var createdAt: Date
    var receivedAt: Date
    var spoolDropped: Int
    var bodyJSON: Data
}

struct AuditRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "auditLog"
    var id: Int64?
    var at: Date
    var actor: String
    var action: String
    var target: String
    var detail: String

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct HostRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "host"
    var segment: String
    var address: String
    var agentID: String
    var netbiosName: String?
    var workgroup: String?
    var dnsName: String?
    var mac: String?
    var osGuess: String?
    var reason: String
    var firstSeen: Date
    var lastSeen: Date
}

struct ServiceRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "service"
    var segment: String
    var address: String
    var proto: String
    var port: Int
    var state: String
    var reason: String
    var service: String?
    var product: String?
    var version: String?
    var banner: String?
    var firstSeen: Date
    var lastSeen: Date
}

struct FindingRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "finding"
    var id: Int64?
    var segment: String
    /// `host:ADDRESS` for a scanned host, `agent:ID` for a jump host.
    var subject: String
    var address: String?
    var agentID: String
    var detectionID: String
    var item: String
    var port: Int?
    var proto: String?
    var evidence: String
    var firstSeen: Date
    var lastSeen: Date
    var resolvedAt: Date?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct ScanRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "scan"
    var id: String
    var agentID: String
    var segment: String
    var profile: String
    var startedAt: Date
    var finishedAt: Date
    var complete: Bool
    var addressesScanned: Int
    var hostsUp: Int
    var hostsDown: Int
    var receivedAt: Date
}

struct InventoryRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "inventory"
    var agentID: String
    var reportID: String
    var collectedAt: Date
    var bodyJSON: Data
    var baselineAt: Date?
    var baselineTaskIDsJSON: Data?
}

struct ChangeRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "change"
    var id: Int64?
    var at: Date
    var agentID: String
    var segment: String
    var kind: String
    var subject: String
    var detail: String

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct TaskRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "task"
    var id: String
    var description: String?
    var target: String
    var actionsJSON: Data
    var dryRun: Bool
    var createdAt: Date
    var createdBy: String
    var requireApproval: Bool
    var approvedBy: String?
    var approvedAt: Date?
    var expiresAt: Date
}

struct TaskRunRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "taskRun"
    var id: String
    var taskID: String
    var agentID: String
    var sequence: Int64
    var state: String
    /// The signed list, once queued (signing waits for approval under the two-person rule).
    var signedJSON: Data?
    var updatedAt: Date
    var message: String?
    var resultsJSON: Data?
}

struct TaskEventRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "taskEvent"
    var id: Int64?
    var runID: String
    var at: Date
    var state: String
    var message: String?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct SecretRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "secret"
    var id: Int64?
    var agentID: String
    var user: String
    var runID: String
    var rotatedAt: Date
    var encapsulatedKey: Data
    var ciphertext: Data

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct SegmentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "segment"
    var name: String
    /// The CIDRs agents of this segment may scan (JSON array).
    var scopeJSON: Data
    var updatedAt: Date
    var updatedBy: String
}
