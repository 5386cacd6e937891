import ArgumentParser
import CordonShared
import Foundation

public struct EnrollCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll this jump host with a coordinator, pinning its CA by fingerprint.",
        discussion: """
            Generates the agent's private key here (it never leaves the host), sends a CSR with the \
            one-time token, and stores the signed certificate in the state directory. Aborts, sending \
            nothing, when the coordinator's CA does not match --ca-fingerprint: there is no trust on \
            first use.

            Example:
              cordon-agent enroll --coordinator https://cordon.example.net:8443 \\
                --token ct_... --ca-fingerprint SHA256:3b1f...
            """)

    @OptionGroup public var options: AgentConfigOptions

    @Option(name: .long, help: ArgumentHelp("Coordinator URL.", valueName: "https://host:port"))
    public var coordinator: String

    @Option(name: .long, help: ArgumentHelp("One-time enrollment token from `cordon tokens create`.", valueName: "token"))
    public var token: String?

    @Option(name: .long, help: ArgumentHelp("Read the token from this file instead (keeps it out of ps).", valueName: "file"))
    public var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("The CA fingerprint `cordon init` printed.", valueName: "SHA256:hex"))
    public var caFingerprint: String

    @Option(name: .long, help: ArgumentHelp("Host name to enroll as (default: this host's name).", valueName: "name"))
    public var hostname: String?

    @Flag(name: .long, help: "Print the result as JSON.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard coordinator.hasPrefix("https://") else { throw ValidationError("--coordinator must be an https:// URL") }
        guard Fingerprint.normalize(caFingerprint) != nil else {
            throw ValidationError("--ca-fingerprint must be SHA256: followed by 64 hex digits, as `cordon init` printed it")
        }
        guard (token == nil) != (tokenFile == nil) else { throw ValidationError("give --token or --token-file") }
        if let token, token.isEmpty { throw ValidationError("--token must not be empty") }
    }

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let token = try self.token ?? SecureFile.readString(tokenFile ?? "", limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw CordonError.invalidArgument("the token file \(tokenFile ?? "") is empty") }
            let record = try await Enroller(stateDir: AgentStateDir(config.stateDir), logger: agentLogger(level: "warning"))
                .enroll(coordinator: coordinator, token: token, caFingerprint: caFingerprint, hostname: hostname ?? HostFacts().hostname())
            if json { return try printAgentJSON(record) }
            print("Enrolled as \(record.agentID) in segment \(record.segment); certificate valid until \(CordonTime.format(record.certificateNotAfter)).")
            print("State: \(config.stateDir). Start the agent with `cordon-agent run --config \(options.config)`.")
        }
    }
}
