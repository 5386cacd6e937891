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
