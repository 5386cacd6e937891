@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import Logging
import Testing

@Suite struct ReportRetentionTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func store(_ db: CoordinatorDatabase, agent: String, at: Date, keep: Int, padding: Int = 0, id: String = UUID().uuidString.lowercased()) throws -> ReportAck {
        var facts = Make.facts
        facts.osRelease = String(repeating: "x", count: padding)
        let report = AgentReport(id: id, createdAt: at, facts: facts)
        return try db.ingest(report: report, body: try CordonJSON.encode(report), agentID: agent, now: at,
                             retention: ReportRetention(keepPerAgent: keep))
    }

    /// Each agent keeps its newest reports; the count it sent survives the pruning; the report
    /// an agent may still be resending (its newest) is still recognised as a duplicate.
    @Test func eachAgentKeepsItsNewestReportsAndDuplicatesAreStillRecognised() throws {
        let db = try CoordinatorDatabase.inMemory()
        let a = try db.testAgent(at: t0), b = try db.testAgent(at: t0)
        var ids: [String] = []
        for i in 0..<60 {
            let id = "report-\(1000 + i)"
            ids.append(id)
            #expect(try store(db, agent: a, at: t0.addingTimeInterval(Double(i)), keep: 5, id: id).duplicate == false)
        }
        _ = try store(db, agent: b, at: t0, keep: 5)
        #expect(try db.reportIDs(agentID: a) == Array(ids.suffix(5)))
        #expect(try db.reportCount(agentID: b) == 1, "another agent's reports are not touched")
        #expect(try db.agentDetail(id: a, now: t0)?.reportCount == 60, "the count of reports sent outlives the rows")
        let resent = try store(db, agent: a, at: t0.addingTimeInterval(59), keep: 5, id: ids.last!)
        #expect(resent.duplicate)
        #expect(try db.agentDetail(id: a, now: t0)?.reportCount == 60, "a duplicate is not counted")
    }

    /// A database from before retention may hold thousands of reports per agent: they are
    /// deleted at most `pruneBatch` per new report, so no ingest carries the whole backlog.
    @Test func anOldBacklogDrainsInBoundedSteps() throws {
        let db = try CoordinatorDatabase.inMemory()
        let a = try db.testAgent(at: t0)
        try db.writer.write { d in
            for i in 0..<450 {
                try d.execute(sql: "INSERT INTO report (id, agentID, createdAt, receivedAt, spoolDropped, bodyJSON) VALUES (?, ?, ?, ?, 0, X'7B7D')",
                              arguments: ["old-\(i)", a, t0.addingTimeInterval(Double(-1000 + i)), t0.addingTimeInterval(Double(-1000 + i))])
            }
        }
        _ = try store(db, agent: a, at: t0, keep: 10)
        #expect(try db.reportCount(agentID: a) == 451 - CoordinatorDatabase.pruneBatch)
        _ = try store(db, agent: a, at: t0.addingTimeInterval(1), keep: 10)
        _ = try store(db, agent: a, at: t0.addingTimeInterval(2), keep: 10)
        #expect(try db.reportCount(agentID: a) == 10)
        #expect(try db.reportIDs(agentID: a).filter { $0.hasPrefix("old-") } == (443..<450).map { "old-\($0)" })
    }

    /// Under steady load the file stops growing: pruned pages are reused by the next reports.
    @Test func theDatabaseStaysFlatUnderSteadyLoad() async throws {
        // Off the cooperative pool: 1,500 synchronous ingests would hold one of its two threads.
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { done.resume(with: Result { try self.storeSteadily() }) }
        }
    }

    func storeSteadily() throws {
        let dir = NSTemporaryDirectory() + "cordon-retention-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try CoordinatorDatabase.open(path: dir + "/cordon.db")
        let agents = try (0..<5).map { _ in try db.testAgent(at: t0) }
        func pages() throws -> Int { try db.read { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 } }
        var sizes: [Int] = []
        var clock = t0
        for round in 1...300 {
            for agent in agents {
                clock = clock.addingTimeInterval(1)
                _ = try store(db, agent: agent, at: clock, keep: 10, padding: 20_000)
            }
            if round % 100 == 0 { sizes.append(try pages()) }
        }
        // 1,500 reports of ~20 KB were stored (30 MB); the file holds about 50 of them.
        let pageSize = try db.read { try Int.fetchOne($0, sql: "PRAGMA page_size") ?? 4096 }
        #expect(sizes[2] * pageSize < 4 << 20, "\(sizes) pages of \(pageSize) bytes")
        #expect(sizes[2] <= sizes[0] + sizes[0] / 20, "the file grew from \(sizes[0]) to \(sizes[2]) pages between rounds 100 and 300")
        #expect(try db.reportCount() == 50)
    }

    /// Bodies older than bodyMaxAge are emptied in batches; the rows stay for the duplicate
    /// check; newer bodies are untouched.
    @Test func oldBodiesAreEmptiedInBatchesAndTheRowsStay() async throws {
        let db = try CoordinatorDatabase.inMemory()
        let a = try db.testAgent(at: t0)
        let day = 86400.0
        var oldIDs: [String] = []
        for i in 0..<10 {
            let id = "aged-\(i)"
            oldIDs.append(id)
            _ = try store(db, agent: a, at: t0.addingTimeInterval(-10 * day + Double(i)), keep: 100, id: id)
        }
        _ = try store(db, agent: a, at: t0, keep: 100, id: "fresh")
        let service = ReportRetentionService(database: db, retention: ReportRetention(keepPerAgent: 100, bodyMaxAge: .init(seconds: 7 * day)),
                                             batch: 3, pause: .milliseconds(1), now: { self.t0 }, logger: Logger(label: "test"))
        #expect(try await service.sweep() == 10)
        #expect(try await service.sweep() == 0, "an emptied body is not counted again")
        let bodies = try db.read { d in
            try Row.fetchAll(d, sql: "SELECT id, length(bodyJSON) AS n FROM report").reduce(into: [String: Int]()) { $0[$1["id"]] = $1["n"] }
        }
        #expect(oldIDs.allSatisfy { bodies[$0] == 0 })
        #expect((bodies["fresh"] ?? 0) > 0)
        #expect(try store(db, agent: a, at: t0.addingTimeInterval(-10 * day), keep: 100, id: "aged-0").duplicate, "the row still answers the duplicate check")
    }

    @Test func theRetentionSettingsAreChecked() throws {
        let path = NSTemporaryDirectory() + "coord-\(UUID().uuidString).yaml"
        defer { unlink(path) }
        try "reportRetention:\n  keepPerAgent: 50\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CoordinatorConfig.load(path: path).reportRetention == ReportRetention(keepPerAgent: 50, bodyMaxAge: .init(seconds: 7 * 86400)))
        for (yaml, message) in [("reportRetention:\n  keepPerAgent: 1\n", "keepPerAgent must be 2-100000"),
                                ("reportRetention:\n  bodyMaxAge: 10m\n", "bodyMaxAge must be at least 1h"),
                                ("reportRetention:\n  keepForever: true\n", "keepForever")] {
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try CoordinatorConfig.load(path: path)
                Issue.record("accepted \(yaml)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// A database from before retention gets each agent's count of reports from its rows.
    @Test func theMigrationCountsTheReportsAlreadyStored() throws {
        let queue = try DatabaseQueue()
        try CoordinatorDatabase.migrator.migrate(queue, upTo: "v5-fleet-view-indexes")
        try queue.write { d in
            try d.execute(sql: """
                INSERT INTO agent (id, segment, hostname, agentVersion, enrolledAt, tokenID, certificateNotAfter)
                VALUES ('a1', 'dmz', 'h', 'v', ?, 't', ?)
                """, arguments: [t0, t0])
            for i in 0..<3 {
                try d.execute(sql: "INSERT INTO report (id, agentID, createdAt, receivedAt, spoolDropped, bodyJSON) VALUES (?, 'a1', ?, ?, 0, X'7B7D')",
                              arguments: ["r\(i)", t0, t0])
            }
        }
        let db = try CoordinatorDatabase(writer: queue)
        #expect(try db.agentDetail(id: "a1", now: t0)?.reportCount == 3)
    }
}
