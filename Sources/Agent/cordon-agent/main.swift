import ArgumentParser
import CordonAgent
import CordonShared

@main
struct CordonAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cordon-agent",
        abstract: "Cordon's agent for a segment's jump host: scans, inventories, reports to the coordinator over mutual TLS.",
        version: CordonVersion.full,
        subcommands: [EnrollCommand.self, RunCommand.self, AgentStatusCommand.self, ScanCommand.self, InventoryCommand.self,
                      ApplyCommand.self, RestoreCommand.self, BackupsCommand.self])

    /// A closed stdout pipe (`| head`) must end a command quietly: SIGPIPE is ignored so that
    /// writes see EPIPE, and ``StandardOutput`` then ends the process the Unix way.
    static func main() async {
        StandardOutput.prepare()
        await main(nil)
    }
}
