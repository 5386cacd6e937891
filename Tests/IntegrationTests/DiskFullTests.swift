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
    static func mountTmpfs(size: String) throws -> String {
        let mountPoint = NSTemporaryDirectory() + "cordon-full-\(UUID().uuidString.prefix(8))"
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
}
