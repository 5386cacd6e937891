import CordonShared
import Crypto
import Foundation
import Testing
@testable import CordonAgent

/// `cordon-agent apply` and `restore`, the built binary, against the real chpasswd, crontab, at
/// and nft, inside namespaces on throwaway copies (see `NamespaceHost`). Skipped with a message
/// when not root or a tool is missing; CI runs them as root.
@Suite(.serialized) struct RemediationLabTests {
    /// Nil when the lab can run; else why not (the test records it and returns).
    private func labReady() async throws -> NamespaceHost? {
        if let reason = NamespaceHost.unavailableReason() {
            print("RemediationLabTests skipped: \(reason)")
            return nil
        }
        let host = try NamespaceHost()
        guard FileManager.default.isExecutableFile(atPath: host.agent) else {
            host.remove()
            Issue.record("no cordon-agent binary at \(host.agent): build it (swift build) or set CORDON_AGENT_BINARY")
            return nil
        }
        let help = try await host.run("\(host.agent) apply --help > \(host.out)/apply-help.txt")
        guard help.status == 0, host.output("apply-help.txt").contains("cordon-agent apply") else {
            host.remove()
            Issue.record("\(host.agent) has no `apply` subcommand (register ApplyCommand in main.swift): \(help.log.prefix(300))")
            return nil
        }
        return host
    }

    /// nft JSON without the packet counters (the probe's packet counts).
    private func withoutCounters(_ json: String) -> String {
        json.replacingOccurrences(of: #"\{"counter": \{"packets": \d+, "bytes": \d+\}\}"#, with: "counter", options: .regularExpression)
    }

    private func checked(_ run: NamespaceHost.RunResult, _ what: String) {
        #expect(run.status == 0, "\(what) script failed (\(run.status)): \(run.log.suffix(2000))")
    }

    @Test func passwordRotationWithChpasswdIsEscrowedAndRestorable() async throws {
        guard let host = try await labReady() else { return }
        defer { host.finish() }
        let coordinator = LabCoordinator()
        try coordinator.enroll(host)
        try host.setPolicy(LabCoordinator.policy)
        checked(try await host.run("""
            useradd -M -s /bin/sh alice
            printf 'alice:Old-Passw0rd!x\\n' | chpasswd
            chage -d 2015-03-01 -M 99999 alice
            useradd -M -s /bin/sh keeper
            printf 'keeper:K33per-Pass!x\\n' | chpasswd
            useradd -M -s /bin/sh svc
            printf 'svc:Svc-Passw0rd!x\\n' | chpasswd
            usermod -L svc
            """), "setup")
        let aliceBefore = try #require(host.shadowHash("alice"))
        let aliceLineBefore = try #require(host.line("alice", in: "etc/shadow"))
        #expect(aliceLineBefore.split(separator: ":", omittingEmptySubsequences: false)[2] == "16495", "a password last changed on 2015-03-01")
        let keeperBefore = try #require(host.shadowHash("keeper"))
        let svcBefore = try #require(host.shadowHash("svc"))
        #expect(try NamespaceHost.cryptAccepts("Old-Passw0rd!x", hash: aliceBefore))

        let rotate = try host.write(try coordinator.list([.rotatePassword(user: "alice", length: 24), .rotatePassword(user: "svc", length: 20)], sequence: 1), as: "rotate")
        let protected = try host.write(try coordinator.list([.rotatePassword(user: "keeper", length: 24)], sequence: 2), as: "protected")
        checked(try await host.run("""
            \(host.applyLine(rotate, "rotate"))
            \(host.applyLine(protected, "protected"))
            \(host.applyLine(rotate, "again"))
            """), "apply")

        #expect(host.status("rotate") == 0, "\(host.output("rotate.err"))")
        let report = try host.report("rotate")
        #expect(report.outcome == "finished" && report.state == .succeeded)
        #expect(report.results.map(\.outcome) == [.changed, .changed])
        #expect(!host.output("rotate.json").contains(try #require(host.shadowHash("alice"))))

        // The escrowed passwords, opened with the coordinator's key, are what the copied shadow accepts.
        let secrets = Dictionary(uniqueKeysWithValues: report.secrets.map { ($0.user, $0) })
        let alicePassword = try Escrow.open(try #require(secrets["alice"]), agentID: LabCoordinator.agentID, with: coordinator.escrowKey)
        let aliceAfter = try #require(host.shadowHash("alice"))
        #expect(alicePassword.count == 24)
        #expect(aliceAfter != aliceBefore)
        #expect(try NamespaceHost.cryptAccepts(alicePassword, hash: aliceAfter))
        #expect(try !NamespaceHost.cryptAccepts("Old-Passw0rd!x", hash: aliceAfter))
        // The locked account got a new password and stayed locked.
        let svcPassword = try Escrow.open(try #require(secrets["svc"]), agentID: LabCoordinator.agentID, with: coordinator.escrowKey)
        let svcAfter = try #require(host.shadowHash("svc"))
        #expect(svcAfter.hasPrefix("!") && svcAfter != svcBefore)
        #expect(try NamespaceHost.cryptAccepts(svcPassword, hash: String(svcAfter.dropFirst())))
        #expect(host.attributes("etc/shadow")?.mode == 0o640)

        // The protected account: refused, untouched.
        #expect(host.status("protected") == AgentExit.refused)
        #expect(try host.report("protected").message?.contains("keeper is a protected account") == true)
        #expect(host.shadowHash("keeper") == keeperBefore)
        // The same list again: nothing new.
        #expect(host.status("again") == 0)
        #expect(try host.report("again").outcome == "already-handled")
        #expect(host.shadowHash("alice") == aliceAfter)

        // The old hash stayed on the host in the backup, 0600; restore puts it back, once.
        let backupID = try #require(report.results[0].backupID)
        let entry = host.stateDir.backupsDirectory + "/" + backupID + "/shadow-entry"
        #expect(SecureFile.mode(of: entry) == 0o600)
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: entry)), as: UTF8.self).hasPrefix("alice:\(aliceBefore):"))
        checked(try await host.run("""
            \(host.agentCommand("restore \(backupID) --json")) > \(host.out)/restore1.json
            \(host.agentCommand("restore \(backupID) --json")) > \(host.out)/restore2.json
            \(host.agentCommand("backups --json")) > \(host.out)/backups.json
            """), "restore")
        let first = try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore1.json").utf8))
        let second = try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore2.json").utf8))
        #expect(first.outcome == .changed && second.outcome == .unchanged)
        #expect(host.shadowHash("alice") == aliceBefore)
        #expect(host.line("alice", in: "etc/shadow") == aliceLineBefore, "the whole line, the last-change day of 2015 included")
        #expect(host.attributes("etc/shadow")?.mode == 0o640)
        #expect(try NamespaceHost.cryptAccepts("Old-Passw0rd!x", hash: try #require(host.shadowHash("alice"))))
        let listed = try CordonJSON.decode([BackupRecord].self, from: Data(host.output("backups.json").utf8))
        #expect(listed.contains { $0.id == backupID && $0.kind == .password })
    }

    @Test func lockAccountWithTheRealUsermodAndAnExactRestore() async throws {
        guard let host = try await labReady() else { return }
        defer { host.finish() }
        let coordinator = LabCoordinator()
        try coordinator.enroll(host)
        try host.setPolicy(LabCoordinator.policy)
        checked(try await host.run("""
            useradd -M -o -u 0 -g 0 -d /root -s /bin/bash toor
            printf 'toor:W0rm-Backd00r!\\n' | chpasswd
            """), "setup")
        let shadowBefore = try #require(host.line("toor", in: "etc/shadow"))
        let passwdBefore = try #require(host.line("toor", in: "etc/passwd"))
        let lock = try host.write(try coordinator.list([.lockAccount(user: "toor")], sequence: 1), as: "lock")
        let root = try host.write(try coordinator.list([.lockAccount(user: "root")], sequence: 2), as: "root")
        checked(try await host.run("""
            \(host.applyLine(lock, "lock"))
            \(host.applyLine(root, "root"))
            """), "apply")
        let report = try host.report("lock")
        #expect(report.state == .succeeded && report.results.map(\.outcome) == [.changed], "\(host.output("lock.err")) \(report.message ?? "")")
        #expect(report.secrets.isEmpty)
        #expect(try #require(host.shadowHash("toor")).hasPrefix("!"))
        #expect(host.line("toor", in: "etc/passwd")?.hasSuffix(":/usr/sbin/nologin") == true)
        #expect(host.status("root") == AgentExit.refused)
        #expect(try host.report("root").message?.contains("root is never locked") == true)

        let backupID = try #require(report.results[0].backupID)
        checked(try await host.run("\(host.agentCommand("restore \(backupID) --json")) > \(host.out)/restore.json"), "restore")
        #expect(try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore.json").utf8)).outcome == .changed)
        #expect(host.line("toor", in: "etc/shadow") == shadowBefore)
        #expect(host.line("toor", in: "etc/passwd") == passwdBefore)
        #expect(host.attributes("etc/shadow")?.mode == 0o640 && host.attributes("etc/passwd")?.mode == 0o644)
    }

    @Test func cronAndAtCleanupWithTheRealToolsIsExactAndRestorable() async throws {
        guard let host = try await labReady() else { return }
        defer { host.finish() }
        let coordinator = LabCoordinator()
        try coordinator.enroll(host)
        try host.setPolicy(LabCoordinator.policy)
        checked(try await host.run("""
            printf 'SHELL=/bin/sh\\n# m h dom mon dow command\\n*/5 * * * * /dev/shm/.kworker >/dev/null 2>&1\\n@daily /usr/bin/find /tmp -mtime +7 -delete\\n' | crontab -u root -
            printf '# planted\\n*/10 * * * * root /var/tmp/.sshd -k\\n17 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf\\n' > /etc/cron.d/sysupdate
            chmod 644 /etc/cron.d/sysupdate
            cd /root
            echo '/tmp/.x/worm --spread 198.18.0.0/15' | at -t 203001011200 2>/dev/null
            echo '/usr/bin/true' | at -q b -t 203001011300 2>/dev/null
            useradd -M -u 4242 -s /bin/sh alice
            echo '/tmp/.alice-miner' | setpriv --reuid=4242 --regid=4242 --clear-groups at -t 203002020202 2>/dev/null
            echo '/tmp/.alice-miner2' | setpriv --reuid=4242 --regid=4242 --clear-groups at -t 203002020303 2>/dev/null
            """), "setup")

        // The IDs, as the inventory collects them from the same files.
        let entries = try #require(LiveSchedulerSystem(root: host.root).collect().value).entries
        let cronWorm = try #require(entries.first { $0.command.hasPrefix("/dev/shm/.kworker") })
        let cronDWorm = try #require(entries.first { $0.command.hasPrefix("/var/tmp/.sshd") })
        let atWorm = try #require(entries.first { $0.kind == .at && $0.command.contains("/tmp/.x/worm") })
        let aliceJobs = entries.filter { $0.kind == .at && $0.user == "alice" }
        #expect(aliceJobs.count == 2)
        let crontab = "var/spool/cron/crontabs/root", cronD = "etc/cron.d/sysupdate", atJob = "var/spool/cron" + atWorm.source.dropFirst("/var/spool/cron".count)
        let before = [crontab, cronD, atJob].map { ($0, host.file($0), host.attributes($0)) }
        let crontabAttributes = try #require(host.attributes(crontab))
        #expect(crontabAttributes.mode == 0o600)
        let daily = try #require(entries.first { $0.command.hasPrefix("/usr/bin/find /tmp") })

        let clean = try host.write(try coordinator.list([.removeScheduledTask(id: cronWorm.id), .removeScheduledTask(id: atWorm.id),
                                                         .removeScheduledTask(id: cronDWorm.id)], sequence: 1), as: "clean")
        let purge = try host.write(try coordinator.list([.purgeAtJobs(user: "alice")], sequence: 2), as: "purge")
        let dry = try host.write(try coordinator.list([.removeScheduledTask(id: daily.id), .purgeAtJobs(user: nil)], sequence: 3, dryRun: true), as: "dry")
        checked(try await host.run("""
            \(host.applyLine(clean, "clean"))
            crontab -l -u root > \(host.out)/crontab-after.txt
            atq | sort > \(host.out)/atq-after.txt
            \(host.applyLine(purge, "purge"))
            atq | sort > \(host.out)/atq-purged.txt
            sha256sum /var/spool/cron/crontabs/root /etc/cron.d/sysupdate /var/spool/cron/atjobs/* > \(host.out)/before-dry.sum
            \(host.applyLine(dry, "dry"))
            sha256sum /var/spool/cron/crontabs/root /etc/cron.d/sysupdate /var/spool/cron/atjobs/* > \(host.out)/after-dry.sum
            """), "apply")

        let cleaned = try host.report("clean")
        #expect(host.status("clean") == 0, "\(host.output("clean.err"))")
        #expect(cleaned.results.map(\.outcome) == [.changed, .changed, .changed], "\(cleaned.results.map(\.detail))")
        // Exactly the named lines are gone; everything else is byte for byte the same.
        let crontabBefore = String(decoding: try #require(before[0].1), as: UTF8.self)
        #expect(String(decoding: try #require(host.file(crontab)), as: UTF8.self)
            == crontabBefore.replacingOccurrences(of: "*/5 * * * * /dev/shm/.kworker >/dev/null 2>&1\n", with: ""))
        #expect(host.attributes(crontab).map { [$0.uid, $0.gid, $0.mode] } == [crontabAttributes.uid, crontabAttributes.gid, crontabAttributes.mode])
        #expect(host.output("crontab-after.txt").contains("@daily /usr/bin/find") && !host.output("crontab-after.txt").contains(".kworker"))
        #expect(String(decoding: try #require(host.file(cronD)), as: UTF8.self)
            == "# planted\n17 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf\n")
        #expect(host.file(atJob) == nil)
        #expect(!host.output("atq-after.txt").contains("2030-01-01 12:00") && !host.output("atq-after.txt").hasPrefix("1\t"))
        #expect(host.output("atq-after.txt").split(separator: "\n").count == 3)
        // purge-at-jobs alice: both of hers, nobody else's.
        #expect(try host.report("purge").results.first?.outcome == .changed)
        #expect(host.output("atq-purged.txt").split(separator: "\n").count == 1)
        #expect(!host.output("atq-purged.txt").contains("alice"))
        // The dry run changed no byte.
        #expect(try host.report("dry").results.map(\.outcome) == [.wouldChange, .wouldChange])
        #expect(host.output("before-dry.sum") == host.output("after-dry.sum") && !host.output("after-dry.sum").isEmpty)

        // Restore everything: byte-identical, with owner, group and mode; twice is a no-op.
        let backups = cleaned.results.compactMap(\.backupID) + [try #require(try host.report("purge").results.first?.backupID)]
        #expect(backups.count == 4)
        checked(try await host.run(backups.enumerated().map { index, id in
            "\(host.agentCommand("restore \(id) --json")) > \(host.out)/restore-\(index).json && "
                + "\(host.agentCommand("restore \(id) --json")) > \(host.out)/restore-again-\(index).json"
        }.joined(separator: "\n") + "\natq | sort > \(host.out)/atq-restored.txt\ncrontab -l -u root > \(host.out)/crontab-restored.txt\n"), "restore")
        for index in backups.indices {
            #expect(try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore-\(index).json").utf8)).outcome == .changed)
            #expect(try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore-again-\(index).json").utf8)).outcome == .unchanged)
        }
        for (path, data, attributes) in before {
            #expect(host.file(path) == data, "\(path) is not byte-identical after restore")
            #expect(host.attributes(path).map { [$0.uid, $0.gid, $0.mode] } == attributes.map { [$0.uid, $0.gid, $0.mode] }, "\(path)")
        }
        #expect(host.output("atq-restored.txt").split(separator: "\n").count == 4)
        #expect(host.output("crontab-restored.txt").contains(".kworker"))
    }

    @Test func blockAndUnblockChangeOnlyTheCordonTable() async throws {
        guard let host = try await labReady() else { return }
        defer { host.finish() }
        let coordinator = LabCoordinator()
        try coordinator.enroll(host)
        try host.setPolicy(LabCoordinator.policy)
        let block = try host.write(try coordinator.list([.blockPorts(tcp: [135, 139, 445, 593], udp: [137, 138], direction: .both)], sequence: 2), as: "block")
        let dry = try host.write(try coordinator.list([.unblockPorts(tcp: [445], udp: [], direction: .both)], sequence: 3, dryRun: true), as: "dry")
        let partial = try host.write(try coordinator.list([.unblockPorts(tcp: [445], udp: [], direction: .inbound)], sequence: 4), as: "partial")
        let all = try host.write(try coordinator.list([.unblockPorts(tcp: [135, 139, 445, 593], udp: [137, 138], direction: .both)], sequence: 5), as: "all")
        let ssh = try host.write(try coordinator.list([.blockPorts(tcp: [22, 445], udp: [], direction: .inbound)], sequence: 6), as: "ssh")
        let probe = """
            python3 -c 'import socket,sys
            s=socket.socket(); s.settimeout(1.0)
            try:
                s.connect(("127.0.0.1", 445)); print("open")
            except socket.timeout: print("dropped")
            except ConnectionRefusedError: print("refused")'
            """
        checked(try await host.run("""
            nft add table inet filter
            nft add chain inet filter input '{ type filter hook input priority 0; policy accept; }'
            nft add rule inet filter input tcp dport 8080 accept
            nft -j list table inet filter > \(host.out)/filter-before.json
            \(probe) > \(host.out)/probe-before.txt
            \(host.applyLine(block, "preview", extra: "--dry-run-only"))
            nft -j list ruleset > \(host.out)/after-preview.json
            \(host.applyLine(block, "block"))
            nft -j list ruleset > \(host.out)/after-block.json
            nft list table inet cordon > \(host.out)/after-block.nft
            \(probe) > \(host.out)/probe-blocked.txt
            \(host.applyLine(dry, "dry"))
            nft -j list ruleset > \(host.out)/after-dry.json
            \(host.applyLine(partial, "partial"))
            nft -j list ruleset > \(host.out)/after-partial.json
            \(host.applyLine(all, "all"))
            nft -j list ruleset > \(host.out)/after-all.json
            \(probe) > \(host.out)/probe-after.txt
            \(host.applyLine(ssh, "ssh"))
            nft -j list ruleset > \(host.out)/after-ssh.json
            nft -j list table inet filter > \(host.out)/filter-after.json
            BK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["backupID"])' \(host.out)/all.json)
            \(host.agentCommand("restore $BK --json")) > \(host.out)/restore1.json
            nft -j list ruleset > \(host.out)/after-restore.json
            \(host.agentCommand("restore $BK --json")) > \(host.out)/restore2.json
            """), "firewall")

        func ruleset(_ name: String) throws -> NftRuleset {
            try NftRuleset.parse(Data(host.output(name).utf8)).get()
        }
        func cordonSets(_ name: String) throws -> CordonPortSets? {
            let text = host.output(name)
            guard text.contains("\"cordon\"") else { return nil }
            return try CordonTable.parse(Data(text.utf8)).sets
        }
        // --dry-run-only: nothing, and the list stays usable.
        #expect(host.status("preview") == 0)
        #expect(try host.report("preview").outcome == "previewed")
        #expect(try cordonSets("after-preview.json") == nil)

        #expect(host.status("block") == 0, "\(host.output("block.err"))")
        let blocked = try ruleset("after-block.json")
        #expect(blocked.tables.map { "\($0.family) \($0.name)" }.sorted() == ["inet cordon", "inet filter"])
        #expect(try cordonSets("after-block.json") == CordonPortSets(inboundTCP: [135, 139, 445, 593], inboundUDP: [137, 138],
                                                                     outboundTCP: [135, 139, 445, 593], outboundUDP: [137, 138]))
        let chains = blocked.chains.filter { $0.table == "cordon" }
        #expect(chains.map { "\($0.name) \($0.hook ?? "") \($0.priority) \($0.policy ?? "")" }.sorted() == ["input input -10 accept", "output output -10 accept"])
        #expect(chains.allSatisfy { $0.rules.count == 2 })
        print("nft list table inet cordon after block-ports:\n" + host.output("after-block.nft"))
        // Really dropped: a SYN to a closed port is refused before, dropped (no answer) after.
        #expect(host.output("probe-before.txt").hasPrefix("refused"))
        #expect(host.output("probe-blocked.txt").hasPrefix("dropped"))

        #expect(withoutCounters(host.output("after-dry.json")) == withoutCounters(host.output("after-block.json")))
        #expect(try host.report("dry").results.first?.outcome == .wouldChange)
        #expect(try cordonSets("after-partial.json") == CordonPortSets(inboundTCP: [135, 139, 593], inboundUDP: [137, 138],
                                                                       outboundTCP: [135, 139, 445, 593], outboundUDP: [137, 138]))
        #expect(try cordonSets("after-all.json") == nil)
        #expect(try ruleset("after-all.json").tables.map(\.name) == ["filter"])
        #expect(host.output("probe-after.txt").hasPrefix("refused"))

        // tcp/22: refused whole, nothing blocked.
        #expect(host.status("ssh") == AgentExit.refused)
        #expect(try host.report("ssh").message?.contains("tcp/22 may not be blocked") == true)
        #expect(try cordonSets("after-ssh.json") == nil)

        // The other table was never touched.
        #expect(host.output("filter-before.json") == host.output("filter-after.json") && host.output("filter-after.json").contains("8080"))

        // Restoring the backup of the last unblock brings the partial table back; again: unchanged.
        #expect(try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore1.json").utf8)).outcome == .changed)
        #expect(try CordonJSON.decode(ActionResult.self, from: Data(host.output("restore2.json").utf8)).outcome == .unchanged)
        #expect(try cordonSets("after-restore.json") == cordonSets("after-partial.json"))
    }

    @Test func forgedExpiredReplayedMisaddressedAndProtectedListsChangeNothing() async throws {
        guard let host = try await labReady() else { return }
        defer { host.finish() }
        let coordinator = LabCoordinator()
        try coordinator.enroll(host)
        try host.setPolicy(LabCoordinator.policy)
        checked(try await host.run("""
            useradd -M -s /bin/sh alice
            printf 'alice:Old-Passw0rd!x\\n' | chpasswd
            chage -d 2015-03-01 -M 99999 alice
            useradd -M -s /bin/sh keeper
            printf 'keeper:K33per-Pass!x\\n' | chpasswd
            printf '*/5 * * * * /dev/shm/.kworker\\n' | crontab -u root -
            """), "setup")
        let inventory = try #require(LiveSchedulerSystem(root: host.root).collect().value)
        let worm = try #require(inventory.entries.first { $0.command.hasPrefix("/dev/shm") })
        let harmful: [TaskAction] = [.rotatePassword(user: "alice", length: 24), .removeScheduledTask(id: worm.id),
                                     .blockPorts(tcp: [445], udp: [], direction: .inbound)]
        let baseline = try host.write(try coordinator.list([.rescan], sequence: 10), as: "baseline")
        let cases: [(String, SignedTaskList, String)] = [
            ("forged", try coordinator.list(harmful, sequence: 11, key: Curve25519.Signing.PrivateKey()), "signature does not verify"),
            ("expired", try coordinator.list(harmful, sequence: 11, expiresIn: -60), "expired"),
            ("replayed", try coordinator.list(harmful, sequence: 10, id: "run-10b"), "already accepted"),
            ("misaddressed", try coordinator.list(harmful, sequence: 11, agentID: "jump-other"), "for agent jump-other"),
            ("protected", try coordinator.list(harmful + [.rotatePassword(user: "keeper", length: 24)], sequence: 12), "keeper is a protected account"),
        ]
        var lines = [host.applyLine(baseline, "baseline"),
                     "sha256sum /etc/shadow /var/spool/cron/crontabs/root > \(host.out)/before.sum",
                     "nft -j list ruleset > \(host.out)/before.nft"]
        for (name, signed, _) in cases { lines.append(host.applyLine(try host.write(signed, as: name), name)) }
        lines += ["sha256sum /etc/shadow /var/spool/cron/crontabs/root > \(host.out)/after.sum", "nft -j list ruleset > \(host.out)/after.nft",
                  host.applyLine(baseline, "baseline-again")]
        checked(try await host.run(lines.joined(separator: "\n")), "apply")

        #expect(host.status("baseline") == 0, "\(host.output("baseline.err"))")
        for (name, _, reason) in cases {
            #expect(host.status(name) == AgentExit.refused, "\(name): \(host.output(name + ".err"))")
            let report = try host.report(name)
            #expect(report.outcome == "refused", "\(name)")
            #expect(report.message?.contains(reason) == true, "\(name): \(report.message ?? "")")
            #expect(report.secrets.isEmpty)
        }
        #expect(host.output("before.sum") == host.output("after.sum") && host.output("after.sum").contains("/etc/shadow"))
        #expect(host.output("before.nft") == host.output("after.nft"))
        #expect(try host.report("baseline-again").outcome == "already-handled")
        // Only the genuine, policy-refused list moved the sequence on.
        #expect(try TaskStore(directory: host.stateDir.tasksDirectory).lastSequence() == 12)
        #expect(BackupStore(directory: host.stateDir.backupsDirectory).list().isEmpty)
    }
}
