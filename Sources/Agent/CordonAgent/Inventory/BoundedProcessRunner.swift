import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs subprocesses with `posix_spawn` in a process group of their own, reading their output
/// with `poll`, so that the timeout and the output cap hold even when the child never closes
/// its pipes or leaves a grandchild behind: on timeout or overflow the whole group (which this
/// runner created, and whose leader it has not yet reaped) is killed.
///
/// Blocking: call it from a thread that may block (the collectors are synchronous).
public struct BoundedProcessRunner: InventoryCommandRunner {
    /// Directories searched by `locate`, and the child's `PATH`.
    public var searchPath: [String]

    public init(searchPath: [String] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
        self.searchPath = searchPath
    }

    public func locate(_ name: String) -> String? {
        guard !name.contains("/") else { return access(name, X_OK) == 0 ? name : nil }
        for directory in searchPath {
            let candidate = directory + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    public func run(_ executable: String, arguments: [String], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        run(executable, arguments: arguments, input: [], timeout: timeout, outputLimit: outputLimit)
    }

    /// Runs `executable` with `input` on its stdin (none: /dev/null), written between polls so
    /// that neither side blocks; a secret handed to a tool this way never appears in argv or
    /// the environment. The caller blocks SIGPIPE on its thread when the child may exit
    /// without reading (see `RemediationProcessRunner`).
    public func run(_ executable: String, arguments: [String], input: [UInt8], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll(_ fds: [Int32]) { for fd in fds where fd >= 0 { close(fd) } }
        if !input.isEmpty {
            guard pipe(&inPipe) == 0 else { return failure("pipe: \(String(cString: strerror(errno)))") }
        }
        guard pipe(&outPipe) == 0 else {
            closeAll(inPipe)
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        guard pipe(&errPipe) == 0 else {
            closeAll(inPipe + outPipe)
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by anything else this process spawns (dup2 in the child clears it).
        for fd in inPipe + outPipe + errPipe where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        if inPipe[1] >= 0 { _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if inPipe[0] >= 0 {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = ["PATH=" + searchPath.joined(separator: ":"), "LC_ALL=C", "SYSTEMD_PAGER="]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        if inPipe[0] >= 0 { close(inPipe[0]) }
        close(outPipe[1])
        close(errPipe[1])
        var writeFD: Int32 = inPipe[1]
        defer {
            if writeFD >= 0 { close(writeFD) }
            close(outPipe[0])
            close(errPipe[0])
        }
        guard spawned == 0 else { return failure(String(cString: strerror(spawned))) }

        let deadline = ContinuousClock.now.advanced(by: timeout)
        var written = 0
        var standardOutput = Data()
        var standardError = Data()
        let errorLimit = 64 * 1024
        var outputTruncated = false
        var timedOut = false
        var open: Set<Int32> = [outPipe[0], errPipe[0]]
        var status: Int32 = 0
        var reaped = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)

        func pump(waitMilliseconds: Int32) {
            var fds = open.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writeFD >= 0 { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            guard !fds.isEmpty else {
                usleep(UInt32(max(1, waitMilliseconds)) * 1000)
                return
            }
            guard poll(&fds, nfds_t(fds.count), waitMilliseconds) > 0 else { return }
            for entry in fds where entry.revents != 0 {
                if entry.fd == writeFD {
                    let n = input.withUnsafeBytes { raw in write(writeFD, raw.baseAddress! + written, raw.count - written) }
                    if n > 0 { written += n }
                    // Done, or the child closed its end (EPIPE).
                    if written >= input.count || (n < 0 && errno != EAGAIN && errno != EINTR) {
                        close(writeFD)
                        writeFD = -1
                    }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { inventoryPOSIXRead(entry.fd, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    open.remove(entry.fd)
                } else if entry.fd == outPipe[0] {
                    standardOutput.append(contentsOf: buffer[0..<count])
                    if standardOutput.count > outputLimit {
                        standardOutput = standardOutput.prefix(outputLimit)
                        outputTruncated = true
                    }
                } else if standardError.count < errorLimit {
                    standardError.append(contentsOf: buffer[0..<min(count, errorLimit - standardError.count)])
                }
            }
        }

        while !reaped && !outputTruncated {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero {
                timedOut = true
                break
            }
            let slice = min(remaining, .milliseconds(50))
            pump(waitMilliseconds: Int32(slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000) + 1)
            let waited = waitpid(pid, &status, WNOHANG)
            // ECHILD: someone else's SIGCHLD handler reaped it; the status is then unknown.
            if waited == pid || (waited < 0 && errno == ECHILD) { reaped = true }
        }
        if reaped {
            if writeFD >= 0 {
                close(writeFD)
                writeFD = -1
            }
            // Collect what the child wrote just before it exited.
            while !open.isEmpty && !outputTruncated {
                let before = standardOutput.count + standardError.count + open.count
                pump(waitMilliseconds: 0)
                if standardOutput.count + standardError.count + open.count == before { break }
            }
        } else {
            // The leader is not reaped yet, so its PID (the group's ID) is still ours.
            kill(-pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }

        let termination: InventoryCommandResult.Termination
        if timedOut {
            termination = .timedOut
        } else if status & 0x7F == 0 {
            termination = .exited((status >> 8) & 0xFF)
        } else {
            termination = .signalled(status & 0x7F)
        }
        return InventoryCommandResult(
            termination: termination, standardOutput: standardOutput,
            standardError: standardError, outputTruncated: outputTruncated
        )
    }

    private func failure(_ reason: String) -> InventoryCommandResult {
        InventoryCommandResult(termination: .failedToStart(reason), standardOutput: Data())
    }
}
