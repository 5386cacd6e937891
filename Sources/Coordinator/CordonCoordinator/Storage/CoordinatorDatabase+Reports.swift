import CordonShared
import Foundation
import GRDB

extension CoordinatorDatabase {
    /// Stores a report once. A report ID seen before is acknowledged as a duplicate and
    /// changes nothing; the caller acknowledges to the agent only after this returns.
    public func ingest(report: AgentReport, body: Data, agentID: String, policy: InventoryPolicy = .init(), now: Date = Date()) throws -> ReportAck {
        try write { db in
            if let existing = try ReportRecord.fetchOne(db, key: report.id) {
                guard existing.agentID == agentID else {
                    throw CoordinatorError.conflict("report ID \(report.id) was already used by another agent")
                }
                return ReportAck(reportID: report.id, duplicate: true)
            }
            guard var agent = try AgentRecord.fetchOne(db, key: agentID) else { throw CoordinatorError.notFound("no agent \(agentID)") }
            let dropped = max(0, report.spoolDropped)
            try ReportRecord(id: report.id, agentID: agentID, createdAt: report.createdAt, receivedAt: now,
                             spoolDropped: dropped, bodyJSON: body).insert(db)
            agent.lastSeenAt = now
            if report.createdAt >= (agent.lastReportAt ?? .distantPast) {
                agent.lastReportAt = report.createdAt
                agent.factsJSON = try CordonJSON.encode(report.facts)
                agent.agentVersion = String(report.facts.agentVersion.prefix(64))
            }
            agent.spoolDroppedTotal = Saturating.add(agent.spoolDroppedTotal, dropped)
            try agent.update(db)
            if let scan = report.scan { try Self.ingestScan(db, scan: scan, agent: agent, now: now) }
            if let inventory = report.inventory {
                try Self.ingestInventory(db, inventory: inventory, reportID: report.id, agent: agent, policy: policy)
            }
            return ReportAck(reportID: report.id, duplicate: false)
        }
    }

    public func reportCount(agentID: String? = nil) throws -> Int {
        try read { db in
            if let agentID { return try ReportRecord.filter(Column("agentID") == agentID).fetchCount(db) }
            return try ReportRecord.fetchCount(db)
        }
    }

    /// Report IDs of an agent in the order they were created.
    public func reportIDs(agentID: String) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM report WHERE agentID = ? ORDER BY createdAt, receivedAt", arguments: [agentID])
        }
    }
}
