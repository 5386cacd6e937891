import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a command run by the lab harness did.
struct LabCommandResult: Sendable, CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    /// Killed by its time limit (`timeout` exits 124, or 137 after KILL).
    var timedOut: Bool
    /// More output than the limit: the rest was dropped.
    var truncated: Bool

    var succeeded: Bool { status == 0 && !timedOut }

    var description: String {
        "`\(arguments.joined(separator: " "))` exited \(status)\(timedOut ? " (timed out)" : "")\n"
            + "stdout: \(stdout.suffix(4000))\nstderr: \(stderr.suffix(4000))"
    }
}

/// Runs commands for the lab: always under `timeout` (the command and everything it starts in
/// its process group is killed at the limit), spawned with a clean signal mask (``LabSpawn``),
/// output to temporary files (never pipes a daemon could hold open), output bounded.
enum LabCommand {
    /// The default bound on captured output, per stream.
    static let defaultMaxOutput = 1 << 20

    static func run(_ arguments: [String], timeout: Duration = .seconds(60), maxOutput: Int = defaultMaxOutput,
                    environment: [String: String]? = nil) async throws -> LabCommandResult {
        precondition(!arguments.isEmpty)
        let seconds = max(1, Int(timeout.components.seconds) + (timeout.components.attoseconds > 0 ? 1 : 0))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-lab-cmd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        let pid = try LabSpawn.spawn(["timeout", "--kill-after=3", "\(seconds)"] + arguments, stdout: outURL.path, stderr: errURL.path,
                                     environment: environment)
        let status = await LabSpawn.wait(pid)
        let (stdout, outCut) = read(outURL, max: maxOutput)
        let (stderr, errCut) = read(errURL, max: maxOutput)
        return LabCommandResult(arguments: arguments, status: status, stdout: stdout, stderr: stderr,
                                timedOut: status == 124 || status == 128 + SIGKILL, truncated: outCut || errCut)
    }

    private static func read(_ url: URL, max: Int) -> (String, Bool) {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return ("", false) }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: max + 1)) ?? Data()
        return (String(decoding: data.prefix(max), as: UTF8.self), data.count > max)
    }
}
