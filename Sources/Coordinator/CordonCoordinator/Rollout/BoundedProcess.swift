import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func rollout_addclosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// What a bounded child process did.
public struct ProcessOutcome: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Killed at its time limit.
    public var timedOut: Bool
    /// Printed more than the limit: killed, the rest dropped.
    public var truncated: Bool

    public init(status: Int32, stdout: String = "", stderr: String = "", timedOut: Bool = false, truncated: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
        self.truncated = truncated
    }
}

/// Runs a local command (ssh, scp, the agent's `--version`) bounded in time and output:
/// posix_spawn with a clean signal mask, in its own process group (so a timeout also kills
/// what it started, like ssh's ProxyJump child), stdin from a file or /dev/null, stdout and
/// stderr to files in a private directory (a child that daemonizes cannot hold a pipe of ours),
/// killed when it runs past `timeout` or writes more than `maxOutput` per stream.
public enum BoundedProcess {
    public static func run(_ arguments: [String], stdin: String? = nil, timeout: Duration, maxOutput: Int = 1 << 20,
                           workDirectory: String, environment: [String: String]? = nil) async throws -> ProcessOutcome {
        precondition(!arguments.isEmpty)
        let id = UUID().uuidString.prefix(12)
        let outPath = (workDirectory as NSString).appendingPathComponent("out-\(id)")
        let errPath = (workDirectory as NSString).appendingPathComponent("err-\(id)")
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let pid = try spawn(arguments, stdin: stdin ?? "/dev/null", stdout: outPath, stderr: errPath, environment: environment)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var timedOut = false
        var truncated = false
        var status: Int32 = -1
        var killedAt: ContinuousClock.Instant?
        while true {
            var raw: Int32 = 0
            let r = waitpid(pid, &raw, WNOHANG)
            if r == pid {
                let signal = raw & 0x7F
                status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
                break
            }
            if r == -1 && errno != EINTR { break }
            let now = ContinuousClock.now
            if killedAt == nil {
                if now >= deadline { timedOut = true }
                if fileSize(outPath) > maxOutput || fileSize(errPath) > maxOutput { truncated = true }
                if timedOut || truncated {
                    // The group too: ssh's ProxyJump child. The leader is not reaped yet, so the
                    // group ID cannot belong to anyone else.
                    kill(-pid, SIGTERM)
                    kill(pid, SIGTERM)
                    killedAt = now
                }
            } else if let killedAt, now - killedAt > .seconds(2) {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(killedAt == nil ? 20 : 50))
        }
        return ProcessOutcome(status: status, stdout: read(outPath, max: maxOutput), stderr: read(errPath, max: maxOutput),
                              timedOut: timedOut, truncated: truncated)
    }

    private static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    private static func read(_ path: String, max: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: max)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func spawn(_ arguments: [String], stdin: String, stdout: String, stderr: String, environment: [String: String]?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = rollout_addclosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        guard rc == 0 else { throw CordonError.io("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}
