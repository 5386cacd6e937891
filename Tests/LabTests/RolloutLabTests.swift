import CordonCoordinator
import CordonShared
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cordon rollout` against real sshd on the lab's jump hosts: a coordinator in the lab's
/// coordinator namespace, then `cordon rollout apply` from there over SSH (the system's OpenSSH,
/// one jump host reached through the other as a bastion): every agent installed, enrolled,
/// running under the plain supervisor (no systemd in the lab) and reporting from its segment; a
/// second run changes nothing; a new binary is upgraded in place; a host with a wrong key and an
/// unreachable one fail without stopping the others. Then the Ansible role against a jump host,
/// with the same end state. The machine's own /usr/local/bin, /etc, /var/lib, /root/.ssh are
/// left alone (each jump host writes into its own overlay).
@Suite(.serialized) struct RolloutLabTests {
    /// What one test sets up in the lab: sshd, a coordinator, an operator profile.
    struct Setup {
        let lab: Lab
        let sshd: LabSSHD
        let work: String
        let cordon: String
        let agent: String
        let fingerprint: String
        let profile: String
        let knownHosts: String
        var coordinator: String { lab.coordinator.namespace }

        /// `cordon ARGS` in the coordinator's namespace, with the operator profile and a private HOME.
        func cordon(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> LabCommandResult {
            try await lab.exec(coordinator, ["env", "CORDON_PROFILE=\(profile)", "HOME=\(work)/home", cordon] + arguments, timeout: timeout)
        }

        func fleet() async throws -> FleetStatus {
            let status = try await cordon(["status", "--json"], timeout: .seconds(30))
            guard status.succeeded else { throw LabError("cordon status: \(status)") }
            return try CordonJSON.decode(FleetStatus.self, from: Data(status.stdout.utf8))
        }

        func ssh(_ address: String, _ command: String) async throws -> LabCommandResult {
            try await lab.ssh(sshd, to: address, from: coordinator, knownHosts: work + "/test_known_hosts", command)
        }

        func apply(_ inventory: String, _ extra: [String] = []) async throws -> (LabCommandResult, RolloutReport?) {
            let result = try await cordon(["rollout", "apply", inventory, "--json", "--parallel", "4", "--report-timeout", "90s",
                                           "--deploy-dir", LabEnvironment.repoRoot.appendingPathComponent("Deploy").path] + extra,
                                          timeout: .seconds(400))
            return (result, try? CordonJSON.decode(RolloutReport.self, from: Data(result.stdout.utf8)))
        }

        /// The inventory: both segments; segment 2's jump host through segment 1's as a bastion.
        func writeInventory(_ name: String, binary: String, extraHosts: String = "") throws -> String {
            let path = "\(work)/\(name)"
            try """
                coordinator:
                  url: https://\(lab.coordinator.address):8443
                agent:
                  binary: \(binary)
                  policy: \(work)/policy.yaml
                ssh:
                  user: root
                  key: \(sshd.key)
                  knownHosts: \(knownHosts)
                  connectTimeout: 5s
                  commandTimeout: 5m
                bastions:
                  edge:
                    address: \(lab.segment(1).jump.managementAddress)
                segments:
                  segment1:
                    scope: [\(lab.segment(1).subnet)]
                    hosts:
                      - name: s1-jump
                        address: \(lab.segment(1).jump.managementAddress)
                \(extraHosts)
                  segment2:
                    scope: [\(lab.segment(2).subnet)]
                    hosts:
                      - name: s2-jump
                        address: \(lab.segment(2).jump.managementAddress)
                        proxyJump: edge

                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    static var agentBinary: String? {
        guard let cordon = LabEnvironment.cordonBinary else { return nil }
        let agent = (cordon as NSString).deletingLastPathComponent + "/cordon-agent"
        return FileManager.default.isExecutableFile(atPath: agent) ? agent : nil
    }

    /// Builds sshd, the coordinator and the operator profile in `lab`; nil (after a warning) when
    /// the binaries are not there or `cordon` has no rollout command yet.
    static func setUp(_ lab: Lab) async throws -> Setup? {
        guard let cordon = LabEnvironment.cordonBinary, let agent = agentBinary else {
            Issue.record("skipped: no cordon and cordon-agent binaries (swift build, or CORDON_BINARY)", severity: .warning)
            return nil
        }
        let help = try await LabCommand.run([cordon, "rollout", "--help"], timeout: .seconds(30))
        guard help.succeeded else {
            Issue.record("skipped: \(cordon) has no `rollout` subcommand (register RolloutCommand in Sources/Coordinator/cordon/main.swift)",
                         severity: .warning)
            return nil
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-rollout-lab-\(lab.prefix)").path
        try FileManager.default.createDirectory(atPath: work + "/home", withIntermediateDirectories: true)
        chmod(work, 0o700)
        let sshd = try await lab.startSSHD()
        #expect(sshd.hosts.count == lab.layout.segments.count)

        let coordinatorNS = lab.coordinator.namespace
        let initialized = try await lab.exec(coordinatorNS, [cordon, "init", "--state-dir", work + "/coord", "--name", lab.coordinator.address, "--json"])
        guard initialized.succeeded else { throw LabError("cordon init: \(initialized)") }
        struct Init: Decodable { var caFingerprint: String }
        let fingerprint = try JSONDecoder().decode(Init.self, from: Data(initialized.stdout.utf8)).caFingerprint
        let url = "https://\(lab.coordinator.address):8443"
        let added = try await lab.exec(coordinatorNS, ["env", "HOME=\(work)/home", cordon, "operators", "add", "lab", "--state-dir", work + "/coord",
                                                        "--coordinator", url, "--out", work + "/op"])
        guard added.succeeded else { throw LabError("cordon operators add: \(added)") }
        try lab.spawn(coordinatorNS, name: "coordinator", [cordon, "serve", "--state-dir", work + "/coord", "--host", lab.coordinator.address,
                                                       "--port", "8443", "--log-level", "warning"])
        var up = false
        for _ in 0..<150 where !up {
            up = try await lab.connect(from: coordinatorNS, to: lab.coordinator.address, port: 8443, timeout: 1) == .open
            if !up { try await Task.sleep(for: .milliseconds(200)) }
        }
        guard up else { throw LabError("cordon serve did not listen: \(lab.log(of: "coordinator"))") }
        try "allowedActions: [rescan, refresh-inventory, block-ports, unblock-ports]\nprotectedUnits: [nginx.service]\n"
            .write(toFile: work + "/policy.yaml", atomically: true, encoding: .utf8)
        return Setup(lab: lab, sshd: sshd, work: work, cordon: cordon, agent: agent, fingerprint: fingerprint, profile: work + "/op/lab.yaml",
                     knownHosts: work + "/rollout_known_hosts")
    }

    static let labOptions = LabOptions(segments: 2, roles: ["closed"], ttl: .seconds(1800), tools: LabSSHD.tools)

    @Test func rolloutInstallsEnrollsUpgradesAndIsolatesFailures() async throws {
        let before = MachineFiles.snapshot()
        try await withLab(Self.labOptions) { lab in
            guard let setup = try await Self.setUp(lab) else { return }
            defer { try? FileManager.default.removeItem(atPath: setup.work) }
            let inventory = try setup.writeInventory("inventory.yaml", binary: setup.agent)
            var timings: [String] = []

            // The plan: both hosts get an install; nothing changes yet.
            let plan = try await setup.cordon(["rollout", "plan", inventory, "--json"])
            #expect(plan.succeeded, "\(plan)")
            let planned = try CordonJSON.decode(RolloutReport.self, from: Data(plan.stdout.utf8))
            #expect(planned.hosts.map(\.action) == ["install", "install"])
            #expect(planned.hosts.allSatisfy { $0.systemd == false })
            #expect(planned.segments.map(\.scopeAction) == ["would-set", "would-set"])
            #expect(try await setup.fleet().agents.isEmpty)

            // First apply: installed, enrolled, reporting, under the plain supervisor.
            var clock = ContinuousClock.now
            let (first, firstReport) = try await setup.apply(inventory)
            timings.append("first apply \(ContinuousClock.now - clock)")
            #expect(first.succeeded, "\(first)")
            let report = try #require(firstReport, "\(first)")
            #expect(report.segments.map(\.scopeAction) == ["set", "set"])
            for host in report.hosts {
                #expect(host.outcome == .installed, "\(host)")
                #expect(host.installed && host.enrolled && host.running && host.reporting == true, "\(host)")
                #expect(host.supervisor == "plain" && host.systemd == false)
                #expect(host.detail?.contains("no systemd: plain supervisor") == true, "\(host.detail ?? "")")
                timings.append("  \(host.host): \(host.seconds)s")
            }
            #expect(report.hosts.map(\.via) == [nil, "edge"])
            #expect(first.stderr.contains("[2/2]"), "progress lines: \(first.stderr)")
            // The table says so too.
            let table = try await setup.cordon(["rollout", "status", inventory])
            #expect(table.succeeded && table.stdout.contains("2 host(s): 2 live"), "\(table)")

            // `cordon status`: both agents online in their segments, with a report.
            let fleet = try await setup.fleet()
            #expect(fleet.agents.count == 2)
            for (name, segment) in [("s1-jump", "segment1"), ("s2-jump", "segment2")] {
                let agent = try #require(fleet.agents.first { $0.hostname == name }, "\(fleet.agents)")
                #expect(agent.segment == segment && agent.state == .online && agent.lastReportAt != nil, "\(agent)")
                #expect(agent.agentVersion == CordonVersion.current)
            }
            let segments = try await setup.cordon(["segments", "list", "--json"])
            #expect(segments.stdout.contains("198.18.1.0/24") && segments.stdout.contains("198.18.2.0/24"))

            // On the jump hosts: the files with their modes and owners, the agent under the supervisor.
            for jump in [lab.segment(1).jump, lab.segment(2).jump] {
                let files = try await setup.ssh(jump.managementAddress, """
                    stat -c '%a %U:%G %n' /usr/local/bin/cordon-agent /usr/local/bin/cordon-agent-supervise /etc/cordon \
                      /etc/cordon/agent.yaml /etc/cordon/policy.yaml /var/lib/cordon-agent /var/lib/cordon-agent/agent.key; \
                    hostname; cat /etc/cordon/agent.yaml; readlink /proc/$(cat /run/cordon-agent/agent.pid)/exe || true; \
                    tr '\\0' ' ' < /proc/$(cat /run/cordon-agent/supervise.pid)/cmdline; echo; ls /tmp
                    """)
                #expect(files.succeeded, "\(files)")
                for line in ["755 root:root /usr/local/bin/cordon-agent", "755 root:root /usr/local/bin/cordon-agent-supervise",
                             "755 root:root /etc/cordon", "644 root:root /etc/cordon/agent.yaml", "644 root:root /etc/cordon/policy.yaml",
                             "700 root:root /var/lib/cordon-agent", "600 root:root /var/lib/cordon-agent/agent.key", jump.namespace,
                             "scope: [198.18.\(jump.namespace.contains("-s1-") ? 1 : 2).0/24]",
                             "cordon-agent-supervise --pid-file /run/cordon-agent/supervise.pid --log /var/log/cordon-agent/agent.log -- /usr/local/bin/cordon-agent run"] {
                    #expect(files.stdout.contains(line), "\(jump.namespace) lacks \(line):\n\(files.stdout)")
                }
                #expect(!files.stdout.contains("cordon-rollout."), "the upload directory was left in /tmp")
                // It all went to the host's own overlay, not the machine.
                let root = try #require(setup.sshd.host(address: jump.managementAddress)).root
                #expect(FileManager.default.fileExists(atPath: root + "/usr/local/bin/cordon-agent"))
                #expect(FileManager.default.fileExists(atPath: root + "/etc/cordon/agent.yaml"))
                #expect(FileManager.default.fileExists(atPath: root + "/var/lib/cordon-agent/enrollment.json"))
            }
            let pids = try await agentPIDs(setup)

            // Second apply: nothing changes, nothing restarts, nobody enrolls again.
            clock = .now
            let (second, secondReport) = try await setup.apply(inventory)
            timings.append("second apply (unchanged) \(ContinuousClock.now - clock)")
            #expect(second.succeeded, "\(second)")
            #expect(secondReport?.hosts.map(\.outcome) == [.unchanged, .unchanged], "\(second.stdout)")
            #expect(secondReport?.hosts.allSatisfy { $0.reporting == true } == true)
            #expect(secondReport?.segments.map(\.scopeAction) == ["unchanged", "unchanged"])
            #expect(try await agentPIDs(setup) == pids, "an unchanged host was restarted")
            #expect(try await setup.fleet().agents.count == 2)

            // A new binary: upgraded in place and restarted. The variant is the same build with
            // bytes appended: the kernel and ld.so map only what the ELF program headers name, so it
            // runs exactly like the original, and its SHA-256 differs: the rollout decides on the
            // binary's content (dev builds keep their version string), the version only guards
            // against downgrades.
            let v2 = setup.work + "/cordon-agent-v2"
            try FileManager.default.copyItem(atPath: setup.agent, toPath: v2)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: v2))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\ncordon rollout lab test: build 2\n".utf8))
            try handle.close()
            let v2Check = try await LabCommand.run([v2, "--version"], timeout: .seconds(30))
            #expect(v2Check.succeeded && v2Check.stdout.contains(CordonVersion.current))
            let v2sha = try RolloutFiles.sha256(file: v2)
            let inventory2 = try setup.writeInventory("inventory2.yaml", binary: v2)
            let reportsBefore = try await setup.fleet().agents.reduce(into: [String: Date]()) { $0[$1.hostname] = $1.lastReportAt }
            clock = .now
            let (third, thirdReport) = try await setup.apply(inventory2)
            timings.append("upgrade apply \(ContinuousClock.now - clock)")
            #expect(third.succeeded, "\(third)")
            #expect(thirdReport?.hosts.map(\.outcome) == [.upgraded, .upgraded], "\(third.stdout)")
            #expect(thirdReport?.hosts.allSatisfy { $0.reporting == true && $0.action == "upgrade" } == true)
            let newPIDs = try await agentPIDs(setup)
            for (host, pid) in newPIDs { #expect(pid != pids[host], "\(host) was not restarted") }
            for jump in [lab.segment(1).jump, lab.segment(2).jump] {
                let sum = try await setup.ssh(jump.managementAddress, "sha256sum /usr/local/bin/cordon-agent")
                #expect(sum.stdout.hasPrefix(v2sha), "\(sum)")
            }
            let fleetAfter = try await setup.fleet()
            #expect(fleetAfter.agents.count == 2, "an upgrade does not enroll again")
            for agent in fleetAfter.agents {
                #expect(agent.lastReportAt.map { $0 > (reportsBefore[agent.hostname] ?? .distantPast) } == true, "\(agent.hostname): no new report")
            }

            // A wrong key and an unreachable address: those two fail, the others are fine.
            let wrongKey = setup.work + "/wrong_key"
            let keygen = try await LabCommand.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrongKey], timeout: .seconds(30))
            #expect(keygen.succeeded)
            let inventory3 = try setup.writeInventory("inventory3.yaml", binary: v2, extraHosts: """
                      - name: s1-wrong-key
                        address: \(lab.segment(1).jump.managementAddress)
                        key: \(wrongKey)
                      - name: s1-unreachable
                        address: 198.18.0.99
                """)
            clock = .now
            let (fourth, fourthReport) = try await setup.apply(inventory3)
            timings.append("apply with 2 bad hosts \(ContinuousClock.now - clock)")
            #expect(fourth.status == 1, "\(fourth)")
            let rows = try #require(fourthReport, "\(fourth)").hosts
            let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.host, $0) })
            #expect(byName["s1-jump"]?.outcome == .unchanged && byName["s2-jump"]?.outcome == .unchanged, "\(rows)")
            let bad = try #require(byName["s1-wrong-key"])
            #expect(bad.outcome == .failed && bad.failedStep == "connect")
            #expect(bad.error == "ssh login as root to 198.18.0.11:22 refused: the key \(wrongKey) is not accepted there", "\(bad.error ?? "")")
            let gone = try #require(byName["s1-unreachable"])
            #expect(gone.outcome == .failed && gone.failedStep == "connect")
            #expect(gone.error?.hasPrefix("cannot reach 198.18.0.99:22: ") == true, "\(gone.error ?? "")")
            #expect(gone.seconds < 30, "bounded by ConnectTimeout: \(gone.seconds)s")
            let text = try await setup.cordon(["rollout", "apply", inventory3, "--quiet"], timeout: .seconds(300))
            #expect(text.status == 1 && text.stdout.contains("ERROR (connect): cannot reach 198.18.0.99:22"), "\(text.stdout)")

            // rollout status: live for the two, missing for the two that never made it.
            let status = try await setup.cordon(["rollout", "status", inventory3, "--json"])
            #expect(status.status == 1)
            let entries = try CordonJSON.decode(RolloutStatus.self, from: Data(status.stdout.utf8)).hosts
            #expect(entries.map(\.state) == [.live, .missing, .missing, .live], "\(entries)")

            // The plan for the current inventory: nothing to do.
            let replan = try await setup.cordon(["rollout", "plan", inventory2, "--json"])
            #expect(try CordonJSON.decode(RolloutReport.self, from: Data(replan.stdout.utf8)).hosts.map(\.action) == ["unchanged", "unchanged"])
            print("rollout lab timings:\n" + timings.joined(separator: "\n"))
            try? timings.joined(separator: "\n").write(toFile: FileManager.default.temporaryDirectory.appendingPathComponent("cordon-rollout-lab-timings.txt").path,
                                                       atomically: true, encoding: .utf8)
        }
        let changes = MachineFiles.snapshot().changes(since: before)
        #expect(changes.isEmpty, "the machine's own files changed: \(changes)")
    }

    /// `Deploy/lab/up --sshd`: each jump host answers SSH with the lab's key only, has its own
    /// hostname and its own /etc, /usr/local, /root and /tmp (what one writes, the other and the
    /// machine do not see), and `down` stops its sshd by PID.
    @Test func upWithSSHDGivesEachJumpHostItsOwnFiles() async throws {
        guard LabEnvironment.isRoot, LabEnvironment.missing(LabEnvironment.baseTools + LabSSHD.tools).isEmpty else {
            Issue.record("skipped: needs root and \(LabEnvironment.baseTools + LabSSHD.tools)", severity: .warning)
            return
        }
        let prefix = "ls" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-lab-\(prefix)").path
        let before = MachineFiles.snapshot()
        var sshdPIDs: [Int32] = []
        do {
            let up = try await LabCommand.run([LabEnvironment.upScript, "--prefix", prefix, "--state-dir", state, "--segments", "2",
                                               "--hosts", "closed", "--ttl", "300", "--sshd"], timeout: .seconds(180))
            #expect(up.succeeded, "\(up)")
            let lab = try JSONDecoder().decode(LabDescription.self, from: Data(contentsOf: URL(fileURLWithPath: state + "/lab.json")))
            let sshd = try JSONDecoder().decode(LabSSHD.self, from: Data(contentsOf: URL(fileURLWithPath: state + "/sshd.json")))
            sshdPIDs = sshd.hosts.map(\.pid)
            #expect(sshd.hosts.map(\.address) == ["198.18.0.11", "198.18.0.12"])
            let coordinator = lab.management.coordinator.namespace
            func ssh(_ host: LabSSHD.Host, _ command: String, key: String? = nil, extra: [String] = []) async throws -> LabCommandResult {
                try await LabCommand.run(["ip", "netns", "exec", coordinator, "ssh", "-F", "/dev/null", "-i", key ?? sshd.key, "-o", "BatchMode=yes",
                                          "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=\(state)/test_known_hosts",
                                          "-o", "ConnectTimeout=5"] + extra + ["root@\(host.address)", command], timeout: .seconds(60))
            }
            for host in sshd.hosts {
                let other = sshd.hosts.first { $0.namespace != host.namespace }!
                let out = try await ssh(host, """
                    hostname; echo "deadline=$CORDON_SUPERVISE_DEADLINE"; test -d /run/sshd && echo privsep; \
                    mkdir -p /etc/cordon && echo \(host.namespace) > /etc/cordon/who && touch /usr/local/bin/mark-\(host.namespace) /root/mark /tmp/mark; \
                    cat /etc/cordon/who; ls /usr/local/bin | grep mark-
                    """)
                #expect(out.succeeded, "\(out)")
                let lines = out.stdout.split(separator: "\n").map(String.init)
                #expect(lines.first == host.namespace)
                // Sessions learn when the lab ends (sshd's SetEnv; up computes it when it starts sshd).
                let deadline = lines.first { $0.hasPrefix("deadline=") }.flatMap { Int($0.dropFirst("deadline=".count)) } ?? 0
                #expect((lab.expiresAt - 60...lab.expiresAt).contains(deadline) && lines.contains("privsep"), "\(lines), expires \(lab.expiresAt)")
                #expect(lines.contains("mark-\(host.namespace)") && !lines.contains("mark-\(other.namespace)"), "\(lines)")
                #expect(FileManager.default.fileExists(atPath: host.root + "/etc/cordon/who"))
                #expect(FileManager.default.fileExists(atPath: host.root + "/root/mark"))
                // The lab's key only: another key is refused, and there are no passwords.
                let keyFile = state + "/other_key"
                if !FileManager.default.fileExists(atPath: keyFile) {
                    _ = try await LabCommand.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile], timeout: .seconds(30))
                }
                let refused = try await ssh(host, "true", key: keyFile)
                #expect(refused.status == 255 && refused.stderr.contains("Permission denied"), "\(refused)")
                let password = try await ssh(host, "true", extra: ["-o", "PreferredAuthentications=password,keyboard-interactive"])
                #expect(password.status == 255 && password.stderr.contains("Permission denied"), "\(password)")
            }
            #expect(!FileManager.default.fileExists(atPath: "/etc/cordon/who") && !FileManager.default.fileExists(atPath: "/root/mark")
                    && !FileManager.default.fileExists(atPath: "/tmp/mark"))
        } catch {
            Issue.record(error)
        }
        let down = try await LabCommand.run([LabEnvironment.downScript, "--prefix", prefix, "--state-dir", state], timeout: .seconds(120))
        #expect(down.succeeded, "\(down)")
        #expect(Lab.namespaces(prefix: prefix).isEmpty)
        for pid in sshdPIDs { #expect(!Self.running(pid), "sshd \(pid) still runs") }
        #expect(!FileManager.default.fileExists(atPath: state))
        let changes = MachineFiles.snapshot().changes(since: before)
        #expect(changes.isEmpty, "the machine's own files changed: \(changes)")
    }

    /// Alive and not a zombie.
    static func running(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// The agent's PID on each jump host (from its supervisor's file).
    func agentPIDs(_ setup: Setup) async throws -> [String: String] {
        var pids: [String: String] = [:]
        for jump in [setup.lab.segment(1).jump, setup.lab.segment(2).jump] {
            let out = try await setup.ssh(jump.managementAddress, "cat /run/cordon-agent/agent.pid")
            pids[jump.namespace] = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return pids
    }

    // MARK: Ansible

    /// ansible-playbook: $CORDON_ANSIBLE_PLAYBOOK, else the repository's .build-ansible venv, made
    /// here with Debian's python3 -m venv and `pip install ansible-core` (PyPI) when missing.
    static func ansiblePlaybook() async -> (String?, String) {
        if let explicit = ProcessInfo.processInfo.environment["CORDON_ANSIBLE_PLAYBOOK"], FileManager.default.isExecutableFile(atPath: explicit) {
            return (explicit, "CORDON_ANSIBLE_PLAYBOOK")
        }
        let venv = LabEnvironment.repoRoot.appendingPathComponent(".build-ansible").path
        let playbook = venv + "/bin/ansible-playbook"
        if FileManager.default.isExecutableFile(atPath: playbook) { return (playbook, "existing venv \(venv)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return (nil, "no /usr/bin/python3") }
        let made = try? await LabCommand.run(["/usr/bin/python3", "-m", "venv", venv], timeout: .seconds(120))
        guard made?.succeeded == true else { return (nil, "python3 -m venv failed (Debian: python3-venv): \(made.map { "\($0)" } ?? "")") }
        let pip = try? await LabCommand.run([venv + "/bin/pip", "install", "--quiet", "ansible-core>=2.16,<2.20"], timeout: .seconds(600))
        guard pip?.succeeded == true, FileManager.default.isExecutableFile(atPath: playbook) else {
            return (nil, "pip install ansible-core failed: \(pip.map { "\($0)" } ?? "")")
        }
        return (playbook, "venv \(venv) made by the test")
    }

    @Test func theAnsibleRoleGivesTheSameResult() async throws {
        guard LabEnvironment.isRoot else {
            Issue.record("skipped: the lab needs root", severity: .warning)
            return
        }
        let (found, how) = await Self.ansiblePlaybook()
        guard let playbook = found else {
            Issue.record("skipped: no ansible-playbook (\(how))", severity: .warning)
            return
        }
        let before = MachineFiles.snapshot()
        try await withLab(LabOptions(segments: 1, roles: ["closed"], ttl: .seconds(1800), tools: LabSSHD.tools)) { lab in
            guard let setup = try await Self.setUp(lab) else { return }
            defer { try? FileManager.default.removeItem(atPath: setup.work) }
            let jump = lab.segment(1).jump
            // The role expects the segment's scope recorded (rollout apply does it; here by hand).
            let scope = try await setup.cordon(["segments", "set", "segment1", "--scope", lab.segment(1).subnet])
            #expect(scope.succeeded, "\(scope)")
            let inventory = setup.work + "/ansible-inventory.yml"
            try """
                all:
                  children:
                    cordon_jump_hosts:
                      vars:
                        cordon_coordinator_url: https://\(lab.coordinator.address):8443
                        cordon_ca_fingerprint: "\(setup.fingerprint)"
                        cordon_agent_binary: \(setup.agent)
                        cordon_policy_file: \(setup.work)/policy.yaml
                        cordon_cli: \(setup.cordon)
                        cordon_profile: \(setup.profile)
                        cordon_report_timeout: 90
                        ansible_user: root
                        ansible_ssh_private_key_file: \(setup.sshd.key)
                        ansible_python_interpreter: /usr/bin/python3
                        ansible_ssh_common_args: -o UserKnownHostsFile=\(setup.work)/ansible_known_hosts -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5
                      children:
                        segment_segment1:
                          vars:
                            cordon_segment: segment1
                            cordon_scope: [\(lab.segment(1).subnet)]
                          hosts:
                            s1-jump:
                              ansible_host: \(jump.managementAddress)

                """.write(toFile: inventory, atomically: true, encoding: .utf8)
            let environment = [
                "HOME=\(setup.work)/home", "ANSIBLE_HOME=\(setup.work)/ansible-home", "ANSIBLE_LOCAL_TEMP=\(setup.work)/ansible-tmp",
                // Tasks delegated to localhost run as ansible_user root: without this their
                // temporary files would go to ~root/.ansible on the machine.
                "ANSIBLE_REMOTE_TEMP=\(setup.work)/ansible-remote-tmp",
                "ANSIBLE_SSH_ARGS=-o ControlMaster=no -o ControlPath=none", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
                "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
            ]
            let command = ["env"] + environment + [playbook, "-i", inventory, LabEnvironment.repoRoot.appendingPathComponent("Deploy/ansible/cordon-agents.yml").path]
            var clock = ContinuousClock.now
            let run1 = try await lab.exec(lab.coordinator.namespace, command, timeout: .seconds(600))
            let firstTime = ContinuousClock.now - clock
            #expect(run1.succeeded, "\(run1)")
            #expect(run1.stdout.contains("s1-jump") && run1.stdout.contains("changed=1") && run1.stdout.contains("failed=0"), "\(run1.stdout)")
            #expect(run1.stdout.contains("no systemd here: runs under cordon-agent-supervise"), "\(run1.stdout)")

            // The same end state as the rollout: enrolled under its name in its segment, reporting.
            let fleet = try await setup.fleet()
            let agent = try #require(fleet.agents.first { $0.hostname == "s1-jump" }, "\(fleet.agents)")
            #expect(agent.segment == "segment1" && agent.state == .online && agent.lastReportAt != nil)
            let files = try await setup.ssh(jump.managementAddress,
                                            "stat -c '%a %U:%G %n' /usr/local/bin/cordon-agent /etc/cordon/agent.yaml /etc/cordon/policy.yaml /var/lib/cordon-agent; cat /run/cordon-agent/agent.pid")
            for line in ["755 root:root /usr/local/bin/cordon-agent", "644 root:root /etc/cordon/agent.yaml", "644 root:root /etc/cordon/policy.yaml",
                         "700 root:root /var/lib/cordon-agent"] {
                #expect(files.stdout.contains(line), "\(files.stdout)")
            }

            // Again: no change.
            clock = .now
            let run2 = try await lab.exec(lab.coordinator.namespace, command, timeout: .seconds(600))
            let secondTime = ContinuousClock.now - clock
            #expect(run2.succeeded && run2.stdout.contains("changed=0") && run2.stdout.contains("failed=0"), "\(run2.stdout)")
            #expect(try await setup.fleet().agents.count == 1)

            // And `cordon rollout` sees a host set up by Ansible as its own: nothing to do.
            let rolloutInventory = setup.work + "/inventory.yaml"
            try """
                coordinator: {url: "https://\(lab.coordinator.address):8443"}
                agent: {binary: \(setup.agent), policy: \(setup.work)/policy.yaml}
                ssh: {user: root, key: \(setup.sshd.key), knownHosts: \(setup.knownHosts)}
                segments:
                  segment1:
                    scope: [\(lab.segment(1).subnet)]
                    hosts: [{name: s1-jump, address: \(jump.managementAddress)}]

                """.write(toFile: rolloutInventory, atomically: true, encoding: .utf8)
            let plan = try await setup.cordon(["rollout", "plan", rolloutInventory, "--json",
                                               "--deploy-dir", LabEnvironment.repoRoot.appendingPathComponent("Deploy").path])
            #expect(plan.succeeded, "\(plan)")
            let planned = try CordonJSON.decode(RolloutReport.self, from: Data(plan.stdout.utf8))
            #expect(planned.hosts.map(\.action) == ["unchanged"], "\(planned.hosts)")
            let status = try await setup.cordon(["rollout", "status", rolloutInventory])
            #expect(status.succeeded && status.stdout.contains("1 live"), "\(status)")
            print("ansible (\(how)): first run \(firstTime), second run \(secondTime)")
            try? "ansible (\(how)): first run \(firstTime), second run \(secondTime)\n"
                .write(toFile: FileManager.default.temporaryDirectory.appendingPathComponent("cordon-rollout-ansible-timings.txt").path,
                       atomically: true, encoding: .utf8)
        }
        let changes = MachineFiles.snapshot().changes(since: before)
        #expect(changes.isEmpty, "the machine's own files changed: \(changes)")
    }
}
