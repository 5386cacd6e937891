import ArgumentParser
import CordonShared
import Foundation

public struct PlanCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Propose remediation for a segment from its findings: task lists to review and push, and the Windows work list.",
        discussion: """
            Writes into --out: plan-AGENT.yaml for each jump host (rotate admin passwords when the \
            segment shows indicators of compromise, remove scheduled tasks that appeared since the \
            baseline, block the worm ports...; each action with a comment saying why), and \
            windows-SEGMENT.csv / windows-SEGMENT.md: per Windows host, the updates to install \
            (MS01-033, MS03-039, MS05-039, KB958644, MS17-010), SMBv1 and AutoRun to disable, \
            passwords to change, scheduled jobs to delete. Nothing is pushed.

            Example:
              cordon plan --segment dmz --out ./plans
              cordon tasks push --agent agt-... ./plans/plan-agt-....yaml --dry-run
            """)
    @OptionGroup public var connection: OperatorOptions
    @Option(name: .long, help: ArgumentHelp("The segment to plan for.", valueName: "name")) public var segment: String
    @Option(name: .long, help: ArgumentHelp("Directory to write the files into.", valueName: "dir")) public var out: String = "."
    @Flag(name: .long, help: "Print the plan as JSON instead of writing files.") public var json = false
    public init() {}

    public func run() async throws {
        try await runReportingErrors {
            let plan: SegmentPlan = try await connection.withClient { try await $0.get(APIPath.plan + query([("segment", segment)])) }
            if json { return try printJSON(plan) }
            try SecureFile.makeDirectory(out, mode: 0o755)
            let dir = out as NSString
            for agent in plan.agents where CordonName.isValid(agent.agentID) {
                let path = dir.appendingPathComponent("plan-\(agent.agentID).yaml")
                try SecureFile.replace(path, contents: Data(agent.yaml.utf8), mode: 0o644)
                print("\(path): \(agent.actions.count) action(s) for \(Terminal.sanitize(agent.hostName))")
            }
            let name = CordonName.isValid(segment) ? segment : "segment"
            let csv = dir.appendingPathComponent("windows-\(name).csv"), md = dir.appendingPathComponent("windows-\(name).md")
            try SecureFile.replace(csv, contents: Data(plan.windowsCSV.utf8), mode: 0o644)
            try SecureFile.replace(md, contents: Data(plan.windowsMarkdown.utf8), mode: 0o644)
            print("\(csv), \(md): \(plan.windowsWork.count) Windows host(s), \(plan.windowsWork.filter { !$0.infectedBy.isEmpty }.count) infected")
        }
    }
}
