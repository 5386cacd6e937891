@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// The OpenSSH side: the ssh_config the rollout writes (checked by `ssh -G`, which resolves a
/// config without connecting), the argv and stdin of each ssh run (through a stand-in `ssh`),
/// time bounds, the bounded process runner, and the files the rollout renders.
@Suite struct RolloutSSHTests {
    func inventory(in dir: String) throws -> RolloutInventory {
        for key in ["k1", "k%2", "kb"] { _ = FileManager.default.createFile(atPath: dir + "/" + key, contents: Data("x".utf8)) }
        return try RolloutInventory.parse(yaml: """
            coordinator: {url: "https://198.18.0.1:8443"}
            agent: {binary: /opt/cordon-agent}
            ssh: {user: root, key: k1, connectTimeout: 4s}
            bastions:
              edge: {address: 198.18.0.11, user: ops, key: kb}
            segments:
              s1:
                scope: [198.18.1.0/24]
                hosts:
                  - {name: j1, address: 198.18.0.11}
                  - {name: j2, address: 198.18.0.12, port: 2222, key: "k%2", proxyJump: edge}
            """, origin: "inv.yaml", baseDirectory: dir)
    }

    @Test func theSSHConfigSaysWhatTheRolloutNeeds() throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inv = try inventory(in: dir)
        let text = OpenSSHRemote.config(inventory: inv, knownHosts: dir + "/known_hosts", policy: .acceptNew)
        for line in ["BatchMode yes", "ConnectTimeout 4", "ServerAliveInterval 5", "StrictHostKeyChecking accept-new", "IdentitiesOnly yes",
                     "UserKnownHostsFile \"\(dir)/known_hosts\"", "GlobalKnownHostsFile /dev/null", "PasswordAuthentication no",
                     "ControlMaster no", "ForwardAgent no", "Host cordon-host-1", "ProxyJump cordon-bastion-edge",
                     "IdentityFile \"\(dir)/k%%2\""] {
            #expect(text.contains(line), "missing: \(line)\n\(text)")
        }
        #expect(OpenSSHRemote.config(inventory: inv, knownHosts: "/kh", policy: .strict).contains("StrictHostKeyChecking yes"))
    }

    /// `ssh -G` reads the file as ssh itself would and prints what it resolves to.
    @Test func opensshReadsTheConfigAsMeant() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh") else {
            Issue.record("skipped: no /usr/bin/ssh (Debian: openssh-client)", severity: .warning)
            return
        }
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inv = try inventory(in: dir)
        let remote = try OpenSSHRemote(inventory: inv, knownHosts: dir + "/kh/known_hosts", policy: .acceptNew, workDirectory: dir)
        #expect(FileManager.default.fileExists(atPath: dir + "/kh"), "the known_hosts directory is made")
        let resolved = try await BoundedProcess.run(["ssh", "-F", remote.configPath, "-G", "cordon-host-1"], timeout: .seconds(10), workDirectory: dir)
        #expect(resolved.status == 0, "\(resolved.stderr)")
        // -G prints IdentityFile before its % tokens are expanded: k%%2 is read as the file k%2.
        let lines = Set(resolved.stdout.split(separator: "\n").map(String.init))
        for expected in ["hostname 198.18.0.12", "port 2222", "user root", "batchmode yes", "identitiesonly yes", "connecttimeout 4",
                         "stricthostkeychecking accept-new", "userknownhostsfile \(dir)/kh/known_hosts", "proxyjump cordon-bastion-edge",
                         "identityfile \(dir)/k%%2", "passwordauthentication no", "serveraliveinterval 5"] {
            #expect(lines.contains(expected), "ssh -G lacks \(expected)")
        }
        let bastion = try await BoundedProcess.run(["ssh", "-F", remote.configPath, "-G", "cordon-bastion-edge"], timeout: .seconds(10), workDirectory: dir)
        #expect(bastion.stdout.contains("user ops") && bastion.stdout.contains("identityfile \(dir)/kb") && bastion.stdout.contains("batchmode yes"))
    }

    @Test func strictHostKeysNeedAKnownHostsFile() throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: CordonError.self) {
            _ = try OpenSSHRemote(inventory: try inventory(in: dir), knownHosts: dir + "/none", policy: .strict, workDirectory: dir)
        }
    }

    /// A stand-in `ssh` that prints its arguments and its stdin: the runner passes the alias, the
    /// config, the command, and the input; the token file never appears in argv.
    @Test func eachRunIsOneSSHWithTheCommandAndTheInput() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fake = dir + "/fake-ssh"
        try "#!/bin/sh\nprintf 'ARGS:'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; cat\n[ \"$5\" = slow ] && sleep 30\nexit 0\n"
            .write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let inv = try inventory(in: dir)
        let remote = try OpenSSHRemote(inventory: inv, knownHosts: dir + "/known_hosts", policy: .acceptNew, workDirectory: dir, ssh: fake)
        let host = inv.hosts[1]
        let out = await remote.run(on: host, command: "umask 077 && cat > '/tmp/x/token'", stdin: .data(Data("ct_secret".utf8)), timeout: .seconds(10))
        #expect(out.succeeded)
        #expect(out.stdout.hasPrefix("ARGS: [-F] [\(remote.configPath)] [-T] [cordon-host-1] [umask 077 && cat > '/tmp/x/token']\nct_secret"), "\(out.stdout)")
        // The stdin file is gone afterwards; only ssh_config is left in the work directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("in-") || $0.hasPrefix("out-") || $0.hasPrefix("err-") }.isEmpty)

        let started = ContinuousClock.now
        let slow = await remote.run(on: host, command: "slow", stdin: .none, timeout: .milliseconds(500))
        #expect(slow.timedOut && !slow.succeeded)
        #expect(ContinuousClock.now - started < .seconds(5), "killed at its limit")
        #expect(slow.sshFailure(host: host, knownHosts: nil).contains("did not finish in time"))
    }

    @Test func sshFailuresReadAsOneLine() {
        let host = RolloutInventory.Host(name: "j", segment: "s", endpoint: .init(address: "198.18.0.11", port: 22, user: "root", key: "/k/id"),
                                         proxyJump: "edge", index: 0)
        func line(_ stderr: String) -> String { RemoteOutcome(status: 255, stderr: stderr).sshFailure(host: host, knownHosts: "/kh") }
        #expect(line("root@198.18.0.11: Permission denied (publickey).") == "ssh login as root to 198.18.0.11:22 (via bastion edge) refused: the key /k/id is not accepted there")
        #expect(line("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.").contains("does not match /kh"))
        #expect(line("ssh: connect to host 198.18.0.11 port 22: Connection refused") == "cannot reach 198.18.0.11:22 (via bastion edge): connection refused (no sshd there?)")
        #expect(line("ssh: Could not resolve hostname x: Name or service not known").contains("cannot resolve"))
        #expect(line("kex_exchange_identification: read: Connection reset by peer") == "ssh to 198.18.0.11:22 (via bastion edge) failed: kex_exchange_identification: read: Connection reset by peer")
    }

    @Test func boundedProcessBoundsOutput() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let noisy = try await BoundedProcess.run(["sh", "-c", "yes cordon"], timeout: .seconds(20), maxOutput: 4096, workDirectory: dir)
        #expect(noisy.truncated && noisy.stdout.utf8.count <= 4096)
        let ok = try await BoundedProcess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(10), workDirectory: dir)
        #expect(ok.status == 3 && ok.stdout == "out\n" && ok.stderr == "err\n" && !ok.timedOut)
        await #expect(throws: CordonError.self) { try await BoundedProcess.run(["/nonexistent/ssh"], timeout: .seconds(1), workDirectory: dir) }
    }

    @Test func renderedFilesAndQuoting() throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var inv = try inventory(in: dir)
        inv.agent.heartbeatInterval = "30s"
        inv.segments[0].exclude = ["198.18.1.1"]
        inv.segments[0].scanInterval = "1h"
        let yaml = RolloutFiles.agentConfig(inventory: inv, segment: inv.segments[0])
        #expect(yaml == """
            # /etc/cordon/agent.yaml for segment s1, written by the Cordon rollout
            # (`cordon rollout apply` or Deploy/ansible). The next rollout overwrites changes made here.
            stateDir: /var/lib/cordon-agent
            policyFile: /etc/cordon/policy.yaml
            heartbeatInterval: 30s
            scan:
              scope: [198.18.1.0/24]
              exclude: [198.18.1.1]
              interval: 1h

            """)
        // The agents' worm sensor, turned on for the segment, and the file still parses as an agent.yaml.
        inv.segments[0].sensor = true
        let withSensor = RolloutFiles.agentConfig(inventory: inv, segment: inv.segments[0])
        #expect(withSensor == yaml + "  sensor:\n    enabled: true\n")
        let parsed = try Yams.load(yaml: withSensor) as? [String: Any]
        #expect(((parsed?["scan"] as? [String: Any])?["sensor"] as? [String: Any])?["enabled"] as? Bool == true)
        #expect(shellQuote("it's") == #"'it'\''s'"#)
        #expect(RolloutFiles.sha256(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(RolloutEngine.isSafeDirectory("/tmp/cordon-rollout.AbC123xy"))
        for bad in ["", "tmp/cordon-rollout.x", "/tmp/x", "/tmp/cordon-rollout.a b", "/tmp/cordon-rollout.$(id)", "/tmp/../cordon-rollout.x"] {
            #expect(!RolloutEngine.isSafeDirectory(bad), "\(bad)")
        }
    }

    @Test func deployFilesAreFoundInTheSourceTree() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = try RolloutFiles.locate(deployDir: repo.appendingPathComponent("Deploy").path)
        #expect(files.installScript.hasSuffix("Deploy/install-agent.sh") && files.unit.hasSuffix("Deploy/systemd/cordon-agent.service"))
        // From a binary in .build/debug, Deploy/ is found by walking up.
        let found = try RolloutFiles.locate(deployDir: nil, executable: repo.appendingPathComponent(".build/debug/cordon").path)
        #expect(found.supervise.hasSuffix("Deploy/cordon-agent-supervise"))
        #expect(throws: CordonError.self) { try RolloutFiles.locate(deployDir: "/nonexistent") }
    }
}
