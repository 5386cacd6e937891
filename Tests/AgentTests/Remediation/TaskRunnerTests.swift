import CordonShared
import Foundation
import Logging
import ServiceLifecycle
import Testing
@testable import CordonAgent

@Suite struct TaskRunnerTests {
    private func runner(_ f: RemediationFixture, _ uplink: FakeTaskUplink) -> TaskRunner {
        TaskRunner(processor: f.processor(), uplink: uplink, pollWait: 1, maxBackoff: 0.05, logger: Logger(label: "test.runner"))
    }

    @Test func postsRunningThenTheFinalStatusWithResultsAndSecrets() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["root"] = "$6$old$oldhash"
        let uplink = FakeTaskUplink()
        await runner(f, uplink).handle(try f.signed([.rotatePassword(user: "root", length: 30), .rescan], sequence: 1))
        #expect(uplink.acknowledged == ["run-1"], "the receipt is acknowledged: only then is it delivered on the coordinator")
        #expect(uplink.posted.map(\.taskID) == ["run-1", "run-1"])
        #expect(uplink.posted.map(\.update.state) == [.running, .succeeded])
        let final = try #require(uplink.posted.last?.update)
        #expect(final.results.map(\.outcome) == [.changed, .unchanged])
        let password = try Escrow.open(try #require(final.secrets.first), agentID: RemediationFixture.agentID, with: f.escrowKey)
        #expect(password.count == 30)
        #expect(f.store.undelivered().isEmpty)
        #expect(try f.store.record("run-1")?.delivered == true)
    }

    @Test func aConflictOnRunningMeansCancelledAndNothingRuns() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        uplink.runningAnswer["run-1"] = 409
        await runner(f, uplink).handle(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 1))
        #expect(f.fake.state.table == nil)
        #expect(f.fake.calls.isEmpty)
        #expect(uplink.posted.isEmpty)
        #expect(try f.store.record("run-1")?.final?.state == .cancelled)
    }

    @Test func aStatusThatCannotBeDeliveredIsKeptAndSentOnceLater() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        uplink.unreachable = true
        let r = runner(f, uplink)
        // Unreachable for `running` too: the list runs anyway, its status waits.
        await r.handle(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 1))
        #expect(f.fake.state.table == CordonPortSets(inboundTCP: [445]))
        #expect(f.store.undelivered().map(\.taskID) == ["run-1"])
        #expect(await r.deliverPending() == false)

        // A new runner (an agent restart) delivers it, once.
        uplink.unreachable = false
        let restarted = runner(f, uplink)
        #expect(await restarted.deliverPending())
        #expect(await restarted.deliverPending())
        #expect(uplink.posted.map(\.update.state) == [.succeeded])
        #expect(f.fake.calls.count == 1)  // one nft apply, and nothing re-executed

        // The coordinator delivers it again (it never saw the status in time): not re-run, re-sent.
        await restarted.handle(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 1))
        #expect(f.fake.calls.count == 1)
        #expect(uplink.posted.map(\.update.state) == [.succeeded, .succeeded])
    }

    @Test func aStatusTheCoordinatorRefusesForGoodIsNotResent() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        uplink.finalAnswer["run-1"] = 409
        let r = runner(f, uplink)
        await r.handle(try f.signed([.rescan], sequence: 1))
        let record = try #require(try f.store.record("run-1"))
        #expect(record.delivered)
        #expect(record.deliveryNote?.contains("409") == true)
        #expect(f.store.undelivered().isEmpty)
    }

    @Test func aListThatCannotBeTakenUpAtAllIsNotAcknowledgedAsHandled() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        // The sequence file is unreadable: nothing can be checked, nothing is recorded.
        try SecureFile.makeDirectory(f.store.directory, mode: 0o700)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: f.store.directory + "/sequence"))
        let handled = await runner(f, uplink).handle(try f.signed([.rescan], sequence: 1))
        #expect(!handled, "the service waits before the next poll instead of spinning on the same list")
        #expect(uplink.posted.isEmpty && f.hooks.rescans == 0)
    }

    @Test func localRefusalsReachTheCoordinatorOnce() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        let refusal = LocalRefusal(id: "lr-1", at: f.now, source: "apply", file: "/media/usb/x.json", fileSHA256: String(repeating: "0", count: 64),
                                   claimedTaskID: "run-9", claimedAgentID: "agt-other", reason: "the task list is for agent agt-other, not this one")
        try f.store.saveLocalRefusal(refusal)
        uplink.unreachable = true
        #expect(await runner(f, uplink).deliverPending() == false)
        #expect(f.store.localRefusals() == [refusal], "kept while the coordinator is away")
        uplink.unreachable = false
        #expect(await runner(f, uplink).deliverPending())
        #expect(await runner(f, uplink).deliverPending())
        #expect(uplink.refusals == [refusal])
        #expect(f.store.localRefusals().isEmpty)
    }

    @Test func refusalsAreReported() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        let r = runner(f, uplink)
        await r.handle(try f.signed([.stopService(unit: "ssh.service")], sequence: 1))
        await r.handle(try f.signed(f.list([.rescan], sequence: 2), key: .init()))
        #expect(uplink.posted.map(\.taskID) == ["run-1", "run-2"])
        #expect(uplink.posted.map(\.update.state) == [.refused, .refused])
        #expect(uplink.posted[0].update.message?.contains("protected unit") == true)
        #expect(uplink.posted[1].update.message?.contains("signature") == true)
        #expect(f.hooks.rescans == 0)
    }

    /// The service itself: reports an interrupted task at start, then polls, runs, reports,
    /// and stops on graceful shutdown.
    @Test func theServiceReportsInterruptedTasksThenRunsWhatArrives() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        var stuck = TaskRecord(list: f.list([.rescan, .rescan], sequence: 1), source: .coordinator, startedAt: f.now)
        stuck.results = [ActionResult(action: .rescan, outcome: .unchanged, detail: "scan requested")]
        stuck.inFlight = 1
        try f.store.save(stuck)
        try f.store.accept(sequence: 1, taskID: "run-1", now: f.now)

        let uplink = FakeTaskUplink()
        uplink.enqueue(try f.signed([.refreshInventory], sequence: 2))
        let service = runner(f, uplink)
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = Date().addingTimeInterval(10)
            while uplink.posted.count < 3 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(uplink.posted.map(\.taskID) == ["run-1", "run-2", "run-2"])
        #expect(uplink.posted.map(\.update.state) == [.interrupted, .running, .succeeded])
        #expect(uplink.posted[0].update.results.map(\.outcome) == [.unchanged, .failed])
        #expect(uplink.shutDown)
        #expect(f.hooks.rescans == 0 && f.hooks.refreshes == 1)
    }

    @Test func theServiceBacksOffWhileTheCoordinatorIsDown() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let uplink = FakeTaskUplink()
        uplink.unreachable = true
        let service = runner(f, uplink)
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(300))
            uplink.unreachable = false
            uplink.enqueue(try f.signed([.rescan], sequence: 1))
            let deadline = Date().addingTimeInterval(10)
            while uplink.posted.count < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(uplink.posted.map(\.update.state) == [.running, .succeeded])
    }
}
