import CordonShared
import Foundation
import GRDB

extension CoordinatorDatabase {
    /// The longest one transaction of a scan's hosts runs before it commits and lets the
    /// other writers (every agent's heartbeat) in: a bound on how long one report holds them.
    public static let scanTransactionTime: Duration = .milliseconds(200)

    /// Stores a report once. A report ID seen before is acknowledged as a duplicate and
    /// changes nothing; the caller acknowledges to the agent only after this returns.
    ///
    /// The agent's reports beyond the newest `retention.keepPerAgent` are deleted in the same
    /// transaction (at most `pruneBatch` at a time, so an old backlog drains over several
    /// reports). An agent sends its spool oldest first, one report at a time, and resends one
    /// only until it is acknowledged: a resent report is always among its newest, so the
    /// duplicate check still finds it.
    public func ingest(report: AgentReport, body: Data, agentID: String, policy: InventoryPolicy = .init(), now: Date = Date(),
                       retention: ReportRetention = .init(), scanTransactionTime: Duration = scanTransactionTime) throws -> ReportAck {
        try ingestCountingTransactions(report: report, body: body, agentID: agentID, policy: policy, now: now, retention: retention,
                                       scanTransactionTime: scanTransactionTime).ack
    }

    /// Report rows deleted at most per ingest.
    static let pruneBatch = 200

    /// `ingest`, and how many write transactions it took (for `/metrics`).
    func ingestCountingTransactions(report: AgentReport, body: Data, agentID: String, policy: InventoryPolicy, now: Date,
                                    retention: ReportRetention = .init(),
                                    scanTransactionTime: Duration = scanTransactionTime) throws -> (ack: ReportAck, transactions: Int) {
        var transactions = 1
        // A scan's hosts are recorded first, in transactions of bounded time, so that one large
        // report never holds the writer (and every other agent's heartbeat) for long. The report
        // row, and with it the acknowledgement, comes last: if the coordinator dies part way,
        // the agent sends the report again and recording the same hosts again changes nothing.
        if let scan = report.scan {
            let pending: (hosts: [ScannedHost], segment: String)? = try read { db in
                guard try ReportRecord.cachedFetchOne(db, where: "id", is: report.id) == nil,
                      let agent = try AgentRecord.cachedFetchOne(db, where: "id", is: agentID),
                      try ScanRecord.cachedFetchOne(db, where: "id", is: scan.id) == nil else { return nil }
                return (try Self.hostsInScope(db, scan.hosts, segment: agent.segment).inside, agent.segment)
            }
            if let pending {
                var next = pending.hosts.startIndex
                while next < pending.hosts.endIndex {
                    let deadline = ContinuousClock.now.advanced(by: scanTransactionTime)
                    next = try write { db in
                        try Self.ingestScanHosts(db, pending.hosts[next...], segment: pending.segment, agentID: agentID, at: scan.finishedAt, until: deadline)
                    }
                    transactions += 1
                }
            }
        }
        let ack = try write { db in
            if let existing = try ReportRecord.cachedFetchOne(db, where: "id", is: report.id) {
                guard existing.agentID == agentID else {
                    throw CoordinatorError.conflict("report ID \(report.id) was already used by another agent")
                }
                return ReportAck(reportID: report.id, duplicate: true)
            }
            guard var agent = try AgentRecord.cachedFetchOne(db, where: "id", is: agentID) else { throw CoordinatorError.notFound("no agent \(agentID)") }
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
            agent.reportsReceived = Saturating.add(agent.reportsReceived, 1)
            try agent.update(db)
            try db.cachedExecute(sql: """
                DELETE FROM report WHERE id IN
                  (SELECT id FROM report WHERE agentID = ? ORDER BY receivedAt DESC, id DESC LIMIT ? OFFSET ?)
                """, arguments: [agentID, Self.pruneBatch, max(retention.keepPerAgent, 1)])
            if let scan = report.scan {
                // Its hosts are in (above); a scan already recorded is not recorded again.
                let (hosts, outside) = try Self.hostsInScope(db, scan.hosts, segment: agent.segment)
                try Self.recordScan(db, scan: scan, hostsUp: hosts.count, outside: outside, agent: agent, now: now)
            }
            if let inventory = report.inventory {
                try Self.ingestInventory(db, inventory: inventory, reportID: report.id, agent: agent, policy: policy)
            }
            return ReportAck(reportID: report.id, duplicate: false)
        }
        return (ack, transactions)
    }

    /// Empties the bodies of reports received before `cutoff` (their rows stay, for the
    /// duplicate check), at most `limit` of them in one short transaction; returns how many.
    public func emptyReportBodies(receivedBefore cutoff: Date, limit: Int = 500) throws -> Int {
        try write { db in
            try db.execute(sql: """
                UPDATE report SET bodyJSON = X'' WHERE id IN
                  (SELECT id FROM report WHERE receivedAt < ? AND length(bodyJSON) > 0 LIMIT ?)
                """, arguments: [cutoff, max(1, limit)])
            return db.changesCount
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
