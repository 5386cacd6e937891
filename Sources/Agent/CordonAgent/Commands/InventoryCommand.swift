import ArgumentParser
import CordonShared
import Foundation

public struct InventoryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Collect this jump host's inventory now and print it (no coordinator needed).",
        discussion: """
            Sections: packages, sockets, accounts, ssh, tasks, logons, firewall. Run as root it reads \
            everything; unprivileged, each section says what it could not read. Password hashes and \
            SSH keys never appear: only their kind, age and fingerprints.

            Examples:
              cordon-agent inventory --section tasks
              cordon-agent inventory --root /mnt/image --json
            """)

    public enum Section: String, ExpressibleByArgument, CaseIterable, Sendable {
        case packages, sockets, accounts, ssh, tasks, logons, firewall
    }

    @Option(name: .long, help: ArgumentHelp("Only this section: \(Section.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    public var section: Section?

    @Option(name: .long, help: ArgumentHelp("The directory that stands for / (a mounted image, a test tree).", valueName: "dir"))
    public var root: String = "/"

    @Option(name: .long, help: ArgumentHelp("How far back failed logons are counted.", valueName: "duration"))
    public var window: String = "24h"

    @Flag(name: .long, help: "Print JSON.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard HumanDuration.seconds(window) != nil else { throw ValidationError("--window must be a duration like 24h") }
        guard root.hasPrefix("/") else { throw ValidationError("--root must be an absolute path") }
    }

    public func run() async throws {
        try await runAgentCommand {
            let context = CollectionContext(root: root, failedLogonWindow: HumanDuration.seconds(window) ?? 86400)
            let report = await InventoryComposer.collect(context)
            if json {
                switch section {
                case nil: try printAgentJSON(report)
                case .packages: try printAgentJSON(report.packages)
                case .sockets: try printAgentJSON(report.listeningSockets)
                case .accounts: try printAgentJSON(report.accounts)
                case .ssh: try printAgentJSON(report.sshKeys)
                case .tasks: try printAgentJSON(report.scheduledTasks)
                case .logons: try printAgentJSON(report.failedLogons)
                case .firewall: try printAgentJSON(report.firewall)
                }
            } else {
                print(InventoryText.render(report, section: section?.rawValue))
            }
        }
    }
}
