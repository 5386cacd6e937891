import ArgumentParser
import CordonCoordinator
import CordonDemo
import CordonShared

@main
struct CordonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cordon",
        abstract: "Cordon's coordinator and operator CLI: contain a worm outbreak across a segmented network.",
        discussion: "Run `cordon demo` to see a whole fleet on loopback in a few seconds.",
        version: CordonVersion.full,
        subcommands: [
            InitCommand.self, ServeCommand.self, StatusCommand.self, AgentsCommand.self, TokensCommand.self,
            HostsCommand.self, FindingsCommand.self, InventoryShowCommand.self, ChangesCommand.self,
            TasksCommand.self, PlanCommand.self, SecretsCommand.self, SegmentsCommand.self, RolloutCommand.self,
            OperatorsCommand.self, AuditCommand.self, DemoCommand.self, DemoHostCommand.self,
        ])

    /// A closed stdout pipe (`| head`) must end a command quietly: SIGPIPE is ignored so that
    /// writes see EPIPE, and ``StandardOutput`` then ends the process the Unix way.
    static func main() async {
        StandardOutput.prepare()
        await main(nil)
    }
}
