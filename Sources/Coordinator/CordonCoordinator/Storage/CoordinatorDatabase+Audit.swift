import CordonShared
import Foundation
import GRDB

extension CoordinatorDatabase {
    /// Appends to the audit log inside the caller's transaction.
    static func audit(_ db: Database, at: Date, actor: String, action: String, target: String, detail: String) throws {
        var record = AuditRecord(id: nil, at: at, actor: actor, action: action, target: target, detail: String(detail.prefix(2000)))
        try record.insert(db)
    }

    /// Appends one audit entry in its own transaction.
    public func appendAudit(actor: String, action: String, target: String, detail: String, now: Date = Date()) throws {
        try write { db in try Self.audit(db, at: now, actor: actor, action: action, target: target, detail: detail) }
    }

    /// The newest `limit` entries (optionally since a time), oldest first.
    public func auditEntries(since: Date? = nil, limit: Int = 200) throws -> [AuditEntry] {
        try read { db in
            var request = AuditRecord.order(Column("id").desc).limit(max(1, min(limit, 10_000)))
            if let since { request = request.filter(Column("at") >= since) }
            return try request.fetchAll(db).reversed().map {
                AuditEntry(id: $0.id ?? 0, at: $0.at, actor: $0.actor, action: $0.action, target: $0.target, detail: $0.detail)
            }
        }
    }
}
