import Foundation

/// The outcome of running a subprocess with a timeout and an output cap.
public struct InventoryCommandResult: Sendable, Equatable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// Killed because it ran past the timeout.
        case timedOut
        /// Could not be started at all.
        case failedToStart(String)
    }

    public var termination: Termination
    public var standardOutput: Data
    public var standardError: Data
    /// Standard output was longer than the cap: the process was killed and the output cut.
    public var outputTruncated: Bool

    public init(termination: Termination, standardOutput: Data, standardError: Data = Data(), outputTruncated: Bool = false) {
        self.termination = termination
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.outputTruncated = outputTruncated
    }

    /// A one-line summary of a failure, for a section's reason.
    var failureSummary: String {
        let errorText = String(decoding: standardError.prefix(300), as: UTF8.self)
            .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        switch termination {
        case .exited(let code): return "exit status \(code)" + (errorText.isEmpty ? "" : ": \(errorText)")
        case .signalled(let signal): return "killed by signal \(signal)"
        case .timedOut: return "timed out"
        case .failedToStart(let reason): return "could not start: \(reason)"
        }
    }
}

/// Runs the few external tools the collectors need (rpm, journalctl, nft). Injectable so that
/// tests never depend on what the machine has.
public protocol InventoryCommandRunner: Sendable {
    /// The absolute path of `name` on the search path, or `nil` when it is not installed.
    func locate(_ name: String) -> String?
    /// Runs `executable` with `arguments`, no shell, stdin from /dev/null; kills it after
    /// `timeout` or once it has written more than `outputLimit` bytes.
    func run(_ executable: String, arguments: [String], timeout: Duration, outputLimit: Int) -> InventoryCommandResult
}
