import CordonShared
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the real binaries do with their stdout: a reader that goes away (`| head`) ends the
/// command quietly, and `--version` says which commit they were built from.
@Suite(.serialized) struct CLIOutputTests {
    /// How a child ended, from waitpid's status.
    enum Ending: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        var description: String {
            switch self {
            case .exited(let code): "exited with \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
        /// What a Unix tool does when its reader is gone: killed by SIGPIPE (the shell shows
        /// 141), or exits 0 or 141 by itself.
        var isQuietPipeEnd: Bool { self == .signalled(SIGPIPE) || self == .exited(0) || self == .exited(141) }
    }

    /// Runs `executable` with a stdout pipe whose read end is closed before the child starts:
    /// its first write gets EPIPE, deterministically (no race with a reader such as `head`).
    /// stderr goes to a file that is returned. Bounded in time; killed by its own PID.
    static func runWithClosedStdout(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> (Ending?, String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EIO) }
        let errPath = NSTemporaryDirectory() + "cordon-stderr-\(UUID().uuidString.prefix(8))"
        defer { unlink(errPath) }
        let errFD = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else { throw POSIXError(.EIO) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        close(fds[0])  // no reader, anywhere
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(fds[1])
        close(errFD)
        guard spawned == 0 else { throw POSIXError(.ENOENT) }

        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        var ending: Ending?
        while ending == nil {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid {
                let signal = status & 0x7f
                ending = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            } else if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            } else {
                usleep(20_000)
            }
        }
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (ending, stderr)
    }

    static func expectQuiet(_ result: (Ending?, String), _ what: String) {
        let (ending, stderr) = result
        #expect(ending?.isQuietPipeEnd == true, "\(what): \(ending.map(\.description) ?? "timed out"); stderr: \(stderr.prefix(2000))")
        #expect(!stderr.contains("Fatal error"), "\(what): \(stderr.prefix(2000))")
        #expect(!stderr.contains("Broken pipe"), "\(what): \(stderr.prefix(2000))")
        #expect(!stderr.contains("Crash") && !stderr.contains("backtrace"), "\(what): \(stderr.prefix(2000))")
    }

    @Test func aClosedPipeEndsTheAgentsJSONAndTablesQuietly() throws {
        let tree = NSTemporaryDirectory() + "cordon-pipe-tree-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        try "root:x:0:0:root:/root:/bin/bash\n".write(toFile: tree + "/etc/passwd", atomically: true, encoding: .utf8)

        Self.expectQuiet(try Self.runWithClosedStdout(Binaries.agent, ["inventory", "--root", tree, "--json"]), "inventory --json")
        Self.expectQuiet(try Self.runWithClosedStdout(Binaries.agent, ["inventory", "--root", tree, "--section", "accounts"]), "inventory table")
        // 127.0.0.1 only, on one port: the report is printed after a fraction of a second.
        Self.expectQuiet(try Self.runWithClosedStdout(Binaries.agent, ["scan", "--scope", "127.0.0.1/32", "--profile", "quick", "--timeout", "200ms",
                                                                       "--quiet", "--json"]), "scan --json")
    }

    @Test func aClosedPipeEndsTheCoordinatorCLIQuietly() throws {
        let root = NSTemporaryDirectory() + "cordon-pipe-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        Self.expectQuiet(try Self.runWithClosedStdout(Binaries.cordon, ["init", "--state-dir", root + "/a", "--name", "127.0.0.1", "--json"]), "init --json")
        Self.expectQuiet(try Self.runWithClosedStdout(Binaries.cordon, ["init", "--state-dir", root + "/b", "--name", "127.0.0.1"]), "init")
    }

    /// The case from the field, through a real shell and a real `head`: the reader takes what it
    /// wants and the writer ends without a word on stderr.
    @Test func headTakesTheStartOfALargeOutputAndNothingCrashes() async throws {
        // Every file of /usr/share/doc as packages is larger than a pipe's 64 KiB buffer, so
        // the writer is still writing when head has gone.
        let script = #""$0" inventory --section packages --json | head -c 100; echo; echo "writer=${PIPESTATUS[0]}" >&2"#
        let result = try await Child.run("/bin/bash", ["-c", script, Binaries.agent], timeout: 60)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("{"), "the start of the JSON object: \(result.stdout)")
        let writer = result.stderr.firstMatch(of: /writer=(\d+)/).map { String($0.1) }
        #expect(writer == "0" || writer == "141", "\(result.stderr.prefix(2000))")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Broken pipe"), "\(result.stderr.prefix(2000))")
    }

    /// `--version`: the version and the git commit of the build, or "(commit unknown)" when the
    /// build could not ask git. In a git checkout it is the HEAD the tests were built from.
    @Test func versionSaysTheCommit() async throws {
        let head = try? await Child.run("/usr/bin/git", ["-C", Binaries.packageRoot, "rev-parse", "HEAD"], timeout: 10)
        let headCommit = head.flatMap { $0.status == 0 ? $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil }
        for binary in [Binaries.cordon, Binaries.agent] {
            let result = try await Child.run(binary, ["--version"], timeout: 20)
            #expect(result.status == 0, "\(result.stderr)")
            let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let match = try #require(line.wholeMatch(of: /(\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)/), "\(binary): \(line)")
            #expect(String(match.1) == CordonVersion.current)
            if let headCommit {
                #expect(headCommit.hasPrefix(String(match.2).replacingOccurrences(of: "-dirty", with: "")),
                        "\(binary) says \(line), HEAD is \(headCommit)")
            }
        }
    }
}
