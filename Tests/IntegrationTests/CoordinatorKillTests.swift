@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The coordinator is killed with SIGKILL while agents report, then started again on the same
/// state: the database is intact, every report an agent made is stored exactly once (those
/// acknowledged before the kill, and those spooled across it), and the agents recover by
/// themselves.
@Suite(.serialized) struct CoordinatorKillTests {
    /// Records the ID of every report an agent makes.
    final class ReportLedger: ReportComposer, @unchecked Sendable {
        let made = Mutex<[String]>([])
        func compose(into report: inout AgentReport) async { let id = report.id; made.withLock { $0.append(id) } }
    }

    @Test func killNineMidLoadLosesNothingAndStoresNothingTwice() async throws {
        let root = NSTemporaryDirectory() + "cordon-kill-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let served = try await ServedCoordinator.initialize(root: root)
        let fingerprint = served.caFingerprint
        var (coordinator, port) = try await served.serve(port: "0")
        let url = "https://127.0.0.1:\(port)"
        let tokenValue = try await served.token(url: url, uses: 8)

        var logger = Logger(label: "kill-test")
        logger.logLevel = .critical
        var agents: [(id: String, service: AgentService, ledger: ReportLedger)] = []
        for i in 0..<8 {
            let stateDir = AgentStateDir(root + "/agent-\(i)")
            let record = try await Enroller(stateDir: stateDir, logger: logger).enroll(coordinator: url, token: tokenValue, caFingerprint: fingerprint,
                                                                                        hostname: "jump-\(i)")
            var config = AgentConfig(stateDir: stateDir.path)
            config.reportInterval = .init(seconds: 0.2)
            config.heartbeatInterval = .init(seconds: 0.5)
            config.maxBackoff = .init(seconds: 0.5)
            let ledger = ReportLedger()
            let service = AgentService(config: config, uplink: try Uplink(stateDir: stateDir, logger: logger),
                                       spool: try Spool(directory: stateDir.spoolDirectory, maxBytes: 64 << 20), composers: [ledger], logger: logger)
            agents.append((record.agentID, service, ledger))
        }
        let running = agents.map { agent in Task { try await agent.service.run() } }

        try await Task.sleep(for: .seconds(2))
        coordinator.signal(SIGKILL)
        _ = await coordinator.wait(timeout: 10)
        try await Task.sleep(for: .seconds(1))    // the agents spool meanwhile
        (coordinator, port) = try await served.serve(port: port)
        defer { coordinator.signal(SIGKILL) }
        try await Task.sleep(for: .seconds(3))    // they come back by themselves

        for task in running { task.cancel() }
        for task in running { _ = try? await task.value }
        // What is still spooled goes now.
        for agent in agents { #expect(await agent.service.runOnce(), "agent \(agent.id) reaches the restarted coordinator") }

        coordinator.signal(SIGTERM)
        _ = await coordinator.wait(timeout: 20)
        let database = try DatabaseQueue(path: served.database)
        #expect(try await database.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        var total = 0
        for agent in agents {
            let made = agent.ledger.made.withLock { $0 }
            let stored = try await database.read { try String.fetchAll($0, sql: "SELECT id FROM report WHERE agentID = ?", arguments: [agent.id]) }
            let received = try await database.read { try Int.fetchOne($0, sql: "SELECT reportsReceived FROM agent WHERE id = ?", arguments: [agent.id]) }
            total += made.count
            #expect(made.count >= 10, "agent \(agent.id) made only \(made.count) reports")
            // Every report stored once: the agent's count of stored reports (a duplicate is not
            // counted, a lost one is missing) equals what it made. Retention keeps the newest rows.
            #expect(received == made.count, "agent \(agent.id): made \(made.count), stored \(received ?? -1)")
            #expect(Set(stored).isSubset(of: Set(made)) && stored.count == min(made.count, ReportRetention().keepPerAgent),
                    "agent \(agent.id): made \(made.count), \(stored.count) rows kept")
            #expect(stored.count == Set(stored).count, "no report stored twice")
            #expect(agent.service.spool.depth == 0 && agent.service.spool.pendingDrops == 0)
            await agent.service.uplink.shutdown()
        }
        Swift.print("kill -9 mid-load: \(agents.count) agents, \(total) reports made, all stored once; integrity_check ok")
    }
}
