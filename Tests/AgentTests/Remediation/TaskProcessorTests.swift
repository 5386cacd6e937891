import CordonShared
import Crypto
import Foundation
import Synchronization
import Testing
@testable import CordonAgent

@Suite struct TaskProcessorTests {
    private func refusal(_ outcome: TaskProcessor.Outcome) -> (taskID: String?, update: TaskStatusUpdate, recorded: Bool)? {
        if case .refused(let id, let update, let recorded) = outcome { return (id, update, recorded) }
        return nil
    }

    private func finished(_ outcome: TaskProcessor.Outcome) -> TaskRecord? {
        if case .finished(let record) = outcome { return record }
        return nil
    }

    @Test func aGenuineListRunsOnceRecordsItsSequenceFirstAndKeepsItsStatus() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let store = f.store
        // When chpasswd runs, the sequence and the journal are already on disk.
        let seen = Mutex<(sequence: Int64, journal: TaskRecord?)>((-1, nil))
        f.fake.onSetPassword = { seen.withLock { $0 = ((try? store.lastSequence()) ?? -1, try? store.record("run-7")) } }
        let processor = f.processor()
        let outcome = await processor.process(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound), .rotatePassword(user: "alice", length: 24)],
                                                           sequence: 7), mode: .run(.coordinator))
        let record = try #require(finished(outcome))
        #expect(record.final?.state == .succeeded)
        #expect(record.final?.results.map(\.outcome) == [.changed, .changed])
        #expect(record.final?.secrets.count == 1)
        #expect(record.delivered == false)
        #expect(try store.lastSequence() == 7)
        let (sequenceAtChange, journalAtChange) = seen.withLock { $0 }
        #expect(sequenceAtChange == 7)
        #expect(journalAtChange?.phase == .running)
        #expect(journalAtChange?.inFlight == 1)
        #expect(journalAtChange?.results.map(\.outcome) == [.changed])
        #expect(journalAtChange?.pendingSecret?.user == "alice")
        #expect(try store.record("run-7") == record)

        // The same list again: nothing runs, the earlier answer is given.
        let calls = f.fake.calls.count
        let again = await processor.process(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound), .rotatePassword(user: "alice", length: 24)],
                                                         sequence: 7), mode: .run(.coordinator))
        guard case .alreadyHandled(let earlier) = again else { Issue.record("expected alreadyHandled, got \(again)"); return }
        #expect(earlier.final?.state == .succeeded)
        #expect(f.fake.calls.count == calls)
    }

    @Test func verificationRefusalsChangeNothing() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let processor = f.processor()
        // Sequence 5 is the last seen.
        _ = await processor.process(try f.signed([.rescan], sequence: 5), mode: .run(.coordinator))
        let hostBefore = f.fake.state, stateBefore = f.taskStateSnapshot()
        let action: [TaskAction] = [.rotatePassword(user: "alice", length: 24)]

        let forged = try f.signed(f.list(action, sequence: 6), key: Curve25519.Signing.PrivateKey())
        var tampered = try f.signed(f.list([.rescan], sequence: 6))
        tampered.payload = try CordonJSON.encode(f.list(action, sequence: 6))
        let cases: [(String, SignedTaskList, String, Bool)] = [
            ("forged", forged, "signature", false),
            ("tampered", tampered, "signature", false),
            ("other agent", try f.signed(f.list(action, sequence: 6, agentID: "jump-lan")), "for agent jump-lan", false),
            ("expired", try f.signed(f.list(action, sequence: 6, expiresIn: -1)), "expired", true),
            ("replayed", try f.signed(f.list(action, sequence: 5, id: "run-old")), "already accepted", true),
        ]
        for (name, signed, reason, recorded) in cases {
            let outcome = await processor.process(signed, mode: .run(.coordinator))
            let refused = try #require(refusal(outcome), "\(name): \(outcome)")
            #expect(refused.update.state == .refused, "\(name)")
            #expect(refused.update.message?.contains(reason) == true, "\(name): \(refused.update.message ?? "")")
            #expect(refused.recorded == recorded, "\(name)")
            #expect(f.fake.state == hostBefore, "\(name)")
            #expect(f.fake.calls.isEmpty, "\(name)")
            #expect(try f.store.lastSequence() == 5, "\(name)")
            if !recorded { #expect(f.taskStateSnapshot() == stateBefore, "\(name)") }
        }
        // The recorded refusals wait for delivery.
        #expect(Set(f.store.undelivered().map(\.taskID)).isSuperset(of: ["run-6", "run-old"]))
    }

    @Test func aListNeverAcceptedRunsOnceEvenAfterAHigherSequenceRan() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let processor = f.processor()
        // 5 ran first (applied from an export, or delivered first): 3 was never run, so it is no replay.
        _ = await processor.process(try f.signed(f.list([.rescan], sequence: 5, id: "run-5")), mode: .run(.coordinator))
        let three = await processor.process(try f.signed(f.list([.rescan], sequence: 3, id: "run-3")), mode: .run(.file))
        #expect(finished(three)?.final?.state == .succeeded, "\(three)")
        #expect(try f.store.acceptedSequences().ranges == [[3, 3], [5, 5]])
        // ... and only once, even under another ID.
        let again = await processor.process(try f.signed(f.list([.rescan], sequence: 3, id: "run-3b")), mode: .run(.coordinator))
        #expect(refusal(again)?.update.message?.contains("already accepted") == true, "\(again)")
        // A store written by an older agent (only the highest number) still refuses everything up to it.
        try Data(#"{"lastSequence": 9, "taskID": "x", "at": "2026-01-01T00:00:00Z"}"#.utf8).write(to: URL(fileURLWithPath: f.store.directory + "/sequence"))
        #expect(try f.store.acceptedSequences().ranges == [[1, 9]])
        let four = await processor.process(try f.signed(f.list([.rescan], sequence: 4, id: "run-4")), mode: .run(.coordinator))
        #expect(refusal(four) != nil)
    }

    @Test func policyRefusesTheWholeListBeforeAnythingRuns() async throws {
        let f = try RemediationFixture(policy: """
            allowedActions: [block-ports, stop-service, rotate-password, rescan]
            protectedAccounts: [operator]
            protectedUnits: [nginx.service]
            protectedPorts: {udp: [53]}
            """)
        defer { f.remove() }
        f.fake.state.shadow["operator"] = "$6$x$y"
        f.fake.state.units["ssh.service"] = UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled")
        let processor = f.processor()
        let block: TaskAction = .blockPorts(tcp: [445], udp: [], direction: .inbound)
        let cases: [([TaskAction], String)] = [
            ([block, .purgeAtJobs(user: nil)], "purge-at-jobs is not allowed"),
            ([block, .rotatePassword(user: "operator", length: 24)], "operator is a protected account"),
            ([block, .stopService(unit: "ssh.service")], "ssh.service is a protected unit"),
            ([block, .stopService(unit: "cordon-agent.service")], "cordon-agent.service is a protected unit"),
            ([block, .stopService(unit: "nginx.service")], "nginx.service is a protected unit"),
            ([.blockPorts(tcp: [22, 445], udp: [], direction: .both)], "tcp/22 may not be blocked"),
            ([.blockPorts(tcp: [8443], udp: [], direction: .outbound)], "tcp/8443 may not be blocked"),
            ([.blockPorts(tcp: [], udp: [53], direction: .inbound)], "udp/53 may not be blocked"),
        ]
        for (index, (actions, reason)) in cases.enumerated() {
            let outcome = await processor.process(try f.signed(actions, sequence: Int64(index + 1)), mode: .run(.coordinator))
            let refused = try #require(refusal(outcome))
            #expect(refused.update.message?.contains(reason) == true, "\(refused.update.message ?? "")")
            #expect(refused.update.results.count == actions.count)
            #expect(refused.update.results.contains { $0.outcome == .refused })
            #expect(refused.recorded)
            #expect(f.fake.state.table == nil)
            #expect(f.fake.calls.isEmpty)
        }
    }

    @Test func aProtectedTimerCannotBeRemovedUnderItsTaskID() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let entry = ScheduledTaskEntry(id: "systemd-timer:0123456789abcdef", kind: .systemdTimer, source: "/etc/systemd/system/nginx.service",
                                       line: nil, user: "root", schedule: "", command: "", enabled: true, suspiciousPaths: [])
        f.fake.scheduled = .ok(ScheduledTaskInventory(entries: [entry], sources: [], unreadable: [], truncated: false, skippedLines: 0, notes: []))
        let outcome = await f.processor().process(try f.signed([.removeScheduledTask(id: entry.id)], sequence: 1), mode: .run(.coordinator))
        #expect(refusal(outcome)?.update.message?.contains("nginx.service is a protected unit") == true)
    }

    @Test func withoutAPolicyFileOnlyTheHarmlessActionsRun() async throws {
        let f = try RemediationFixture(policy: nil)
        defer { f.remove() }
        let processor = f.processor()
        let refused = try #require(refusal(await processor.process(try f.signed([.rescan, .blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 1),
                                                                   mode: .run(.coordinator))))
        #expect(refused.update.message?.contains("there is no local policy file \(f.policyFile)") == true)
        #expect(refused.update.message?.contains("only refresh-inventory and rescan may run") == true)
        #expect(f.hooks.rescans == 0)
        let ran = try #require(finished(await processor.process(try f.signed([.rescan, .refreshInventory], sequence: 2), mode: .run(.coordinator))))
        #expect(ran.final?.state == .succeeded)
        #expect(f.hooks.rescans == 1)
    }

    @Test func anInvalidPolicyFileRefusesEverything() async throws {
        let f = try RemediationFixture(policy: "allowedActions: [rescan]\nprotectedUser: [root]\n")
        defer { f.remove() }
        let refused = try #require(refusal(await f.processor().process(try f.signed([.rescan], sequence: 1), mode: .run(.coordinator))))
        #expect(refused.update.message?.contains("unknown key 'protectedUser'") == true)
        #expect(f.hooks.rescans == 0)
    }

    @Test func anUnreadableSequenceFileRefusesRatherThanStartingOver() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        try SecureFile.makeDirectory(f.stateDir.tasksDirectory)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: f.stateDir.tasksDirectory + "/sequence"))
        let refused = try #require(refusal(await f.processor().process(try f.signed([.rescan], sequence: 1), mode: .run(.coordinator))))
        #expect(refused.update.message?.contains("unreadable") == true)
        #expect(f.hooks.rescans == 0)
    }

    @Test func aMissingTaskKeyRefuses() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        unlink(f.stateDir.taskSigningKey)
        let refused = try #require(refusal(await f.processor().process(try f.signed([.rescan], sequence: 1), mode: .run(.coordinator))))
        #expect(refused.update.message?.contains("task-signing key") == true)
    }

    @Test func aPreviewChecksEverythingButRecordsNothing() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let processor = f.processor()
        let signed = try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 3)
        let preview = await processor.process(signed, mode: .preview)
        guard case .previewed(let id, let update) = preview else { Issue.record("\(preview)"); return }
        #expect(id == "run-3")
        #expect(update.results.map(\.outcome) == [.wouldChange])
        #expect(f.fake.state.table == nil)
        #expect(try f.store.lastSequence() == 0)
        #expect(f.store.allRecords().records.isEmpty)
        // ...so it can still run for real.
        #expect(finished(await processor.process(signed, mode: .run(.file)))?.final?.state == .succeeded)
        #expect(f.fake.state.table == CordonPortSets(inboundTCP: [445]))
        // A preview of a refused list says so.
        let refused = await processor.process(try f.signed([.blockPorts(tcp: [22], udp: [], direction: .inbound)], sequence: 4), mode: .preview)
        #expect(refusal(refused)?.recorded == false)
    }

    @Test func aDryRunListConsumesItsSequenceAndChangesNothing() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let before = f.fake.state
        let record = try #require(finished(await f.processor().process(
            try f.signed([.rotatePassword(user: "alice", length: 24), .blockPorts(tcp: [445], udp: [], direction: .both)], sequence: 1, dryRun: true),
            mode: .run(.coordinator))))
        #expect(record.final?.results.map(\.outcome) == [.wouldChange, .wouldChange])
        #expect(record.final?.message?.hasPrefix("dry run") == true)
        #expect(record.final?.secrets.isEmpty == true)
        #expect(f.fake.state == before)
        #expect(f.backups.list().isEmpty)
        #expect(try f.store.lastSequence() == 1)
    }

    @Test func aCancelledListDoesNotRun() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let outcome = await f.processor().process(try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 1),
                                                  mode: .run(.coordinator)) { _ in false }
        #expect(outcome == .cancelled(taskID: "run-1"))
        #expect(f.fake.state.table == nil)
        #expect(try f.store.record("run-1")?.final?.state == .cancelled)
        #expect(f.store.undelivered().isEmpty)
    }

    /// Kills the agent (in effect) in the middle of a rotation: the journal as it was on disk
    /// when chpasswd ran is put back, as a crash there would leave it.
    @Test func anInterruptedTaskIsReportedWithItsSealedPasswordAndNeverRerun() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let store = f.store
        let path = store.recordsDirectory + "/" + TaskStore.fileName("run-1")
        let journalAtCrash = Mutex<Data?>(nil)
        f.fake.onSetPassword = { journalAtCrash.withLock { $0 = FileManager.default.contents(atPath: path) } }
        let signed = try f.signed([.blockPorts(tcp: [445], udp: [], direction: .inbound), .rotatePassword(user: "alice", length: 24), .rescan], sequence: 1)
        _ = await f.processor().process(signed, mode: .run(.coordinator))
        try #require(journalAtCrash.withLock { $0 }).write(to: URL(fileURLWithPath: path))
        #expect(try store.record("run-1")?.phase == .running)

        let recovered = try await f.processor().recoverInterrupted()
        let record = try #require(recovered.first)
        #expect(recovered.count == 1)
        let final = try #require(record.final)
        #expect(final.state == .interrupted)
        #expect(final.results.map(\.outcome) == [.changed, .failed, .skipped])
        #expect(final.results[1].detail.contains("interrupted"))
        #expect(final.results[1].backupID != nil)  // the shadow backup taken before chpasswd
        #expect(final.message?.contains("during action 2 (rotate-password)") == true)
        let secret = try #require(final.secrets.first)
        let password = try Escrow.open(secret, agentID: RemediationFixture.agentID, with: f.escrowKey)
        #expect(f.fake.state.shadow["alice"] == FakeSystem.hash(Array(password.utf8)))
        #expect(store.undelivered().map(\.taskID) == ["run-1"])

        // Delivered again, it is not run again.
        let calls = f.fake.calls.count, rescans = f.hooks.rescans
        let again = await f.processor().process(signed, mode: .run(.coordinator))
        guard case .alreadyHandled(let earlier) = again else { Issue.record("\(again)"); return }
        #expect(earlier.final?.state == .interrupted)
        #expect(f.fake.calls.count == calls && f.hooks.rescans == rescans)
        #expect(try await f.processor().recoverInterrupted().isEmpty)
    }

    @Test func aTaskInterruptedBeforeItsFirstActionSaysNothingWasDone() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        var record = TaskRecord(list: f.list([.rescan, .rescan], sequence: 1), source: .file, startedAt: f.now)
        record.inFlight = nil
        try f.store.save(record)
        let final = try #require(try await f.processor().recoverInterrupted().first?.final)
        #expect(final.state == .interrupted)
        #expect(final.results.map(\.outcome) == [.skipped, .skipped])
        #expect(final.message?.contains("before action 1") == true)
        #expect(final.message?.contains("0 actions were done") == true)
    }
}
