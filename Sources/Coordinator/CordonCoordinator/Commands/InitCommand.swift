import ArgumentParser
import CordonShared
import Foundation

public struct InitCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the coordinator's CA, server certificate, task-signing key and escrow key.",
        discussion: """
            Writes into --state-dir (created with mode 0700): ca.crt/ca.key (P-256 CA), \
            server.crt/server.key (TLS certificate for --name and every --san), task-signing.key/.pub \
            (Ed25519) and escrow.key/.pub (X25519, for HPKE). Private keys are mode 0600. Refuses to \
            overwrite an initialized directory. Prints the CA fingerprint that agents pin at enrollment.

            Example:
              cordon init --state-dir /var/lib/cordon --name cordon.example.net --san 198.18.0.1
            """)

    @Option(name: .long, help: ArgumentHelp("Directory for keys, certificates and the database.", valueName: "dir"))
    public var stateDir: String

    @Option(name: .long, help: ArgumentHelp("The coordinator's host name as agents will reach it (DNS name or IP).", valueName: "host"))
    public var name: String

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Another DNS name or IP address for the server certificate; repeatable.", valueName: "name"))
    public var san: [String] = []

    @Flag(name: .long, help: "Print the result as JSON.")
    public var json = false

    public init() {}

    public func run() async throws {
        try await runReportingErrors {
            let result = try CoordinatorStateDir(stateDir).initialize(name: name, extraNames: san)
            struct Output: Encodable { var stateDir: String; var caFingerprint: String; var serverNames: [String] }
            if json {
                try printJSON(Output(stateDir: stateDir, caFingerprint: result.caFingerprint, serverNames: result.serverNames))
                return
            }
            print("""
                Initialized coordinator state in \(stateDir)
                Server certificate names: \(result.serverNames.joined(separator: ", "))
                CA fingerprint: \(result.caFingerprint)

                Next:
                  cordon serve --state-dir \(stateDir)
                  cordon operators add NAME --state-dir \(stateDir) --coordinator https://\(name):8443
                  cordon tokens create --segment SEGMENT      (then enroll agents with --ca-fingerprint above)
                """)
        }
    }
}
