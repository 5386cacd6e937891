import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the system tools remediation uses (chpasswd, nft, systemctl), bounded in time and
/// output like the inventory's, with an optional standard input: a password for chpasswd or a
/// ruleset for `nft -f -` travels on a pipe, never in argv or the environment.
public protocol RemediationCommandRunner: Sendable {
    func locate(_ name: String) -> String?
    /// `input` is written to the child's standard input, which is then closed; with no input
    /// the child's standard input is /dev/null.
    func run(_ executable: String, arguments: [String], input: [UInt8], timeout: Duration, outputLimit: Int) -> InventoryCommandResult
}

extension RemediationCommandRunner {
    func run(_ executable: String, arguments: [String], timeout: Duration = .seconds(30), outputLimit: Int = 8 << 20) -> InventoryCommandResult {
        run(executable, arguments: arguments, input: [], timeout: timeout, outputLimit: outputLimit)
    }
}

/// The production runner. Without input it is `BoundedProcessRunner` itself. With input it
/// spawns the same way (own process group, signals reset, fixed PATH and LC_ALL=C, poll with a
/// deadline, output cap, the whole group killed on timeout) and feeds the input through a pipe,
/// because `BoundedProcessRunner` wires the child's standard input to /dev/null.
public struct RemediationProcessRunner: RemediationCommandRunner {
    public var base: BoundedProcessRunner

    public init(base: BoundedProcessRunner = BoundedProcessRunner()) {
        self.base = base
    }

    public func locate(_ name: String) -> String? { base.locate(name) }

    public func run(_ executable: String, arguments: [String], input: [UInt8], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        guard !input.isEmpty else { return base.run(executable, arguments: arguments, timeout: timeout, outputLimit: outputLimit) }
        // A child that exits without reading raises SIGPIPE on our write: block it on this
        // thread only (not process-wide), and discard a pending one before unblocking.
        var pipeSignal = sigset_t(), previous = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 {
                var none = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&pipeSignal, nil, &none)
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        return runFeeding(input, executable, arguments: arguments, timeout: timeout, outputLimit: outputLimit)
    }

    private func runFeeding(_ input: [UInt8], _ executable: String, arguments: [String], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll(_ fds: [Int32]) { for fd in fds where fd >= 0 { close(fd) } }
        guard pipe(&inPipe) == 0 else { return failure("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&outPipe) == 0 else {
            closeAll(inPipe)
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        guard pipe(&errPipe) == 0 else {
            closeAll(inPipe + outPipe)
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // The parent writes without blocking, between polls.
        _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
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
        let environment = ["PATH=" + base.searchPath.joined(separator: ":"), "LC_ALL=C", "SYSTEMD_PAGER="]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(inPipe[0])
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
        var standardOutput = Data(), standardError = Data()
        let errorLimit = 64 * 1024
        var outputTruncated = false, timedOut = false, reaped = false
        var open: Set<Int32> = [outPipe[0], errPipe[0]]
        var status: Int32 = 0
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
                    // Done, or the child closed its end (EPIPE; SIGPIPE is blocked on this thread).
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
            if waited == pid || (waited < 0 && errno == ECHILD) { reaped = true }
        }
        if reaped {
            if writeFD >= 0 {
                close(writeFD)
                writeFD = -1
            }
            while !open.isEmpty && !outputTruncated {
                let before = standardOutput.count + standardError.count + open.count
                pump(waitMilliseconds: 0)
                if standardOutput.count + standardError.count + open.count == before { break }
            }
        } else {
            // Not reaped: the group ID is still ours.
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
        return InventoryCommandResult(termination: termination, standardOutput: standardOutput, standardError: standardError,
                                      outputTruncated: outputTruncated)
    }

    private func failure(_ reason: String) -> InventoryCommandResult {
        InventoryCommandResult(termination: .failedToStart(reason), standardOutput: Data())
    }
}

extension InventoryCommandResult {
    /// `chpasswd: exit status 1: chpasswd: (user x) pam_chauthtok() failed` for a failed tool.
    func failureLine(_ tool: String) -> String {
        "\(tool): \(failureSummary)"
    }
}
