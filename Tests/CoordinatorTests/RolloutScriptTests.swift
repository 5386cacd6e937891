@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Deploy/install-agent.sh and Deploy/cordon-agent-supervise, run for real against a stand-in
/// cordon-agent in throwaway directories (--prefix, --etc, --state-dir, --run-dir, --log-dir):
/// SHA-256 check, modes and owners, enrollment with the token in a file, idempotence, upgrade in
/// place with a restart, the plain supervisor, the machine-readable last line. Needs root (the
/// script installs files owned by root); it touches nothing outside its temporary directory, and
/// stops the supervisor it started by its pid file (which also has a deadline).
/// Also: the systemd units pass `systemd-analyze verify`.
@Suite(.serialized) struct RolloutScriptTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let deploy = repo.appendingPathComponent("Deploy").path

    struct Sandbox {
        let root: String
        var prefix: String { root + "/bin" }
        var etc: String { root + "/etc" }
        var state: String { root + "/state" }
        var run: String { root + "/run" }
        var logs: String { root + "/log" }

        var layout: [String] {
            ["--prefix", prefix, "--etc", etc, "--state-dir", state, "--run-dir", run, "--log-dir", logs, "--supervisor", "plain"]
        }

        /// A cordon-agent stand-in: --version, enroll (records how it got the token), run (sleeps until TERM).
        func makeAgent(_ path: String, version: String = "0.1.0", tokenFile: Bool = true, marker: String = "") throws {
            let script = """
                #!/bin/sh
                # \(marker)
                case "$1" in
                  --version) echo \(version) ;;
                  enroll)
                    shift
                    [ "${1:-}" = --help ] && { echo "--coordinator --token\(tokenFile ? " --token-file" : "") --ca-fingerprint"; exit 0; }
                    echo "$*" > \(root)/enroll-argv
                    while [ $# -gt 0 ]; do
                      case "$1" in
                        --state-dir) st=$2; shift 2 ;;
                        --token-file) cp "$2" \(root)/enroll-token; shift 2 ;;
                        --token) echo "$2" > \(root)/enroll-token; shift 2 ;;
                        --ca-fingerprint) fp=$2; shift 2 ;;
                        *) shift ;;
                      esac
                    done
                    printf '{"agentID":"agt-fake","segment":"s1","coordinator":"https://x","caFingerprint":"%s"}\\n' "$fp" > "$st/enrollment.json"
                    echo "Enrolled as agt-fake in segment s1" ;;
                  run) trap 'exit 0' TERM; while :; do sleep 1; done ;;
                esac
                """
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }

    static var canRun: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid") }

    func install(_ box: Sandbox, _ arguments: [String]) async throws -> (ProcessOutcome, RemoteAgentState?) {
        let deadline = Int(Date().timeIntervalSince1970) + 120
        var env = ProcessInfo.processInfo.environment
        env["CORDON_SUPERVISE_DEADLINE"] = "\(deadline)"
        let out = try await BoundedProcess.run(["bash", Self.deploy + "/install-agent.sh"] + arguments + box.layout, timeout: .seconds(60),
                                               workDirectory: box.root, environment: env)
        return (out, RemoteAgentState.parse(output: out.stdout))
    }

    func mode(_ path: String) -> (Int, uid_t) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (-1, 9999) }
        return (Int(st.st_mode & 0o7777), st.st_uid)
    }

    @Test func installScriptInstallsEnrollsSupervisesAndIsIdempotent() async throws {
        guard Self.canRun else {
            Issue.record("skipped: install-agent.sh installs root-owned files: needs root and setsid", severity: .warning)
            return
        }
        let root = try RolloutFixture.temporaryDirectory()
        let box = Sandbox(root: root)
        defer {
            _ = try? FileManager.default.removeItem(atPath: root)
        }
        // Whatever happens, the supervisor goes.
        defer {
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/sh")
            stop.arguments = [Self.deploy + "/cordon-agent-supervise", "--stop", "--pid-file", box.run + "/supervise.pid", "--timeout", "10"]
            try? stop.run()
            stop.waitUntilExit()
        }
        let agent = root + "/upload-cordon-agent"
        try box.makeAgent(agent)
        let sha = try RolloutFiles.sha256(file: agent)
        let config = root + "/agent.yaml", policy = root + "/policy.yaml", token = root + "/token"
        try "scan:\n  scope: [198.18.1.0/24]\n".write(toFile: config, atomically: true, encoding: .utf8)
        try "allowedActions: [rescan]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        try "ct_secret_token\n".write(toFile: token, atomically: true, encoding: .utf8)
        let fp = RolloutFixture.fingerprint
        let common = ["--config", config, "--policy", policy, "--coordinator", "https://198.18.0.1:8443", "--ca-fingerprint", fp,
                      "--segment", "s1", "--hostname", "j1", "--sha256", sha]

        // A damaged copy is refused before anything is installed.
        let (bad, badState) = try await install(box, Array(common.dropLast()) + [String(repeating: "0", count: 64), "--binary", agent])
        #expect(bad.status == 1 && badState?.result == "failed")
        #expect(badState?.message?.contains("the copy is damaged") == true, "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.prefix + "/cordon-agent"))

        // Fresh install.
        let (first, s1) = try await install(box, common + ["--binary", agent, "--token-file", token])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let state = try #require(s1)
        #expect(state.result == "installed" && state.installed && state.enrolled && state.running && state.supervisor == "plain" && !state.systemd)
        #expect(state.agentID == "agt-fake" && state.segment == "s1" && state.version == "0.1.0" && state.sha256 == sha)
        let configSHA = try RolloutFiles.sha256(file: config), policySHA = try RolloutFiles.sha256(file: policy)
        let superviseSHA = try RolloutFiles.sha256(file: Self.deploy + "/cordon-agent-supervise")
        #expect(state.configSHA256 == configSHA && state.policySHA256 == policySHA)
        #expect(state.superviseSHA256 == superviseSHA)
        #expect(state.tokenOnCommandLine == false)
        #expect(first.stdout.contains("no systemd here: running the agent under \(box.prefix)/cordon-agent-supervise"))
        // The token came in a file, was handed on in a file, and is gone.
        #expect(!FileManager.default.fileExists(atPath: token))
        #expect((try? String(contentsOfFile: root + "/enroll-token", encoding: .utf8))?.contains("ct_secret_token") == true)
        let argv = (try? String(contentsOfFile: root + "/enroll-argv", encoding: .utf8)) ?? ""
        #expect(!argv.contains("ct_secret_token") && argv.contains("--token-file") && argv.contains("--hostname j1"))
        // Modes and owners.
        #expect(mode(box.prefix + "/cordon-agent") == (0o755, 0))
        #expect(mode(box.prefix + "/cordon-agent-supervise") == (0o755, 0))
        #expect(mode(box.etc + "/agent.yaml") == (0o644, 0))
        #expect(mode(box.etc + "/policy.yaml") == (0o644, 0))
        #expect(mode(box.state) == (0o700, 0))
        #expect(mode(box.logs) == (0o750, 0))
        let pid1 = try #require(state.pid)
        #expect(kill(pid_t(pid1), 0) == 0)

        // The probe sees the same.
        let probe = try await BoundedProcess.run(["bash", Self.deploy + "/install-agent.sh", "--probe"] + box.layout, timeout: .seconds(30), workDirectory: root)
        var probed = try #require(RemoteAgentState.parse(output: probe.stdout))
        #expect(probed.result == nil)
        probed.result = "installed"
        probed.message = state.message
        #expect(probed == state)

        // Again, same everything: unchanged, not restarted.
        let (_, s2) = try await install(box, common + ["--binary", agent])
        #expect(s2?.result == "unchanged" && s2?.pid == pid1)
        let (_, s2b) = try await install(box, common)
        #expect(s2b?.result == "unchanged" && s2b?.pid == pid1, "without --binary: the installed one is checked by its SHA-256")

        // A newer binary: replaced in place, restarted.
        let newer = root + "/upload-cordon-agent-2"
        try box.makeAgent(newer, version: "0.2.0", marker: "build 2")
        let sha2 = try RolloutFiles.sha256(file: newer)
        let (_, s3) = try await install(box, Array(common.dropLast()) + [sha2, "--binary", newer])
        #expect(s3?.result == "upgraded" && s3?.version == "0.2.0" && s3?.sha256 == sha2 && s3?.running == true)
        let pid2 = try #require(s3?.pid)
        #expect(pid2 != pid1)
        try await waitGone(pid1)

        // Another config: repaired, restarted.
        try "scan:\n  scope: [198.18.1.0/25]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let (_, s4) = try await install(box, Array(common.dropLast()) + [sha2])
        #expect(s4?.result == "repaired" && s4?.pid != pid2)

        // The agent's supervisor stopped by hand: the next run starts it again.
        let stop = try await BoundedProcess.run(["sh", Self.deploy + "/cordon-agent-supervise", "--stop", "--pid-file", box.run + "/supervise.pid"],
                                                timeout: .seconds(30), workDirectory: root)
        #expect(stop.status == 0)
        let (_, s5) = try await install(box, Array(common.dropLast()) + [sha2])
        #expect(s5?.result == "repaired" && s5?.running == true)

        // Enrolled in s1: the script refuses another segment, and another CA.
        let (wrongSegment, s6) = try await install(box, ["--segment", "s2", "--sha256", sha2, "--config", config])
        #expect(wrongSegment.status == 1 && s6?.message?.contains("already enrolled in segment s1, not s2") == true)
        let (wrongCA, s7) = try await install(box, ["--ca-fingerprint", "SHA256:" + String(repeating: "cd", count: 32), "--config", config])
        #expect(wrongCA.status == 1 && s7?.message?.contains("another coordinator CA") == true)
    }

    @Test func anAgentWithoutTokenFileIsSaidSo() async throws {
        guard Self.canRun else {
            Issue.record("skipped: needs root and setsid", severity: .warning)
            return
        }
        let root = try RolloutFixture.temporaryDirectory()
        let box = Sandbox(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let agent = root + "/a"
        try box.makeAgent(agent, tokenFile: false)
        try "ct_t\n".write(toFile: root + "/token", atomically: true, encoding: .utf8)
        try "stateDir: x\n".write(toFile: root + "/agent.yaml", atomically: true, encoding: .utf8)
        let (out, state) = try await install(box, ["--binary", agent, "--token-file", root + "/token", "--coordinator", "https://x:1",
                                                   "--ca-fingerprint", RolloutFixture.fingerprint, "--config", root + "/agent.yaml", "--no-start"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(state?.tokenOnCommandLine == true && state?.enrolled == true && state?.running == false)
    }

    @Test func systemdUnitsVerify() async throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            Issue.record("skipped: no systemd-analyze (Debian: systemd)", severity: .warning)
            return
        }
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let units = Self.deploy + "/systemd"
        let names = try FileManager.default.contentsOfDirectory(atPath: units).filter { $0.hasSuffix(".service") }.sorted()
        #expect(names == ["cordon-agent.service", "cordon-coordinator.service"])
        // ExecStart must name an executable that exists: a temporary copy of each unit points at
        // the built binary when there is one (else /bin/true), nothing else changes.
        let built = Self.repo.appendingPathComponent(".build/debug").path
        for name in names {
            let text = try String(contentsOfFile: units + "/" + name, encoding: .utf8)
            #expect(text.contains("ExecStart=/usr/local/bin/"))
            let binary = name.hasPrefix("cordon-agent") ? "cordon-agent" : "cordon"
            let target = FileManager.default.isExecutableFile(atPath: "\(built)/\(binary)") ? "\(built)/\(binary)" : "/bin/true"
            try text.replacingOccurrences(of: "/usr/local/bin/\(binary)", with: target).write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            let out = try await BoundedProcess.run([analyze, "verify", "--man=no", dir + "/" + name], timeout: .seconds(60), workDirectory: dir)
            #expect(out.status == 0, "\(name): \(out.stderr)")
            // verify warns about unknown keys and bad values without failing: none allowed.
            let warnings = out.stderr.split(separator: "\n").filter { $0.contains(name) }
            #expect(warnings.isEmpty, "\(name): \(warnings)")
        }
    }

    func waitGone(_ pid: Int) async throws {
        for _ in 0..<100 where kill(pid_t(pid), 0) == 0 && !isZombie(pid) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(kill(pid_t(pid), 0) != 0 || isZombie(pid), "agent \(pid) still runs after its restart")
    }

    func isZombie(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
