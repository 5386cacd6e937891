import ArgumentParser
import CordonShared
import Foundation

public struct SegmentsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "segments",
        abstract: "Segments and the scope their agents may scan.",
        discussion: """
            An agent refuses to run with a scan scope that is not inside its segment's recorded scope. \
            `cordon rollout apply` records each segment's scope from the rollout inventory.

            Example:
              cordon segments set dmz --scope 198.18.1.0/24 --scope 198.18.9.0/24
            """,
        subcommands: [List.self, Set.self],
        defaultSubcommand: List.self)
    public init() {}

    public struct List: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "Segments with their recorded scope.")
        @OptionGroup public var connection: OperatorOptions
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let segments: [SegmentView] = try await connection.withClient { try await $0.get(APIPath.segments) }
                if json { return try printJSON(segments) }
                guard !segments.isEmpty else { return print("No segments.") }
                var table = TextTable(["SEGMENT", "SCOPE", "SET BY", "SET AT"])
                for s in segments {
                    table.add([s.name, s.scope?.joined(separator: " ") ?? "(none recorded: not restricted)", s.updatedBy ?? "", s.updatedAt.map { CordonTime.format($0) } ?? ""])
                }
                print(table.render())
            }
        }
    }

    public struct Set: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "set", abstract: "Record the scope a segment's agents may scan.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Segment name.") public var name: String
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A CIDR the segment's agents may scan; repeatable.", valueName: "cidr"))
        public var scope: [String] = []
        public init() {}

        public func validate() throws {
            guard CordonName.isValid(name) else { throw ValidationError("segment name must be 1-64 letters, digits, '.', '_' or '-'") }
            guard !scope.isEmpty else { throw ValidationError("give at least one --scope CIDR") }
            for s in scope where IPv4CIDR(s) == nil { throw ValidationError("--scope \(s) is not an IPv4 CIDR") }
        }

        public func run() async throws {
            try await runReportingErrors {
                let view: SegmentView = try await connection.withClient {
                    try await $0.put(APIPath.segments + "/" + escapePath(name), body: SegmentScopeRequest(scope: scope))
                }
                print("Segment \(view.name) may scan: \(view.scope?.joined(separator: ", ") ?? "")")
            }
        }
    }
}
