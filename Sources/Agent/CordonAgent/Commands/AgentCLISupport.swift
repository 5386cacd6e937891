import ArgumentParser
import CordonShared
import CordonTransport
import Foundation
import Logging

/// Exit codes of `cordon-agent`.
public enum AgentExit {
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    public static let unreachable: Int32 = 3
    public static let refused: Int32 = 4
    public static let notEnrolled: Int32 = 6
}

/// Where the agent's config is, and the state dir override that most commands take.
public struct AgentConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Agent config file (YAML). Used when it exists.", valueName: "file"))
    public var config: String = AgentConfig.defaultPath

    @Option(name: .long, help: ArgumentHelp("State directory (overrides the config's stateDir).", valueName: "dir"))
    public var stateDir: String?

    public init() {}

    /// The config file if it exists (it must then be valid), else the defaults; then the flags.
    public func load(requireFile: Bool = false) throws -> AgentConfig {
        var config: AgentConfig
        if FileManager.default.fileExists(atPath: self.config) {
            config = try AgentConfig.load(path: self.config)
        } else if requireFile {
            throw CordonError.invalidArgument("no agent config at \(self.config); see Deploy/agent.yaml.example")
        } else {
            config = AgentConfig()
        }
        if let stateDir { config.stateDir = stateDir }
        return config
    }
}

public func agentLogger(level: String) -> Logger {
    var logger = Logger(label: "cordon.agent")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

/// One clear line on stderr and a meaningful exit code.
public func runAgentCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TransportError {
        writeStderr("error: \(error.reason)")
        throw ExitCode(error == .unreachable || error == .tls ? AgentExit.unreachable : error == .refused ? AgentExit.refused : AgentExit.failure)
    } catch let error as AgentError {
        writeStderr("error: \(error.reason)")
        throw ExitCode(error == .notEnrolled ? AgentExit.notEnrolled : error == .config ? AgentExit.usage : AgentExit.failure)
    } catch let error as CordonError {
        writeStderr("error: \(error.reason)")
        throw ExitCode(error == .invalidArgument ? AgentExit.usage : AgentExit.failure)
    }
}

public func writeStderr(_ line: String) {
    StandardOutput.writeError(line + "\n")
}

/// Pretty JSON on stdout through ``StandardOutput`` (unbuffered; a closed pipe ends the
/// command quietly).
func printAgentJSON<T: Encodable>(_ value: T) throws {
    let data = try CordonJSON.encode(value, pretty: true)
    StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
}

/// What the commands print for people: `print`'s signature, written through ``StandardOutput``.
/// It shadows the standard library's `print` in this module, on purpose: no command can take
/// the buffered road to stdout by accident.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    StandardOutput.write(items.map { "\($0)" }.joined(separator: separator) + terminator)
}
