@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The coordinator is restarted (SIGTERM, start again on the same state) while a thousand
/// real agents hold long-polls and heartbeat: they come back by themselves, spread by their
/// backoff's jitter, without a 5xx once the coordinator is up again. Prints how long the
/// restart took and how long until every agent was back online.
///
/// `CORDON_RESTART_AGENTS` sets the number of agents (default 1,000).
@Suite(.serialized) struct RestartUnderLoadTests {
    @Test func agentsHoldingLongPollsComeBackAfterARestart() async throws {
        let count = Int(ProcessInfo.processInfo.environment["CORDON_RESTART_AGENTS"] ?? "") ?? 1_000
        // Two connections per agent on this side, and as many on the coordinator's.
        let limit = FileDescriptorLimit.raiseToHardLimit()
        try #require(limit > 2 * count + 256, "this test needs \(2 * count + 256) file descriptors; the hard limit is \(limit)")

        let root = NSTemporaryDirectory() + "cordon-restart-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let served = try await ServedCoordinator.initialize(root: root)
        let fingerprint = served.caFingerprint
        var (coordinator, port) = try await served.serve(port: "0", logLevel: "notice")
        defer { coordinator.signal(SIGKILL) }
        let url = "https://127.0.0.1:\(port)"
        let tokenValue = try await served.token(url: url, uses: count)

        var logger = Logger(label: "restart-test")
        logger.logLevel = .critical
        let clock = ContinuousClock()
        let enrollStart = clock.now
        let quiet = logger
        var records: [AgentRecordForTest] = []
        for batch in stride(from: 0, to: count, by: 8) {
            records += try await withThrowingTaskGroup(of: (Int, AgentRecordForTest).self) { group in
                for i in batch..<min(batch + 8, count) {
                    group.addTask {
                        let stateDir = AgentStateDir(root + "/agent-\(i)")
                        let record = try await Enroller(stateDir: stateDir, logger: quiet)
                            .enroll(coordinator: url, token: tokenValue, caFingerprint: fingerprint, hostname: "jump-\(i)")
                        return (i, AgentRecordForTest(id: record.agentID, stateDir: stateDir))
                    }
                }
                var done: [(Int, AgentRecordForTest)] = []
                for try await item in group { done.append(item) }
                return done.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        let enrolled = clock.now - enrollStart

        // Each agent: the heartbeat loop and the task runner's long-poll, as `cordon-agent run` has them.
        var tasks: [Task<Void, Never>] = []
        var uplinks: [Uplink] = []
        for record in records {
            var config = AgentConfig(stateDir: record.stateDir.path)
            config.heartbeatInterval = .init(seconds: 5)
            config.reportInterval = .init(seconds: 3600)
            config.maxBackoff = .init(seconds: 10)
            let uplink = try Uplink(stateDir: record.stateDir, logger: logger)
            uplinks.append(uplink)
            let service = AgentService(config: config, uplink: uplink, spool: try Spool(directory: record.stateDir.spoolDirectory, maxBytes: 1 << 20),
                                       composers: [], logger: logger)
            let jumpRoot = record.stateDir.path + "/root"
            try FileManager.default.createDirectory(atPath: jumpRoot, withIntermediateDirectories: true)
            let executor = RemediationExecutor(system: .sandbox(root: jumpRoot), backups: BackupStore(directory: record.stateDir.backupsDirectory),
                                               hooks: AgentRemediationHooks(rescan: {}, refreshInventory: {}), logger: logger)
            let processor = TaskProcessor(stateDir: record.stateDir, agentID: record.id, policyFile: jumpRoot + "/policy.yaml", executor: executor, logger: logger)
            let runner = TaskRunner(processor: processor, uplink: uplink, pollWait: 30, maxBackoff: 10, logger: logger)
            tasks.append(Task { try? await service.run() })
            tasks.append(Task { try? await runner.run() })
        }
        defer { for task in tasks { task.cancel() } }

        let database = try DatabaseQueue(path: served.database, configuration: { var c = Configuration(); c.readonly = true; return c }())
        /// Agents whose last contact is at or after `since`.
        func seen(since: Date) async throws -> Set<String> {
            Set(try await database.read { db in
                try String.fetchAll(db, sql: "SELECT id FROM agent WHERE lastSeenAt >= ?", arguments: [since])
            })
        }
        let startedAt = Date()
        var online = 0
        for _ in 0..<600 where online < count {
            try await Task.sleep(for: .milliseconds(200))
            online = try await seen(since: startedAt.addingTimeInterval(-1)).count
        }
        try #require(online == count, "only \(online) of \(count) agents came online before the restart")
        try await Task.sleep(for: .seconds(3))   // their long-polls are held now

        // The restart, as `systemctl restart cordon` does it.
        let stopAt = clock.now
        coordinator.signal(SIGTERM)
        let exit = await coordinator.wait(timeout: 60)
        let stopped = clock.now - stopAt
        #expect(exit == 0, "the coordinator stops cleanly with \(count) long-polls held: \(coordinator.stderr.suffix(2000))")
        // Held polls are answered at once and a closing connection waits at most 1 s for the
        // client's close_notify (it waited NIOSSL's default 5 s, the whole of the stop time).
        #expect(stopped < .seconds(5), "a restart does not wait for the agents' connections: stop took \(stopped)")
        let before = coordinator.stderr
        let restartedAt = Date()
        let startAt = clock.now
        (coordinator, port) = try await served.serve(port: port, logLevel: "notice")

        // When each agent is first seen again, to 0.1 s.
        var firstSeen: [String: Duration] = [:]
        while firstSeen.count < count && clock.now - startAt < .seconds(120) {
            for id in try await seen(since: restartedAt) where firstSeen[id] == nil { firstSeen[id] = clock.now - startAt }
            try await Task.sleep(for: .milliseconds(100))
        }
        let backOnline = firstSeen.values.max() ?? .zero
        try await Task.sleep(for: .seconds(5))   // settled: every agent heartbeats and polls again
        let after = coordinator.stderr
        let errors = after.split(separator: "\n").filter { $0.contains("request failed") || $0.contains("cannot write") || $0.contains("Fatal error") }
        let arrivals = firstSeen.values.sorted()
        func seconds(_ d: Duration) -> String { String(format: "%.1f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        Swift.print("restart under load: \(count) agents (enrolled in \(seconds(enrolled))), long-polls held; stop took \(seconds(stopped)); "
                    + "back online: first \(seconds(arrivals.first ?? .zero)), median \(seconds(arrivals.isEmpty ? .zero : arrivals[arrivals.count / 2])), "
                    + "all \(seconds(backOnline)); 5xx logged after the restart: \(errors.count)")

        #expect(firstSeen.count == count, "\(count - firstSeen.count) agents did not come back within 120 s")
        #expect(errors.isEmpty, "no 5xx once the coordinator is up again: \(errors.prefix(5))")
        #expect(!before.contains("Fatal error"))
        // Spread by jitter: they do not all arrive in the same tenth of a second.
        #expect(arrivals.count < 10 || arrivals[arrivals.count * 9 / 10] - arrivals[arrivals.count / 10] > .milliseconds(300),
                "reconnections are spread out")

        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for uplink in uplinks { await uplink.shutdown() }
        coordinator.signal(SIGTERM)
        _ = await coordinator.wait(timeout: 30)
    }

    struct AgentRecordForTest: Sendable {
        var id: String
        var stateDir: AgentStateDir
    }
}
