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
        return base.run(executable, arguments: arguments, input: input, timeout: timeout, outputLimit: outputLimit)
    }
}

extension InventoryCommandResult {
    /// `chpasswd: exit status 1: chpasswd: (user x) pam_chauthtok() failed` for a failed tool.
    func failureLine(_ tool: String) -> String {
        "\(tool): \(failureSummary)"
    }
}
