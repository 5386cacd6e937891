import ArgumentParser
import CordonShared
import CordonTransport
import Foundation

/// Exit codes of the `cordon` CLI. Scripts can tell a usage mistake from an unreachable
/// coordinator from a refusal.
public enum CordonExit {
    public static let failure: Int32 = 1
    /// Invalid arguments (ArgumentParser's own validation also exits 64 = EX_USAGE).
    public static let usage: Int32 = 2
    public static let unreachable: Int32 = 3
    public static let refused: Int32 = 4
    public static let notFound: Int32 = 5
}

/// Connection options shared by every command that talks to a running coordinator.
public struct OperatorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Operator profile (YAML with coordinator URL, certificate, key and CA).",
                                            discussion: "Defaults to $CORDON_PROFILE, else ~/.config/cordon/operator.yaml.", valueName: "file"))
    public var profile: String?

    @Option(name: .long, help: ArgumentHelp("Coordinator URL, overriding the profile's.", valueName: "https://host:port"))
    public var coordinator: String?

    public init() {}

    public func withClient<T>(_ body: (CordonHTTPClient) async throws -> T) async throws -> T {
        let profile = try OperatorProfile.load(path: self.profile ?? OperatorProfile.defaultPath)
        let client = try profile.makeClient(coordinatorOverride: coordinator)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// Runs a command body and turns Cordon's errors into one clear line on stderr and a
/// meaningful exit code, instead of a stack of Swift error descriptions.
public func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TransportError {
        printError(error.reason)
        if error == .unreachable || error == .tls { throw ExitCode(CordonExit.unreachable) }
        if error.status == 404 { throw ExitCode(CordonExit.notFound) }
        throw ExitCode(error == .refused ? CordonExit.refused : CordonExit.failure)
    } catch let error as CordonError {
        printError(error.reason)
        throw ExitCode(error == .invalidArgument ? CordonExit.usage : CordonExit.failure)
    } catch let error as CoordinatorError {
        printError(error.reason)
        if error == .notFound { throw ExitCode(CordonExit.notFound) }
        throw ExitCode(error == .config ? CordonExit.usage : CordonExit.failure)
    }
}

public func printError(_ message: String) {
    StandardOutput.writeError("error: \(message)\n")
}

/// Prints a value as pretty JSON on stdout (through ``StandardOutput``: unbuffered, and a
/// closed pipe ends the command quietly).
public func printJSON<T: Encodable>(_ value: T) throws {
    let data = try CordonJSON.encode(value, pretty: true)
    StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
}

/// What the commands print for people: `print`'s signature, written through ``StandardOutput``
/// so that every line leaves at once and a closed pipe ends the command quietly. It shadows
/// the standard library's `print` in this module, on purpose: no command can take the
/// buffered road to stdout by accident.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    StandardOutput.write(items.map { "\($0)" }.joined(separator: separator) + terminator)
}

/// "3m ago", "never".
public func ago(_ date: Date?, now: Date = Date()) -> String {
    guard let date else { return "never" }
    let seconds = now.timeIntervalSince(date)
    if seconds < 0 { return "in " + HumanDuration.format(-seconds) }
    return HumanDuration.format(seconds) + " ago"
}
