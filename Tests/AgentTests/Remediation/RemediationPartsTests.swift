import CordonShared
import Foundation
import Synchronization
import Testing
@testable import CordonAgent

@Suite struct RemediationPolicyTests {
    @Test func parsesEveryKey() throws {
        let policy = try RemediationPolicy.parse(yaml: """
            allowedActions: [rotate-password, block-ports]
            protectedAccounts: [root, backup-admin]
            protectedUnits: [nginx.service]
            protectedPorts: {tcp: [8443], udp: [53]}
            minPasswordLength: 20
            maxPasswordLength: 64
            """, origin: "policy.yaml")
        #expect(policy.allowedActions == ["rotate-password", "block-ports"])
        #expect(policy.protectedAccounts == ["root", "backup-admin"])
        #expect(policy.isProtected(unit: "nginx.service") && policy.isProtected(unit: "sshd.service") && !policy.isProtected(unit: "smbd.service"))
        #expect(policy.refusal(of: .rotatePassword(user: "alice", length: 16))?.contains("shorter than the local minimum 20") == true)
        #expect(policy.refusal(of: .rotatePassword(user: "alice", length: 100))?.contains("longer") == true)
        #expect(policy.refusal(of: .rotatePassword(user: "root", length: 24))?.contains("protected account") == true)
        #expect(policy.refusal(of: .rotatePassword(user: "alice", length: 24)) == nil)
        #expect(policy.refusal(of: .blockPorts(tcp: [445], udp: [53], direction: .inbound))?.contains("udp/53") == true)
        #expect(policy.refusal(of: .unblockPorts(tcp: [22], udp: [], direction: .inbound))?.contains("not allowed") == true)
    }

    @Test func rejectsWhatItDoesNotKnow() throws {
        let bad: [(String, String)] = [
            ("allowedActions: [rotate-password]\nprotectedAcounts: [root]\n", "unknown key 'protectedAcounts'"),
            ("allowedActions: [format-disk]\n", "unknown action 'format-disk'"),
            ("protectedAccounts: [\"ro:ot\"]\n", "not an account name"),
            ("protectedUnits: [nginx]\n", "not a unit name"),
            ("protectedPorts: {tcp: [70000]}\n", "not a port"),
            ("protectedPorts: {sctp: [1]}\n", "unknown key 'protectedPorts.sctp'"),
            ("minPasswordLength: 8\n", "minPasswordLength must be"),
            ("minPasswordLength: 40\nmaxPasswordLength: 30\n", "above maxPasswordLength"),
            ("allowedActions: rescan\n", "must be a list"),
        ]
        for (yaml, message) in bad {
            #expect(throws: CordonError.invalidArgument) { try RemediationPolicy.parse(yaml: yaml, origin: "p.yaml") }
            do { _ = try RemediationPolicy.parse(yaml: yaml, origin: "p.yaml") } catch let error as CordonError {
                #expect(error.reason.contains(message), "\(error.reason)")
            }
        }
    }

    @Test func aMissingFileAllowsOnlyHarmlessActions() throws {
        let policy = try RemediationPolicy.load(path: "/nonexistent/cordon/policy.yaml")
        #expect(policy.refusal(of: .rescan) == nil && policy.refusal(of: .refreshInventory) == nil)
        let reason = try #require(policy.refusal(of: .restore(backup: "bk-1")))
        #expect(reason.contains("no local policy file /nonexistent/cordon/policy.yaml"))
        // A policy without allowedActions is harmless-only too.
        #expect(try RemediationPolicy.parse(yaml: "protectedAccounts: [root]\n", origin: "p").refusal(of: .purgeAtJobs(user: nil)) != nil)
    }

    @Test func theExampleFileIsValidAndDocumentsEveryKey() throws {
        // Through the real path of this file (the test tree may be reached through a link).
        let here = realpath(#filePath, nil).map { pointer -> String in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? #filePath
        let path = URL(fileURLWithPath: here).deletingLastPathComponent().appendingPathComponent("../../../Deploy/policy.yaml.example").standardized.path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let policy = try RemediationPolicy.load(path: path)
        #expect(policy.allowedActions.count >= 2)
        for key in ["allowedActions", "protectedAccounts", "protectedUnits", "protectedPorts", "minPasswordLength", "maxPasswordLength"] {
            #expect(text.contains(key + ":"), "\(key) is not documented")
        }
        for name in TaskAction.allNames { #expect(text.contains(name), "\(name) is not mentioned") }
    }
}

@Suite struct CordonTableTests {
    /// `nft -j list table inet cordon` from nftables 1.0.6 (Debian 12), after `nft -f` of the
    /// script for in tcp/135,445 and out udp/137 (captured in a throwaway network namespace).
    static let listed = """
        {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, \
        {"table": {"family": "inet", "name": "cordon", "handle": 3}}, \
        {"set": {"family": "inet", "name": "in_tcp", "table": "cordon", "type": "inet_service", "handle": 2, "elem": [135, 445]}}, \
        {"set": {"family": "inet", "name": "in_udp", "table": "cordon", "type": "inet_service", "handle": 3}}, \
        {"set": {"family": "inet", "name": "out_tcp", "table": "cordon", "type": "inet_service", "handle": 4}}, \
        {"set": {"family": "inet", "name": "out_udp", "table": "cordon", "type": "inet_service", "handle": 5, "elem": [137]}}, \
        {"chain": {"family": "inet", "table": "cordon", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}, \
        {"chain": {"family": "inet", "table": "cordon", "name": "output", "handle": 6, "type": "filter", "hook": "output", "prio": -10, "policy": "accept"}}, \
        {"rule": {"family": "inet", "table": "cordon", "chain": "input", "handle": 7, "comment": "cordon", "expr": [{"match": {"op": "==", \
        "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@in_tcp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}]}
        """

    @Test func parsesTheSetsNftLists() throws {
        let snapshot = try CordonTable.parse(Data(Self.listed.utf8))
        #expect(snapshot.sets == CordonPortSets(inboundTCP: [135, 445], outboundUDP: [137]))
        #expect(snapshot.foreign.isEmpty)
    }

    @Test func namesWhatCordonDidNotMake() throws {
        // The inventory's fixture: a hand-made table inet cordon with other set and chain names.
        let data = try Data(contentsOf: URL(fileURLWithPath: InventoryFixtures.path("firewall/cordon.json")))
        let snapshot = try CordonTable.parse(data)
        #expect(snapshot.sets.isEmpty)
        #expect(snapshot.foreign.contains("set worm_tcp") && snapshot.foreign.contains("chain forward"))
        #expect(throws: CordonTable.ParseError.self) { try CordonTable.parse(Data("{\"nftables\": 3}".utf8)) }
        #expect(throws: CordonTable.ParseError.self) { try CordonTable.parse(Data("not json".utf8)) }
        let badElement = Self.listed.replacingOccurrences(of: "[135, 445]", with: "[\"@x\"]")
        #expect(throws: CordonTable.ParseError.self) { try CordonTable.parse(Data(badElement.utf8)) }
    }

    @Test func theScriptReplacesTheTableInOneTransaction() {
        let script = CordonTable.script(CordonPortSets(inboundTCP: [445, 135], outboundUDP: [137]))
        #expect(script.hasPrefix("table inet cordon\ndelete table inet cordon\ntable inet cordon {\n"))
        #expect(script.contains("set in_tcp {\n\t\ttype inet_service\n\t\telements = { 135, 445 }\n\t}"))
        #expect(script.contains("set in_udp {\n\t\ttype inet_service\n\t}"))
        #expect(script.contains("type filter hook input priority filter - 10; policy accept;"))
        #expect(script.contains("tcp dport @out_tcp counter drop comment \"cordon\""))
        #expect(!script.contains("inet filter"))
        #expect(CordonTable.script(.empty) == "table inet cordon\ndelete table inet cordon\n")
    }

    @Test func portSetsChangeByDirection() {
        let sets = CordonPortSets.empty.changing(tcp: [445, 445, 139], udp: [137], direction: .inbound, block: true)
        #expect(sets == CordonPortSets(inboundTCP: [139, 445], inboundUDP: [137]))
        #expect(sets.changing(tcp: [139], udp: [], direction: .outbound, block: false) == sets)
        #expect(sets.changing(tcp: [139], udp: [137], direction: .both, block: false) == CordonPortSets(inboundTCP: [445]))
        #expect(sets.summary == "in tcp/139, tcp/445, udp/137")
    }
}

@Suite struct CrontabEditTests {
    /// The IDs the edit computes are the IDs the inventory reports, for every cron entry of the
    /// fixture tree (so a task naming an inventory ID finds its line).
    @Test func locatesEveryInventoryEntry() throws {
        let root = InventoryFixtures.path("scheduled")
        let entries = try #require(LiveSchedulerSystem(root: root).collect().value).entries.filter { $0.kind == .cron }
        #expect(entries.count > 10)
        for entry in entries {
            let data = try Data(contentsOf: URL(fileURLWithPath: root + entry.source))
            #expect(CrontabEdit.locate(id: entry.id, in: data, source: entry.source) == entry.line, "\(entry.source):\(entry.line ?? 0)")
        }
    }

    @Test func identicalLinesAreToldApart() throws {
        let root = InventoryFixtures.path("scheduled")
        let alice = try #require(LiveSchedulerSystem(root: root).collect().value).entries.filter { $0.source == "/var/spool/cron/crontabs/alice" }
        #expect(alice.count == 2 && alice[0].id != alice[1].id)
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/var/spool/cron/crontabs/alice"))
        let second = try #require(CrontabEdit.locate(id: alice[1].id, in: data, source: alice[1].source))
        let (edited, removed) = try #require(CrontabEdit.removing(line: second, from: data))
        #expect(removed == "15 2 * * * /home/alice/bin/report.sh --mail")
        // The first identical line keeps its ID; the second is gone.
        #expect(CrontabEdit.locate(id: alice[0].id, in: edited, source: alice[0].source) != nil)
        #expect(CrontabEdit.locate(id: alice[1].id, in: edited, source: alice[1].source) == nil)
    }

    @Test func removeAndInsertAreByteExact() throws {
        let data = Data("a\r\nb\n\nc".utf8)
        #expect(CrontabEdit.removing(line: 1, from: data)?.data == Data("b\n\nc".utf8))
        #expect(CrontabEdit.removing(line: 1, from: data)?.removed == "a\r")
        #expect(CrontabEdit.removing(line: 4, from: data)?.data == Data("a\r\nb\n\n".utf8))
        #expect(CrontabEdit.removing(line: 5, from: data) == nil)
        #expect(CrontabEdit.removing(line: 0, from: data) == nil)
        #expect(CrontabEdit.inserting("x", at: 2, into: data) == Data("a\r\nx\nb\n\nc".utf8))
        #expect(CrontabEdit.inserting("x", at: 9, into: data) == Data("a\r\nb\n\nc\nx\n".utf8))
        #expect(CrontabEdit.count(line: "a", in: data) == 1 && CrontabEdit.count(line: "d", in: data) == 0)
        #expect(CrontabEdit.count(line: "x", in: Data("x\nx\ny\nx".utf8)) == 3)
        #expect(CrontabEdit.removing(line: 1, from: Data()) == nil)
    }
}

@Suite struct RemediationPiecesTests {
    @Test func passwordsAreLongUniformAndUnambiguous() {
        let generator = PasswordGenerator()
        var seen: Set<[UInt8]> = []
        for length in [16, 24, 128] {
            for _ in 0..<50 {
                let password = generator.generate(length: length)
                #expect(password.bytes.count == length)
                #expect(password.bytes.allSatisfy { PasswordGenerator.alphabet.contains($0) })
                #expect(PasswordGenerator.hasEveryClass(password.bytes))
                seen.insert(password.bytes)
            }
        }
        #expect(seen.count == 150)
        for confusable in "0O1lI'\"` :\\".utf8 { #expect(!PasswordGenerator.alphabet.contains(confusable)) }
        let secret = SecretBytes(Array("hunter2".utf8))
        secret.wipe()
        #expect(secret.bytes == [UInt8](repeating: 0, count: 7))
    }

    @Test func backupsAreCompletePrivateAndChecked() throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        var record = BackupRecord(kind: .cronLine, taskID: "run-1", action: .rescan, summary: "x",
                                  files: [.init(path: "/etc/cron.d/x", snapshot: FileSnapshot(contents: Data("a\n".utf8), uid: 0, gid: 0, mode: 0o644))])
        record.lineNumber = 1
        let saved = try f.backups.save(record, fileContents: [Data("a\n".utf8)], now: Date(timeIntervalSince1970: 1_736_942_400))
        #expect(TaskAction.isBackupID(saved.id))
        #expect(saved.id.hasPrefix("bk-20250115-120000-"))
        #expect(SecureFile.mode(of: f.backups.path(saved.id)) == 0o700)
        #expect(SecureFile.mode(of: f.backups.path(saved.id) + "/file-0") == 0o600)
        #expect(try f.backups.load(saved.id) == saved)
        #expect(f.backups.list().map(\.id) == [saved.id])
        try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: f.backups.path(saved.id) + "/file-0"))
        #expect(throws: AgentError.state) { try f.backups.contents(of: saved.files[0], in: saved.id) }
        #expect(throws: AgentError.state) { try f.backups.load("../../etc") }
        #expect(try !FileManager.default.contentsOfDirectory(atPath: f.backups.directory).contains { $0.hasPrefix(".tmp") })
    }

    @Test func taskRecordFileNamesAreSafe() {
        #expect(TaskStore.fileName("run-7") == "run-7.json")
        #expect(TaskStore.fileName("../../etc/passwd").hasPrefix("id-"))
        #expect(!TaskStore.fileName(String(repeating: "a", count: 200)).contains("/"))
    }

    @Test func liveFilesKeepOwnerGroupModeAndRefuseLinks() throws {
        let scratch = try RemediationScratch()
        defer { scratch.remove() }
        let files = LiveRemediationFiles(root: scratch.path)
        try scratch.write("spool/root", "x\n", mode: 0o600)
        chown(scratch.path + "/spool/root", 0, 1)
        let snapshot = try #require(try files.read("/spool/root"))
        #expect(snapshot == FileSnapshot(contents: Data("x\n".utf8), uid: 0, gid: 1, mode: 0o600))
        try files.write("/spool/root", snapshot.with(contents: Data("y\n".utf8)))
        #expect(try files.read("/spool/root") == FileSnapshot(contents: Data("y\n".utf8), uid: 0, gid: 1, mode: 0o600))
        #expect(try files.list("/spool") == ["root"])
        symlink("/nonexistent/cordon-test-link-target", scratch.path + "/spool/evil")
        #expect(throws: AgentError.remediation) { try files.read("/spool/evil") }
        #expect(try files.read("/spool/missing") == nil)
        try files.remove("/spool/root")
        try files.remove("/spool/root")
        #expect(try files.list("/spool") == ["evil"])
        #expect(try files.list("/nonexistent") == [])
    }

    @Test func liveServiceManagerSaysSystemdIsMissing() throws {
        let manager = LiveServiceManager(systemdRuntimeDirectory: "/nonexistent/run/systemd/system")
        #expect(throws: AgentError.remediation) { try manager.state(of: "smbd.service") }
        do { try manager.perform(.stop, unit: "smbd.service") } catch let error as AgentError {
            #expect(error.reason.contains("systemd is not running on this host"))
            #expect(error.reason.contains("cannot stop smbd.service"))
        }
        #expect(LiveServiceManager.parseShow(Data("LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n".utf8))
            == UnitState(loadState: "loaded", activeState: "active", unitFileState: "enabled"))
    }

    @Test func shadowEntriesAreFoundByExactName() {
        let data = Data("root:*:1:0:99999:7:::\nalice2:$6$a:1::::::\nalice:!$y$j9T$x:19000:0:99999:7:::\n".utf8)
        #expect(LiveAccountSystem.entry(user: "alice", in: data)?.hash == "!$y$j9T$x")
        #expect(LiveAccountSystem.entry(user: "alice", in: data)?.isLocked == true)
        #expect(LiveAccountSystem.entry(user: "root", in: data)?.isLocked == true)
        #expect(LiveAccountSystem.entry(user: "ali", in: data) == nil)
    }
}

@Suite struct RemediationProcessRunnerTests {
    let runner = RemediationProcessRunner()

    @Test func feedsStandardInput() throws {
        let cat = try #require(runner.locate("cat"))
        let result = runner.run(cat, arguments: [], input: Array("user:secret\n".utf8), timeout: .seconds(10), outputLimit: 1 << 20)
        #expect(result.termination == .exited(0))
        #expect(result.standardOutput == Data("user:secret\n".utf8))
        // More than a pipe holds, written as the child reads.
        let big = [UInt8](repeating: 0x61, count: 300_000)
        let large = runner.run(cat, arguments: [], input: big, timeout: .seconds(10), outputLimit: 1 << 20)
        #expect(large.standardOutput.count == big.count)
    }

    @Test func aChildThatIgnoresItsInputDoesNotHurtTheAgent() throws {
        let tool = try #require(runner.locate("true"))
        let result = runner.run(tool, arguments: [], input: [UInt8](repeating: 0x61, count: 1 << 20), timeout: .seconds(10), outputLimit: 1024)
        #expect(result.termination == .exited(0))
    }

    @Test func timeoutAndOutputCapHold() throws {
        let sleep = try #require(runner.locate("sleep"))
        let start = ContinuousClock.now
        let slow = runner.run(sleep, arguments: ["30"], input: Array("x".utf8), timeout: .milliseconds(300), outputLimit: 1024)
        #expect(slow.termination == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
        let yes = try #require(runner.locate("yes"))
        let loud = runner.run(yes, arguments: [], input: Array("x".utf8), timeout: .seconds(10), outputLimit: 4096)
        #expect(loud.outputTruncated && loud.standardOutput.count == 4096)
        let missing = runner.run("/nonexistent/tool", arguments: [], input: Array("x".utf8), timeout: .seconds(1), outputLimit: 10)
        if case .failedToStart = missing.termination {} else { Issue.record("expected failedToStart, got \(missing.termination)") }
    }
}

@Suite struct ApplyReportTests {
    @Test func exitCodesAndTextFollowTheOutcome() throws {
        let f = try RemediationFixture()
        defer { f.remove() }
        let results = [ActionResult(action: .blockPorts(tcp: [445], udp: [], direction: .inbound), outcome: .changed, detail: "blocked\u{1b}[31m", backupID: "bk-1"),
                       ActionResult(action: .rescan, outcome: .skipped, detail: "not run")]
        var record = TaskRecord(list: f.list([.rescan], sequence: 1), source: .file, startedAt: f.now)
        record.phase = .finished
        record.final = TaskStatusUpdate(state: .failed, at: f.now, results: results, message: "action 2 failed")
        let failed = ApplyReport(.finished(record), interrupted: ["run-0"])
        #expect(failed.exitCode == AgentExit.failure)
        let text = failed.render()
        #expect(text.contains("note: task run-0 was interrupted"))
        #expect(text.contains("task run-1: finished (failed)"))
        #expect(text.contains("block-ports  changed"))
        #expect(text.contains("blocked\\x1b[31m"))  // control characters from the host are escaped
        let refused = ApplyReport(.refused(taskID: "run-2", update: TaskStatusUpdate(state: .refused, at: f.now, message: "no"), recorded: true), interrupted: [])
        #expect(refused.exitCode == AgentExit.refused)
        #expect(ApplyReport(.alreadyHandled(record), interrupted: []).exitCode == 0)
        #expect(ApplyReport(.alreadyHandled(record), interrupted: []).message?.contains("already handled (failed); nothing was run again") == true)
        let json = try CordonJSON.encode(refused)
        #expect(try CordonJSON.decode(ApplyReport.self, from: json) == refused)
    }
}

@Suite struct RemediationHooksTests {
    @Test func agentHooksCallTheServices() async throws {
        let calls = Mutex<[String]>([])
        let hooks = AgentRemediationHooks(rescan: { calls.withLock { $0.append("scan") } }, refreshInventory: { calls.withLock { $0.append("inventory") } })
        #expect(try await hooks.requestRescan().contains("scan requested"))
        #expect(try await hooks.requestInventoryRefresh().contains("inventory collection requested"))
        #expect(calls.withLock { $0 } == ["scan", "inventory"])
        let noScan = AgentRemediationHooks(rescan: nil, refreshInventory: {})
        #expect(try await noScan.requestRescan().contains("does not scan"))
        #expect(try await OfflineRemediationHooks().requestRescan().contains("not requested"))
    }
}
