@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

@Suite struct SpoolLiveTests {
    @Test func coordinatorStoppedMidRunThenRestartedEveryReportArrivesExactlyOnce() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        #expect(await agent.service.runOnce())

        await fleet.stopCoordinator()
        for _ in 0..<5 { #expect(await !agent.service.runOnce(), "the coordinator is down") }
        #expect(agent.service.spool.depth == 5)
        let spooledIDs = try agent.service.spool.entries().map { try CordonJSON.decode(AgentReport.self, from: agent.service.spool.read($0)).id }

        try await fleet.restartCoordinator()
        #expect(await agent.service.runOnce())
        #expect(agent.service.spool.depth == 0)
        let stored = try fleet.database.reportIDs(agentID: agent.id)
        #expect(stored.count == 7, "1 before, 5 spooled, 1 after")
        #expect(Set(stored).count == stored.count, "no report stored twice")
        #expect(Set(spooledIDs).isSubset(of: Set(stored)))
        // Delivered in the order they were made.
        let positions = spooledIDs.compactMap { stored.firstIndex(of: $0) }
        #expect(positions == positions.sorted())
        #expect(agent.stateDir.loadStatus().consecutiveFailures == 0)
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func theRunningServiceRidesOutAnOutage() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent { c in
            c.reportInterval = .init(seconds: 0.2)
            c.heartbeatInterval = .init(seconds: 0.2)
            c.maxBackoff = .init(seconds: 0.3)
        }
        let runner = Task { try await agent.service.run() }
        try await Task.sleep(for: .milliseconds(700))
        await fleet.stopCoordinator()
        try await Task.sleep(for: .milliseconds(1000))
        #expect(agent.service.spool.depth >= 2, "reports pile up in the spool during the outage")
        try await fleet.restartCoordinator()
        // Wait (bounded) for the spool to drain.
        let deadline = Date().addingTimeInterval(10)
        while agent.service.spool.depth > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        runner.cancel()
        _ = try? await runner.value
        #expect(agent.service.spool.depth == 0)
        let stored = try fleet.database.reportIDs(agentID: agent.id)
        #expect(stored.count >= 4)
        #expect(Set(stored).count == stored.count)
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aFullSpoolDropsTheOldestAndTheNextReportCarriesTheCount() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let small = try Spool(directory: agent.stateDir.path + "/small-spool", maxBytes: 2500)
        let uplink = agent.service.uplink
        let service = AgentService(config: agent.config, uplink: uplink, spool: small, logger: fleet.logger)
        await fleet.stopCoordinator()
        for _ in 0..<12 { await service.runOnce() }
        let depth = small.depth
        #expect(depth < 12)
        #expect(small.bytes <= 2500)
        let droppedSoFar = small.pendingDrops + small.entries().reduce(0) { $0 + $1.carriedDrops }
        #expect(droppedSoFar == 12 - depth, "every dropped report is counted exactly once")

        try await fleet.restartCoordinator()
        #expect(await service.runOnce())
        #expect(small.depth == 0)
        // 13 reports made in all: each one either arrived or was counted as dropped, never both.
        // Appending the 13th may itself have dropped the oldest: that count waits for the next report.
        let stored = try fleet.database.reportCount(agentID: agent.id)
        let summary = try #require(try fleet.database.agentSummaries().first)
        #expect(stored + summary.spoolDroppedTotal + small.pendingDrops == 13)
        #expect(summary.spoolDroppedTotal == 12 - depth, "the drops made while offline reached the coordinator")
        #expect(await service.runOnce())
        let after = try #require(try fleet.database.agentSummaries().first)
        #expect(try fleet.database.reportCount(agentID: agent.id) + after.spoolDroppedTotal == 14)
        #expect(small.pendingDrops == 0)
        let status: FleetStatus = try await fleet.withOperator { try await $0.get(APIPath.status) }
        #expect(status.segments.first?.spoolDropped == after.spoolDroppedTotal)
        await uplink.shutdown()
        await fleet.finish()
    }
}
