import CordonShared
import Foundation
import GRDB

/// Which agents `fleetStatus` lists beside the per-segment figures.
public enum AgentListing: Sendable, Equatable {
    case all
    /// Late and offline agents (not revoked), at most this many.
    case attention(limit: Int)
}

extension CoordinatorDatabase {
    /// Records a heartbeat: the agent is alive, with its intervals and spool depth.
    public func recordHeartbeat(agentID: String, heartbeat: Heartbeat, now: Date = Date()) throws {
        try write { db in
            // One statement for the columns a heartbeat sets (the whole row, facts included, was
            // read and written back before).
            try db.cachedExecute(sql: """
                UPDATE agent SET lastSeenAt = ?, heartbeatInterval = ?, reportInterval = ?, spoolDepth = ?, agentVersion = ?
                WHERE id = ?
                """, arguments: [now, min(max(heartbeat.heartbeatInterval, 1), 86400), min(max(heartbeat.reportInterval, 1), 7 * 86400),
                                 max(0, heartbeat.spoolDepth), String(heartbeat.agentVersion.prefix(64)), agentID])
            guard db.changesCount == 1 else { throw CoordinatorError.notFound("no agent \(agentID)") }
        }
    }

    /// Marks an agent revoked, and every certificate it holds: the coordinator refuses them
    /// from the next request on.
    public func revokeAgent(id: String, actor: String, now: Date = Date()) throws -> RevokeResponse {
        try write { db in
            guard var agent = try AgentRecord.fetchOne(db, key: id) else { throw CoordinatorError.notFound("no agent with ID \(id)") }
            if let at = agent.revokedAt { return RevokeResponse(agentID: id, revokedAt: at, alreadyRevoked: true) }
            agent.revokedAt = now
            try agent.update(db)
            try db.execute(sql: "UPDATE issuedCertificate SET revokedAt = ? WHERE role = 'agent' AND subject = ? AND revokedAt IS NULL",
                           arguments: [now, id])
            try Self.audit(db, at: now, actor: actor, action: "agent.revoke", target: "agent:\(id)",
                           detail: "segment \(agent.segment), host \(agent.hostname)")
            return RevokeResponse(agentID: id, revokedAt: now, alreadyRevoked: false)
        }
    }

    public func agentSummaries(now: Date = Date()) throws -> [AgentSummary] {
        try read { db in
            try AgentRecord.order(Column("segment"), Column("hostname"), Column("id")).fetchReadable(db).map { Self.summary($0, now: now) }
        }
    }

    public func agentDetail(id: String, now: Date = Date()) throws -> AgentDetail? {
        try read { db in
            guard let agent = try AgentRecord.fetchOne(db, key: id) else { return nil }
            let facts = agent.factsJSON.flatMap { try? CordonJSON.decode(AgentFacts.self, from: $0) }
            return AgentDetail(agent: Self.summary(agent, now: now), facts: facts, reportCount: agent.reportsReceived)
        }
    }

    /// The fleet at a glance. Per-segment figures come from grouped queries (no agent or finding
    /// is loaded to count them); `agents` says which agents are listed beside them.
    public func fleetStatus(now: Date = Date(), agents listing: AgentListing = .all) throws -> FleetStatus {
        try read { db in
            var segments: [String: SegmentStatus] = [:]
            func segment(_ name: String) -> SegmentStatus {
                segments[name] ?? SegmentStatus(name: name, agents: [:], lastReportAt: nil, spoolDropped: 0)
            }
            // One pass over the agents: their states, last report and spool drops per segment.
            // TOTAL is a float and does not overflow as SUM would on hostile counts; clamped back.
            // A report time more than a day ahead cannot come from an ingest (it refuses them):
            // such a value (edited by hand, or not a date) is left out, not allowed to hide the rest.
            var dropped: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT segment, \(Self.agentStateSQL) AS state, COUNT(*) AS n,
                       MAX(CASE WHEN lastReportAt <= ? THEN lastReportAt END) AS at, TOTAL(spoolDroppedTotal) AS dropped
                FROM agent GROUP BY segment, state
                """, arguments: [now, now, now.addingTimeInterval(2 * 86400)]) {
                var s = segment(row["segment"])
                if let state = AgentState(rawValue: row["state"]) { s.agents[state, default: 0] += row["n"] }
                if let at = try? row.decode(Date?.self, forColumn: "at"), at > (s.lastReportAt ?? .distantPast) { s.lastReportAt = at }
                dropped[s.name, default: 0] += (row["dropped"] as Double?) ?? 0
                segments[s.name] = s
            }
            for (name, total) in dropped {
                segments[name]?.spoolDropped = Int(clamping: Int64(exactly: min(max(total, 0), 9.0e18).rounded()) ?? 0)
            }
            for (name, summary) in try Self.segmentFindingSummary(db) {
                var s = segment(name)
                s.lastScanAt = summary.lastScanAt
                s.hostsUp = summary.hostsUp
                s.worms = summary.worms
                s.jumpHostFindings = summary.jumpHost
                segments[name] = s
            }
            var listed: [AgentSummary]
            var omitted = 0
            switch listing {
            case .all:
                listed = try AgentRecord.order(Column("segment"), Column("hostname"), Column("id")).fetchReadable(db).map { Self.summary($0, now: now) }
            case .attention(let limit):
                // Late and offline agents (not revoked ones), longest silent first (never seen
                // first of all: SQLite sorts NULL first), walked along the lastSeenAt index.
                let total = segments.values.reduce(0) { $0 + $1.count(.late) + $1.count(.offline) }
                listed = try AgentRecord.fetchReadable(db, sql: """
                    SELECT * FROM agent WHERE revokedAt IS NULL AND \(Self.agentStateSQL) IN ('late', 'offline')
                    ORDER BY lastSeenAt, id LIMIT ?
                    """, arguments: [now, now, max(0, limit)]).map { Self.summary($0, now: now) }
                omitted = max(0, total - listed.count)
            }
            var status = FleetStatus(generatedAt: now, segments: segments.values.sorted { $0.name < $1.name }, agents: listed)
            if case .attention = listing { status.attentionOmitted = omitted }
            return status
        }
    }

    /// An agent's state in SQL, with the thresholds of `state(of:now:)` (a test holds the two
    /// together); binds `now` twice. Dates are stored to the millisecond; rounding the age to one
    /// undoes julianday's float error.
    static let agentStateSQL = """
        (CASE WHEN revokedAt IS NOT NULL THEN 'revoked'
              WHEN lastSeenAt IS NULL THEN 'offline'
              WHEN ROUND((julianday(?) - julianday(lastSeenAt)) * 86400000.0) <= (2 * heartbeatInterval + 5) * 1000 THEN 'online'
              WHEN ROUND((julianday(?) - julianday(lastSeenAt)) * 86400000.0) <= (6 * heartbeatInterval + 5) * 1000 THEN 'late'
              ELSE 'offline' END)
        """

    /// Online within two heartbeat intervals, late within six, else offline.
    static func state(of agent: AgentRecord, now: Date) -> AgentState {
        if agent.revokedAt != nil { return .revoked }
        guard let seen = agent.lastSeenAt else { return .offline }
        let age = now.timeIntervalSince(seen)
        if age <= 2 * agent.heartbeatInterval + 5 { return .online }
        if age <= 6 * agent.heartbeatInterval + 5 { return .late }
        return .offline
    }

    static func summary(_ agent: AgentRecord, now: Date) -> AgentSummary {
        AgentSummary(id: agent.id, segment: agent.segment, hostname: agent.hostname, state: state(of: agent, now: now),
                     agentVersion: agent.agentVersion, enrolledAt: agent.enrolledAt, lastSeenAt: agent.lastSeenAt,
                     lastReportAt: agent.lastReportAt, heartbeatInterval: agent.heartbeatInterval, spoolDepth: agent.spoolDepth,
                     spoolDroppedTotal: agent.spoolDroppedTotal, certificateNotAfter: agent.certificateNotAfter, revokedAt: agent.revokedAt)
    }
}

/// The fleet's figures `/metrics` reads at each scrape: one grouped query each, no rows loaded.
struct FleetMetrics: Sendable {
    var agentsByState: [AgentState: Int] = [:]
    var taskRunsByState: [TaskState: Int] = [:]
    var databaseBytes = 0
    var walBytes = 0
    var freeBytes = 0
}

extension CoordinatorDatabase {
    func metricsSnapshot(now: Date) throws -> FleetMetrics {
        try read { db in
            var result = FleetMetrics()
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.agentStateSQL) AS state, COUNT(*) AS n
                FROM agent GROUP BY state
                """, arguments: [now, now])
            for row in rows {
                if let state = AgentState(rawValue: row["state"]) { result.agentsByState[state, default: 0] += row["n"] }
            }
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM taskRun GROUP BY state") {
                if let state = TaskState(rawValue: row["state"]) { result.taskRunsByState[state, default: 0] += row["n"] }
            }
            let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            result.databaseBytes = pageSize * (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0)
            result.freeBytes = pageSize * (try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0)
            if let pool = writer as? DatabasePool {
                let attributes = try? FileManager.default.attributesOfItem(atPath: pool.path + "-wal")
                result.walBytes = (attributes?[.size] as? Int) ?? 0
            }
            return result
        }
    }
}

extension CoordinatorDatabase {
    /// Agents enrolled and not revoked.
    func activeAgentCount() throws -> Int {
        try read { db in try AgentRecord.filter(Column("revokedAt") == nil).fetchCount(db) }
    }
}
