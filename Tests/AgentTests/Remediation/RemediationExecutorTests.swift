import CordonShared
import Crypto
import Foundation
import Testing
@testable import CordonAgent

/// Records the order of journal events, and what the fake host looked like at each.
final class EventJournal: ExecutionJournal, @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [String] = []
    var failOnWillRun: Int?
    var events: [String] { lock.withLock { _events } }

    func willRun(index: Int) throws {
        if failOnWillRun == index { throw AgentError.state("disk full") }
        lock.withLock { _events.append("will \(index)") }
    }

    func prepared(secret: EscrowedSecret, index: Int) throws { lock.withLock { _events.append("prepared \(index) \(secret.user)") } }

    func didRun(index: Int, result: ActionResult, secret: EscrowedSecret?) throws {
        lock.withLock { _events.append("did \(index) \(result.outcome.rawValue)") }
    }
}

@Suite struct RemediationExecutorTests {
    // MARK: rotate-password

    @Test func rotationSetsAnEscrowedPasswordAndKeepsTheOldHash() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let journal = EventJournal()
        f.fake.onSetPassword = { try? journal.willRun(index: 99) }
        let outcome = await f.executor().execute([.rotatePassword(user: "alice", length: 24)], context: f.context(), journal: journal)
        #expect(outcome.state == .succeeded)
        let result = try #require(outcome.results.first)
        #expect(result.outcome == .changed)
        #expect(!result.detail.contains(f.fake.state.shadow["alice"]!))
        // The secret is sealed before chpasswd runs, and journaled before it.
        #expect(journal.events == ["will 0", "prepared 0 alice", "will 99", "did 0 changed"])

        let secret = try #require(outcome.secrets.first)
        #expect(secret.user == "alice")
        let password = try Escrow.open(secret, agentID: RemediationFixture.agentID, with: f.escrowKey)
        #expect(password.count == 24)
        #expect(password.utf8.allSatisfy { PasswordGenerator.alphabet.contains($0) })
        #expect(f.fake.state.shadow["alice"] == FakeSystem.hash(Array(password.utf8)))

        // The old entry is in the backup, 0600, and nowhere else.
        let backupID = try #require(result.backupID)
        let backup = try f.backups.load(backupID)
        #expect(backup.kind == .password && backup.user == "alice")
        let entryPath = f.backups.path(backupID) + "/shadow-entry"
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: entryPath)), as: UTF8.self).hasPrefix("alice:$6$old$oldhash:"))
        #expect(SecureFile.mode(of: entryPath) == 0o600)
        #expect(SecureFile.mode(of: f.backups.path(backupID)) == 0o700)
        #expect(!String(decoding: try Data(contentsOf: URL(fileURLWithPath: f.backups.path(backupID) + "/backup.json")), as: UTF8.self).contains("oldhash"))
    }

    @Test func aLockedAccountStaysLocked() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["svc"] = "!$6$old$oldhash"
        let outcome = await f.executor().execute([.rotatePassword(user: "svc", length: 20)], context: f.context(), journal: NoJournal())
        #expect(outcome.results.first?.outcome == .changed)
        let hash = try #require(f.fake.state.shadow["svc"])
        let password = try Escrow.open(try #require(outcome.secrets.first), agentID: RemediationFixture.agentID, with: f.escrowKey)
        #expect(hash == "!" + FakeSystem.hash(Array(password.utf8)))
        #expect(outcome.results.first?.detail.contains("stays locked") == true)
    }

    @Test func aFailedOrIneffectiveRotationIsAFailureWithoutASecret() async throws {
        for mode in ["fails", "no-op"] {
            let f = try RemediationFixture()
            defer { f.remove() }
            f.fake.state.shadow["alice"] = "$6$old$oldhash"
            f.fake.chpasswdFails = mode == "fails"
            f.fake.chpasswdChangesNothing = mode == "no-op"
            let outcome = await f.executor().execute([.rotatePassword(user: "alice", length: 24), .rescan], context: f.context(), journal: NoJournal())
            #expect(outcome.state == .failed)
            #expect(outcome.results.map(\.outcome) == [.failed, .skipped])
            #expect(outcome.secrets.isEmpty)
            #expect(f.fake.state.shadow["alice"] == "$6$old$oldhash")
            #expect(outcome.results[0].detail.contains(mode == "fails" ? "chpasswd" : "did not change"))
            #expect(outcome.results[0].backupID != nil)
            #expect(f.hooks.rescans == 0)
        }
    }

    @Test func rotationNeedsTheAccountAndTheEscrowKey() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let missing = await f.executor().execute([.rotatePassword(user: "nobody2", length: 24)], context: f.context(), journal: NoJournal())
        #expect(missing.results.first?.outcome == .failed)
        #expect(missing.results.first?.detail.contains("no account nobody2") == true)

        var context = f.context()
        context.escrowKey = nil
        let noKey = await f.executor().execute([.rotatePassword(user: "alice", length: 24)], context: context, journal: NoJournal())
        #expect(noKey.results.first?.outcome == .failed)
        #expect(noKey.results.first?.detail.contains("escrow") == true)
        #expect(f.fake.calls.isEmpty)
        #expect(f.fake.state.shadow["alice"] == "$6$old$oldhash")
    }

    @Test func passwordRestorePutsTheOldHashBackOnce() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        let executor = f.executor()
        let rotated = await executor.execute([.rotatePassword(user: "alice", length: 24)], context: f.context(), journal: NoJournal())
        let backupID = try #require(rotated.results.first?.backupID)
        let newHash = f.fake.state.shadow["alice"]

        let restored = await executor.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal())
        #expect(restored.results.first?.outcome == .changed)
        #expect(f.fake.state.shadow["alice"] == "$6$old$oldhash")
        // What the restore overwrote is itself backed up.
        let undo = try f.backups.load(try #require(restored.results.first?.backupID))
        #expect(String(decoding: try f.backups.extra("shadow-entry", in: undo.id), as: UTF8.self).contains(newHash!))

        let again = await executor.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal())
        #expect(again.results.first?.outcome == .unchanged)
        #expect(again.results.first?.backupID == nil)
    }

    // MARK: block-ports, unblock-ports

    @Test func blockAndUnblockOnlyChangeWhatIsNeeded() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let e = f.executor()
        func run(_ action: TaskAction) async -> ActionResult {
            await e.execute([action], context: f.context(), journal: NoJournal()).results[0]
        }
        let block = await run(.blockPorts(tcp: [445, 135], udp: [137], direction: .both))
        #expect(block.outcome == .changed)
        #expect(f.fake.state.table == CordonPortSets(inboundTCP: [135, 445], inboundUDP: [137], outboundTCP: [135, 445], outboundUDP: [137]))
        #expect(try f.backups.load(try #require(block.backupID)).firewallTablePresent == false)

        #expect(await run(.blockPorts(tcp: [445], udp: [], direction: .inbound)).outcome == .unchanged)
        #expect(await run(.unblockPorts(tcp: [3389], udp: [], direction: .both)).outcome == .unchanged)

        let partial = await run(.unblockPorts(tcp: [445], udp: [], direction: .outbound))
        #expect(partial.outcome == .changed)
        #expect(f.fake.state.table == CordonPortSets(inboundTCP: [135, 445], inboundUDP: [137], outboundTCP: [135], outboundUDP: [137]))

        let all = await run(.unblockPorts(tcp: [135, 445], udp: [137], direction: .both))
        #expect(all.outcome == .changed)
        #expect(all.detail.contains("deleted"))
        #expect(f.fake.state.table == nil)
        #expect(await run(.unblockPorts(tcp: [135], udp: [], direction: .both)).outcome == .unchanged)
    }

    @Test func firewallFailuresAreReportedWithTheBackup() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.nftFails = true
        let failed = await f.executor().execute([.blockPorts(tcp: [445], udp: [], direction: .inbound), .rescan], context: f.context(), journal: NoJournal())
        #expect(failed.results.map(\.outcome) == [.failed, .skipped])
        #expect(failed.results[0].detail.contains("nft -f -"))
        #expect(failed.results[0].backupID != nil)
        #expect(f.fake.state.table == nil)

        f.fake.nftFails = false
        f.fake.nftDropsPort = 445  // applied, but the read-back differs
        let mismatch = await f.executor().execute([.blockPorts(tcp: [445, 139], udp: [], direction: .inbound)], context: f.context(), journal: NoJournal())
        #expect(mismatch.results[0].outcome == .failed)
        #expect(mismatch.results[0].detail.contains("read back"))
    }

    @Test func firewallRestoreReturnsToTheTableBeforeAndIsIdempotent() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.table = CordonPortSets(inboundTCP: [139])
        let e = f.executor()
        let block = await e.execute([.blockPorts(tcp: [445], udp: [138], direction: .both)], context: f.context(), journal: NoJournal())
        let id = try #require(block.results[0].backupID)
        let restore = await e.execute([.restore(backup: id)], context: f.context(), journal: NoJournal())
        #expect(restore.results[0].outcome == .changed)
        #expect(f.fake.state.table == CordonPortSets(inboundTCP: [139]))
        #expect(await e.execute([.restore(backup: id)], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)

        // A backup of "no table" restores to no table.
        f.fake.state.table = nil
        let fresh = await e.execute([.blockPorts(tcp: [593], udp: [], direction: .inbound)], context: f.context(), journal: NoJournal())
        _ = await e.execute([.restore(backup: try #require(fresh.results[0].backupID))], context: f.context(), journal: NoJournal())
        #expect(f.fake.state.table == nil)
    }

    // MARK: services

    @Test func stopAndDisableServicesAndRestoreTheirState() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.units["smbd.service"] = UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled")
        let e = f.executor()
        let out = await e.execute([.stopService(unit: "smbd.service"), .disableService(unit: "smbd.service"),
                                   .stopService(unit: "smbd.service"), .stopService(unit: "nosuch.service")],
                                  context: f.context(), journal: NoJournal())
        #expect(out.results.map(\.outcome) == [.changed, .changed, .unchanged, .notFound])
        #expect(f.fake.state.units["smbd.service"] == UnitState(loadState: "loaded", activeState: "inactive", unitFileState: "disabled"))
        #expect(out.results[3].detail.contains("no unit nosuch.service"))
        // Restoring the stop's backup starts it again (the disable is a separate backup).
        let restoreStop = await e.execute([.restore(backup: try #require(out.results[0].backupID))], context: f.context(), journal: NoJournal())
        #expect(restoreStop.results[0].outcome == .changed)
        #expect(f.fake.state.units["smbd.service"]?.activeState == "active")
        #expect(f.fake.state.units["smbd.service"]?.unitFileState == "disabled")
        _ = await e.execute([.restore(backup: try #require(out.results[1].backupID))], context: f.context(), journal: NoJournal())
        #expect(f.fake.state.units["smbd.service"]?.unitFileState == "enabled")
        #expect(await e.execute([.restore(backup: out.results[1].backupID!)], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)
    }

    @Test func withoutSystemdServiceActionsFailClearly() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.systemdMissing = true
        let out = await f.executor().execute([.stopService(unit: "smbd.service")], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .failed)
        #expect(out.results[0].detail.contains("systemd is not running"))
        #expect(out.state == .failed)
    }

    // MARK: scheduled tasks, on a copy of the inventory's fixture tree

    /// The executor with the real file and collector code on a scratch copy of `scheduled/`.
    private func scratchSystem(_ f: RemediationFixture, root: String) -> RemediationSystem {
        var system = f.fake.system
        system.files = LiveRemediationFiles(root: root)
        system.scheduler = LiveSchedulerSystem(root: root)
        return system
    }

    private func entries(_ root: String) throws -> [ScheduledTaskEntry] {
        try #require(LiveSchedulerSystem(root: root).collect().value).entries
    }

    /// Every file below `root` with its bytes and mode.
    private func tree(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        for sub in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
            var info = stat()
            lstat(root + "/" + sub, &info)
            let data = FileManager.default.contents(atPath: root + "/" + sub) ?? Data()
            out[sub] = String(info.st_mode, radix: 8) + " " + ScheduledTaskID.hexDigest(data)
        }
        return out
    }

    @Test func removingACronLineTakesExactlyThatLineAndRestoreIsByteIdentical() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch(copying: "scheduled")
        defer { f.remove(); scratch.remove() }
        let path = "/var/spool/cron/crontabs/root"
        chmod(scratch.path + path, 0o600)
        let original = try Data(contentsOf: URL(fileURLWithPath: scratch.path + path))
        let worm = try #require(try entries(scratch.path).first { $0.source == path && $0.command.hasPrefix("/dev/shm/.kworker") })
        let e = f.executor(system: scratchSystem(f, root: scratch.path))

        let removed = await e.execute([.removeScheduledTask(id: worm.id)], context: f.context(), journal: NoJournal())
        #expect(removed.results[0].outcome == .changed)
        let after = try Data(contentsOf: URL(fileURLWithPath: scratch.path + path))
        let expected = String(decoding: original, as: UTF8.self).replacingOccurrences(of: "*/5 * * * * /dev/shm/.kworker >/dev/null 2>&1\n", with: "")
        #expect(String(decoding: after, as: UTF8.self) == expected)
        #expect(SecureFile.mode(of: scratch.path + path) == 0o600)
        #expect(try !entries(scratch.path).contains { $0.id == worm.id })
        // No temporary file left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/var/spool/cron/crontabs").sorted() == ["alice", "root"])

        // Idempotent: the entry is gone, and Cordon knows it removed it (its backup).
        let again = await e.execute([.removeScheduledTask(id: worm.id)], context: f.context(), journal: NoJournal())
        #expect(again.results[0].outcome == .unchanged)
        let backupID = try #require(removed.results[0].backupID)
        #expect(again.results[0].detail.contains("already removed by Cordon") && again.results[0].detail.contains(backupID))
        #expect(again.state == .succeeded)

        let restored = await e.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal())
        #expect(restored.results[0].outcome == .changed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path + path)) == original)
        #expect(await e.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)
    }

    @Test func aCronLineRestoredIntoAChangedFileIsInsertedNotOverwritten() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch(copying: "scheduled")
        defer { f.remove(); scratch.remove() }
        let path = "/etc/cron.d/backup"
        let worm = try #require(try entries(scratch.path).first { $0.source == path })
        let e = f.executor(system: scratchSystem(f, root: scratch.path))
        let removed = await e.execute([.removeScheduledTask(id: worm.id)], context: f.context(), journal: NoJournal())
        // Someone adds a line meanwhile: the restore keeps it.
        let edited = try String(contentsOfFile: scratch.path + path, encoding: .utf8) + "5 5 * * * root /usr/bin/true\n"
        try scratch.write(String(path.dropFirst()), edited)
        let restored = await e.execute([.restore(backup: try #require(removed.results[0].backupID))], context: f.context(), journal: NoJournal())
        #expect(restored.results[0].outcome == .changed)
        let now = try String(contentsOfFile: scratch.path + path, encoding: .utf8)
        #expect(now.contains("5 5 * * * root /usr/bin/true"))
        #expect(try entries(scratch.path).contains { $0.id == worm.id })
    }

    @Test func aCronLineChangedAfterCollectionIsNotRemoved() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let path = "/etc/cron.d/x"
        let entry = ScheduledTaskEntry(id: "cron:0123456789abcdef", kind: .cron, source: path, line: 1, user: "root", schedule: "* * * * *",
                                       command: "/tmp/x", enabled: true, suspiciousPaths: [])
        f.fake.scheduled = .ok(ScheduledTaskInventory(entries: [entry], sources: [path], unreadable: [], truncated: false, skippedLines: 0, notes: []))
        f.fake.state.files[path] = FileSnapshot(contents: Data("* * * * * root /tmp/y\n".utf8), uid: 0, gid: 0, mode: 0o644)
        let out = await f.executor().execute([.removeScheduledTask(id: entry.id)], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .failed)
        #expect(out.results[0].detail.contains("changed after it was read"))
        #expect(f.fake.state.files[path]?.contents == Data("* * * * * root /tmp/y\n".utf8))
    }

    @Test func anIDThatMatchesNothingIsNotFoundNeverASuccess() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let id = "cron:0123456789abcdef"
        let missing = await f.executor().execute([.removeScheduledTask(id: id), .rescan], context: f.context(), journal: NoJournal())
        #expect(missing.results.map(\.outcome) == [.notFound, .unchanged], "the list goes on after a stale ID")
        #expect(missing.state == .failed, "but it did not succeed")
        #expect(missing.results[0].detail.contains("no scheduled task has the ID \(id)"))
        f.fake.scheduled = .ok(ScheduledTaskInventory(entries: [], sources: [], unreadable: ["/var/spool/cron/crontabs: permission denied"],
                                                      truncated: false, skippedLines: 0, notes: []))
        let partial = await f.executor().execute([.removeScheduledTask(id: id)], context: f.context(), journal: NoJournal())
        #expect(partial.results[0].outcome == .failed)
        f.fake.scheduled = .unavailable(reason: "no cron, at or systemd timer files found")
        #expect(await f.executor().execute([.removeScheduledTask(id: id)], context: f.context(), journal: NoJournal()).results[0].outcome == .failed)
    }

    @Test func aWormLineEditedSinceTheInventoryIsNotFoundAndShownAsItIsNow() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch()
        defer { f.remove(); scratch.remove() }
        let path = "/etc/cron.d/sysupdate"
        try scratch.write("etc/cron.d/sysupdate", "*/5 * * * * root /tmp/.sysupdate/svchost\n")
        let planned = try #require(try entries(scratch.path).first { $0.source == path })
        // The worm rewrites its line (*/5 -> */7): the plan's ID no longer matches.
        try scratch.write("etc/cron.d/sysupdate", "*/7 * * * * root /tmp/.sysupdate/svchost\n")
        let e = f.executor(system: scratchSystem(f, root: scratch.path))
        let out = await e.execute([.removeScheduledTask(id: planned.id, source: path)], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .notFound)
        #expect(out.state == .failed)
        let detail = out.results[0].detail
        #expect(detail.contains("\(path) changed since the inventory") && detail.contains("*/7 * * * *") && detail.contains("/tmp/.sysupdate/svchost"), "\(detail)")
        #expect(try String(contentsOfFile: scratch.path + path, encoding: .utf8).contains("*/7"), "nothing was removed")
        // The new ID it names removes it.
        let now = try #require(try entries(scratch.path).first { $0.source == path })
        #expect(detail.contains(now.id))
        #expect(await e.execute([.removeScheduledTask(id: now.id, source: path)], context: f.context(), journal: NoJournal()).results[0].outcome == .changed)
    }

    @Test func aMissingUnitIsNotFound() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let out = await f.executor().execute([.stopService(unit: "nothere.service")], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .notFound && out.state == .failed)
    }

    // MARK: lock-account

    @Test func lockAccountLocksAndSetsNologinAndRestoreIsExact() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["toor"] = "$6$worm$hash"
        f.fake.state.ageing["toor"] = "12345:0:99999:7:::"
        f.fake.state.passwd["toor"] = "toor:x:0:0::/root:/bin/sh"
        let before = (try f.fake.shadowEntry(user: "toor")!.line, try f.fake.passwdEntry(user: "toor")!.line)
        let e = f.executor()
        let locked = await e.execute([.lockAccount(user: "toor")], context: f.context(), journal: NoJournal())
        #expect(locked.results[0].outcome == .changed && locked.state == .succeeded, "\(locked.results[0].detail)")
        #expect(locked.results[0].detail.contains("UID 0"))
        #expect(try f.fake.shadowEntry(user: "toor")?.hash == "!$6$worm$hash")
        #expect(try f.fake.passwdEntry(user: "toor")?.shell == "/usr/sbin/nologin")
        #expect(locked.secrets.isEmpty, "no password is made or escrowed")
        #expect(await e.execute([.lockAccount(user: "toor")], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)
        #expect(await e.execute([.lockAccount(user: "ghost")], context: f.context(), journal: NoJournal()).results[0].outcome == .notFound)

        let restored = await e.execute([.restore(backup: try #require(locked.results[0].backupID))], context: f.context(), journal: NoJournal())
        #expect(restored.results[0].outcome == .changed, "\(restored.results[0].detail)")
        #expect(try f.fake.shadowEntry(user: "toor")?.line == before.0)
        #expect(try f.fake.passwdEntry(user: "toor")?.line == before.1)
        #expect(await e.execute([.restore(backup: try #require(locked.results[0].backupID))], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)
    }

    @Test func passwordRestorePutsBackTheWholeShadowLineWithItsAge() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        f.fake.state.ageing["alice"] = "16000:0:99999:7:::"
        let original = try #require(try f.fake.shadowEntry(user: "alice")).line
        let e = f.executor()
        let rotated = await e.execute([.rotatePassword(user: "alice", length: 24)], context: f.context(), journal: NoJournal())
        #expect(try f.fake.shadowEntry(user: "alice")?.line.contains(":\(FakeSystem.today)") == true, "the rotation dated it today")
        let restored = await e.execute([.restore(backup: try #require(rotated.results[0].backupID))], context: f.context(), journal: NoJournal())
        #expect(restored.results[0].outcome == .changed)
        #expect(try f.fake.shadowEntry(user: "alice")?.line == original, "byte for byte, the last-change day 16000 included")
    }

    @Test func atJobsAreDeletedWithABackupAndRestoredWithOwnerAndMode() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch(copying: "scheduled")
        defer { f.remove(); scratch.remove() }
        let spool = scratch.path + "/var/spool/cron/atjobs"
        let job = try #require(try entries(scratch.path).first { $0.kind == .at && $0.atJobNumber == 1 })
        chmod(scratch.path + job.source, 0o700)
        chown(scratch.path + job.source, 0, 1)
        let original = try Data(contentsOf: URL(fileURLWithPath: scratch.path + job.source))
        let e = f.executor(system: scratchSystem(f, root: scratch.path))

        let removed = await e.execute([.removeScheduledTask(id: job.id)], context: f.context(), journal: NoJournal())
        #expect(removed.results[0].outcome == .changed)
        #expect(!FileManager.default.fileExists(atPath: scratch.path + job.source))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).count == 4)  // .SEQ and three other jobs

        let backupID = try #require(removed.results[0].backupID)
        let restored = await e.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal())
        #expect(restored.results[0].outcome == .changed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path + job.source)) == original)
        var info = stat()
        stat(scratch.path + job.source, &info)
        #expect(info.st_mode & 0o7777 == 0o700 && info.st_uid == 0 && info.st_gid == 1)
        #expect(await e.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)

        // A job that took the number meanwhile blocks the restore.
        _ = await e.execute([.removeScheduledTask(id: job.id)], context: f.context(), journal: NoJournal())
        try scratch.write("var/spool/cron/atjobs/a0000101e19000", "#!/bin/sh\n", mode: 0o700)
        let clash = await e.execute([.restore(backup: backupID)], context: f.context(), journal: NoJournal())
        #expect(clash.results[0].outcome == .failed)
        #expect(clash.results[0].detail.contains("taken by"))
    }

    @Test func purgeAtJobsTakesEveryJobOfTheUserInOneBackup() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch(copying: "scheduled")
        defer { f.remove(); scratch.remove() }
        let e = f.executor(system: scratchSystem(f, root: scratch.path))
        let before = tree(scratch.path)
        let out = await e.execute([.purgeAtJobs(user: "root")], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .changed)
        let left = try entries(scratch.path).filter { $0.kind == .at }
        #expect(left.map(\.user) == ["alice"])
        #expect(await e.execute([.purgeAtJobs(user: "root")], context: f.context(), journal: NoJournal()).results[0].outcome == .unchanged)
        let backup = try f.backups.load(try #require(out.results[0].backupID))
        #expect(backup.files.count == 3)
        _ = await e.execute([.restore(backup: backup.id)], context: f.context(), journal: NoJournal())
        #expect(tree(scratch.path) == before)
    }

    @Test func aTimerIsDisabledAndStoppedOrFailsClearlyWithoutSystemd() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let path = "/etc/systemd/system/sysupdate.timer"
        let entry = ScheduledTaskEntry(id: "systemd-timer:0123456789abcdef", kind: .systemdTimer, source: path, line: nil, user: "root",
                                       schedule: "OnCalendar=hourly", command: "/var/tmp/.sysupdate", enabled: true, suspiciousPaths: [])
        f.fake.scheduled = .ok(ScheduledTaskInventory(entries: [entry], sources: [path], unreadable: [], truncated: false, skippedLines: 0, notes: []))
        f.fake.state.files[path] = FileSnapshot(contents: Data("[Timer]\nOnCalendar=hourly\n".utf8), uid: 0, gid: 0, mode: 0o644)
        f.fake.state.units["sysupdate.timer"] = UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled")
        f.fake.systemdMissing = true
        let lab = await f.executor().execute([.removeScheduledTask(id: entry.id)], context: f.context(), journal: NoJournal())
        #expect(lab.results[0].outcome == .failed)
        #expect(lab.results[0].detail.contains("systemd is not running"))

        f.fake.systemdMissing = false
        let out = await f.executor().execute([.removeScheduledTask(id: entry.id)], context: f.context(), journal: NoJournal())
        #expect(out.results[0].outcome == .changed)
        #expect(f.fake.calls.contains("systemctl disable --now sysupdate.timer"))
        #expect(f.fake.state.units["sysupdate.timer"] == UnitState(loadState: "loaded", activeState: "inactive", unitFileState: "disabled"))
        let backup = try f.backups.load(try #require(out.results[0].backupID))
        #expect(try f.backups.contents(of: try #require(backup.files.first), in: backup.id) == Data("[Timer]\nOnCalendar=hourly\n".utf8))
        _ = await f.executor().execute([.restore(backup: backup.id)], context: f.context(), journal: NoJournal())
        #expect(f.fake.state.units["sysupdate.timer"] == UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled"))
    }

    // MARK: dry run, failures, hooks

    @Test func aDryRunSaysWhatItWouldDoAndChangesNothing() async throws {
        let f = try RemediationFixture()
        let scratch = try RemediationScratch(copying: "scheduled")
        defer { f.remove(); scratch.remove() }
        f.fake.state.shadow["alice"] = "$6$old$oldhash"
        f.fake.state.units["smbd.service"] = UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled")
        f.fake.state.table = CordonPortSets(inboundTCP: [139])
        let cron = try #require(try entries(scratch.path).first { $0.kind == .cron && $0.source == "/etc/cron.d/backup" })
        let fakeBefore = f.fake.state, treeBefore = tree(scratch.path)
        let actions: [TaskAction] = [
            .rotatePassword(user: "alice", length: 24), .removeScheduledTask(id: cron.id), .purgeAtJobs(user: nil),
            .blockPorts(tcp: [445], udp: [137], direction: .both), .unblockPorts(tcp: [139], udp: [], direction: .inbound),
            .stopService(unit: "smbd.service"), .disableService(unit: "smbd.service"), .rescan, .refreshInventory,
            .blockPorts(tcp: [139], udp: [], direction: .inbound),
        ]
        let out = await f.executor(system: scratchSystem(f, root: scratch.path)).execute(actions, context: f.context(dryRun: true), journal: NoJournal())
        #expect(out.state == .succeeded)
        #expect(out.results.map(\.outcome) == [.wouldChange, .wouldChange, .wouldChange, .wouldChange, .wouldChange, .wouldChange, .wouldChange,
                                               .unchanged, .unchanged, .unchanged])
        #expect(out.results[1].detail.contains("would remove line"))
        #expect(out.secrets.isEmpty)
        #expect(f.fake.state == fakeBefore)
        #expect(f.fake.calls.isEmpty)
        #expect(tree(scratch.path) == treeBefore)
        #expect(f.backups.list().isEmpty)
        #expect(f.hooks.rescans == 0 && f.hooks.refreshes == 0)
    }

    @Test func theFirstFailureStopsTheListAndTheRestIsSkipped() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let journal = EventJournal()
        let out = await f.executor().execute([.blockPorts(tcp: [445], udp: [], direction: .inbound), .rotatePassword(user: "ghost", length: 24),
                                              .rescan, .stopService(unit: "smbd.service")], context: f.context(), journal: journal)
        #expect(out.state == .failed)
        #expect(out.results.map(\.outcome) == [.changed, .failed, .skipped, .skipped])
        #expect(out.results[2].detail.contains("action 2 (rotate-password) failed"))
        #expect(f.hooks.rescans == 0)
        #expect(journal.events == ["will 0", "did 0 changed", "will 1", "did 1 failed"])
    }

    @Test func aJournalThatCannotBeWrittenStopsTheListBeforeTheAction() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let journal = EventJournal()
        journal.failOnWillRun = 1
        let out = await f.executor().execute([.rescan, .blockPorts(tcp: [445], udp: [], direction: .inbound)], context: f.context(), journal: journal)
        #expect(out.results.map(\.outcome) == [.unchanged, .failed])
        #expect(f.fake.state.table == nil)
    }

    @Test func rescanAndRefreshAskTheHooks() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let out = await f.executor().execute([.rescan, .refreshInventory], context: f.context(), journal: NoJournal())
        #expect(out.results.map(\.outcome) == [.unchanged, .unchanged])
        #expect(out.results.map(\.detail) == ["scan requested", "inventory collection requested"])
        #expect(f.hooks.rescans == 1 && f.hooks.refreshes == 1)
        f.hooks.fail = true
        #expect(await f.executor().execute([.rescan], context: f.context(), journal: NoJournal()).results[0].outcome == .failed)
    }

    @Test func restoringAnUnknownBackupFails() async throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let out = await f.executor().restore(backupID: "bk-20300101-000000-deadbeef", agentID: "a", dryRun: false)
        #expect(out.outcome == .failed)
        #expect(out.detail.contains("no backup"))
    }
}
