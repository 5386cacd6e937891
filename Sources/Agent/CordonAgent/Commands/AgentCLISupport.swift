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
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

func printAgentJSON<T: Encodable>(_ value: T) throws {
    FileHandle.standardOutput.write(try CordonJSON.encode(value, pretty: true))
    FileHandle.standardOutput.write(Data("\n".utf8))
}
