import ArgumentParser
import CordonAgent
import CordonShared

@main
struct CordonAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cordon-agent",
        abstract: "Cordon's agent for a segment's jump host: scans, inventories, reports to the coordinator over mutual TLS.",
        version: CordonVersion.current,
        subcommands: [EnrollCommand.self, RunCommand.self, AgentStatusCommand.self, ScanCommand.self, InventoryCommand.self,
                      ApplyCommand.self, RestoreCommand.self, BackupsCommand.self])
}
