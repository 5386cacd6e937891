@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The coordinator's disk fills during an outbreak: requests that would write get 503 with a
/// reason and a Retry-After, nothing half-written is left, and once space returns the same
/// report is stored (once).
@Suite(.serialized) struct DiskFullTests {
    static func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A new directory with a tmpfs of `size` on it (removed by ``unmount(_:)``).
    static func mountTmpfs(size: String, at path: String? = nil) throws -> String {
        let mountPoint = path ?? NSTemporaryDirectory() + "cordon-full-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint]) == 0 else {
            try? FileManager.default.removeItem(atPath: mountPoint)
            throw CordonError.io("cannot mount a tmpfs on \(mountPoint)")
        }
        return mountPoint
    }

    static func unmount(_ mountPoint: String) {
        _ = try? run("/bin/umount", ["-l", mountPoint])
        try? FileManager.default.removeItem(atPath: mountPoint)
    }

    /// Writes zeros until the file system is full; returns the bytes written.
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            total += n
        }
        // The last partial blocks too.
        let one = [UInt8](repeating: 0, count: 512)
        while one.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 { total += 512 }
        return total
    }

    /// The agent's own disk fills: a report that cannot be spooled is counted as dropped (the
    /// count reaches the coordinator with the next report that fits), what the spool holds is
    /// untouched and no half-written file is left, and the agent keeps heartbeating and
    /// delivering what it holds.
    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root"))
    func theAgentsFullDiskCountsTheLostReportAndKeepsHeartbeating() async throws {
        let mountPoint = try Self.mountTmpfs(size: "2m")
        defer { Self.unmount(mountPoint) }
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let spool = try Spool(directory: mountPoint + "/spool", maxBytes: 64 << 20)
        let service = AgentService(config: agent.config, uplink: agent.service.uplink, spool: spool, logger: fleet.logger)

        // Two reports spooled while the coordinator is down.
        await fleet.stopCoordinator()
        for _ in 0..<2 { #expect(await !service.runOnce()) }
        let held = try spool.entries().map { try spool.read($0) }
        #expect(held.count == 2)

        // The disk fills. Spooling fails, is counted, and leaves what is there as it was.
        #expect(Self.fill(mountPoint + "/filler") > 0)
        #expect(throws: AgentError.self) { try spool.append(Data(repeating: 0x7B, count: 256 * 1024), carriedDrops: 2) }
        #expect(spool.pendingDrops == 3, "the report and the two drops it carried")
        #expect(try spool.entries().map { try spool.read($0) } == held)
        let names = try FileManager.default.contentsOfDirectory(atPath: mountPoint + "/spool").sorted()
        #expect(names == spool.entries().map { ($0.path as NSString).lastPathComponent }.sorted(), "no half-written file: \(names)")

        // The coordinator is back, the disk still full: the heartbeat goes and the spool drains.
        try await fleet.restartCoordinator()
        #expect(await service.runOnce(), "heartbeat and delivery work on a full disk")
        #expect(spool.depth == 0)
        #expect(try fleet.database.reportIDs(agentID: agent.id).count == 2)
        #expect(spool.pendingDrops == 4, "the report made on the full disk is counted too")

        // Space returns: the next report carries the count.
        #expect(unlink(mountPoint + "/filler") == 0)
        #expect(await service.runOnce())
        #expect(try fleet.database.reportIDs(agentID: agent.id).count == 3)
        #expect(try fleet.database.agentDetail(id: agent.id)?.agent.spoolDroppedTotal == 4)
        #expect(spool.pendingDrops == 0)
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root"))
    func aFullDiskGets503WithRetryAfterAndTheReportIsStoredOnceSpaceReturns() async throws {
        let mountPoint = try Self.mountTmpfs(size: "8m")
        defer { Self.unmount(mountPoint) }
        let fleet = try await LiveFleet.start(root: mountPoint + "/state")
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let id = UUID().uuidString.lowercased()
        // A report with an inventory-sized body, so the write needs pages the disk no longer has.
        let report = try ProtocolLiveTests.reportJSON(id: id, padding: 256 * 1024)

        let filled = Self.fill(mountPoint + "/filler")
        #expect(filled > 0)
        let full = try await client.send(.POST, APIPath.reports, body: report)
        #expect(full.status == 503, "\(full.status) \(String(decoding: full.body, as: UTF8.self))")
        #expect(full.header("Retry-After") == "60")
        #expect(full.error?.error == APIErrorCode.storageUnavailable)
        #expect(full.error?.message.contains("disk is full") == true, "\(full.error?.message ?? "")")
        // Reads still work, and the database is intact.
        let operatorClient = try fleet.rawAsOperator()
        let status = try await operatorClient.send(.GET, APIPath.status)
        await operatorClient.shutdown()
        #expect(status.status == 200)
        let check = try await fleet.database.writer.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
        #expect(try fleet.database.reportCount() == 0, "nothing was stored while the disk was full")
        #expect(unlink(mountPoint + "/filler") == 0)

        // Space is back: the agent's retry of the same report is stored, once.
        let again = try await client.send(.POST, APIPath.reports, body: report)
        #expect(again.status == 201)
        let duplicate = try await client.send(.POST, APIPath.reports, body: report)
        #expect(duplicate.status == 200 && (try? CordonJSON.decode(ReportAck.self, from: duplicate.body))?.duplicate == true)
        #expect(try fleet.database.reportCount() == 1)
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    /// Pads every report to an inventory's size, so that storing it needs pages a full disk
    /// no longer has.
    struct Padding: ReportComposer {
        func compose(into report: inout AgentReport) async { report.facts.osRelease = String(repeating: "x", count: 48 * 1024) }
    }

    /// The coordinator's disk fills under a fleet that keeps reporting: the agents back off
    /// while it answers 503 (their request rate falls instead of hammering it), spool what
    /// they make, and once space returns they deliver it without a storm: each spooled report
    /// once, no duplicate resends, the rate in the first seconds after bounded. Prints the
    /// request rates it measured.
    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root"))
    func afterAFullDiskTheAgentsComeBackWithoutAStorm() async throws {
        let root = NSTemporaryDirectory() + "cordon-storm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/coordinator", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Only the coordinator's state is on the small disk; the agents' spools are not.
        let mountPoint = try Self.mountTmpfs(size: "96m", at: root + "/coordinator")
        defer { Self.unmount(mountPoint) }
        let fleet = try await LiveFleet.start(root: root)
        var agents: [TestAgent] = []
        for i in 0..<12 {
            agents.append(try await fleet.enrollAgent(name: "jump-\(i)") { config in
                config.heartbeatInterval = .init(seconds: 1)
                config.reportInterval = .init(seconds: 2)
                config.maxBackoff = .init(seconds: 8)
            })
        }
        let services = agents.map { agent in
            AgentService(config: agent.config, uplink: agent.service.uplink, spool: agent.service.spool, composers: [Padding()], logger: fleet.logger)
        }
        let running = services.map { service in Task { try? await service.run() } }
        let stats = fleet.coordinator.api.requestStats
        /// Requests per second over `seconds`, sampled each second.
        func rates(for seconds: Int) async throws -> [Int] {
            var last = stats.snapshot.total, out: [Int] = []
            for _ in 0..<seconds {
                try await Task.sleep(for: .seconds(1))
                let now = stats.snapshot.total
                out.append(now - last)
                last = now
            }
            return out
        }

        let steady = try await rates(for: 6)
        let filled = Self.fill(mountPoint + "/filler")
        #expect(filled > 0)
        let beforeFull = stats.snapshot
        let whileFull = try await rates(for: 20)
        let duringFull = stats.snapshot
        #expect(duringFull.count(503) - beforeFull.count(503) > 0, "the full disk was noticed: \(duringFull.byStatus)")
        #expect(unlink(mountPoint + "/filler") == 0)
        let after = try await rates(for: 20)
        let end = stats.snapshot

        for task in running { task.cancel() }
        for task in running { await task.value }
        for service in services { #expect(await service.runOnce(), "everything spooled is delivered") }

        func mean(_ values: ArraySlice<Int>) -> Double { values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count) }
        let steadyRate = mean(steady[1...]), lateFullRate = mean(whileFull.suffix(8)), peakAfter = after.max() ?? 0
        Swift.print("full disk under 12 agents: steady \(String(format: "%.1f", steadyRate)) req/s; while full \(whileFull) req/s "
                    + "(503s: \(duringFull.count(503) - beforeFull.count(503))); after space returns \(after) req/s, peak \(peakAfter); "
                    + "5xx after: \(end.serverErrors - duringFull.serverErrors)")
        // Backing off: late in the outage they ask far less often than in steady state.
        #expect(lateFullRate < steadyRate / 2, "agents back off while the disk is full")
        // No storm: the busiest second after is within a few steady seconds' worth.
        #expect(Double(peakAfter) <= 4 * steadyRate + 12, "no resend storm once space returns")
        #expect(end.serverErrors == duringFull.serverErrors, "no 5xx once space returned")
        let database = try DatabaseQueue(path: fleet.stateDir.database)
        #expect(try await database.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try await database.read { try Int.fetchOne($0, sql: "SELECT count(*) - count(DISTINCT id) FROM report") } == 0)
        for service in services { #expect(service.spool.depth == 0) }
        for agent in agents { await agent.service.uplink.shutdown() }
        await fleet.finish()
    }
}
