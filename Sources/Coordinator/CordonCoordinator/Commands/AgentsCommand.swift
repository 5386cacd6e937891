import ArgumentParser
import CordonShared
import Foundation

public struct AgentsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "List, inspect and revoke agents.",
        subcommands: [List.self, Show.self, Revoke.self],
        defaultSubcommand: List.self)

    public init() {}

    public struct List: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "List enrolled agents and their state.")
        @OptionGroup public var connection: OperatorOptions
        @Option(name: .long, help: ArgumentHelp("Only agents of this segment.", valueName: "name")) public var segment: String?
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                var path = APIPath.agents
                if let segment { path += "?segment=\(segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? segment)" }
                let agents: [AgentSummary] = try await connection.withClient { try await $0.get(path) }
                if json { return try printJSON(agents) }
                print(FleetViews.agentsTable(agents))
            }
        }
    }

    public struct Show: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one agent with its latest facts.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Agent ID (from `cordon agents list`).") public var id: String
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let detail: AgentDetail = try await connection.withClient { try await $0.get(APIPath.agents + "/" + Self.escape(id)) }
                if json { return try printJSON(detail) }
                print(FleetViews.agentDetail(detail))
            }
        }

        static func escape(_ id: String) -> String { id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_."))) ?? id }
    }

    public struct Revoke: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke an agent: the coordinator refuses its certificates from the next request on.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Agent ID.") public var id: String
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let result: RevokeResponse = try await connection.withClient {
                    try await $0.post(APIPath.agents + "/" + Show.escape(id) + "/revoke", body: [String: String]())
                }
                if json { return try printJSON(result) }
                print(result.alreadyRevoked ? "Agent \(id) was already revoked at \(CordonTime.format(result.revokedAt))." : "Agent \(id) revoked.")
            }
        }
    }
}

public struct StatusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet at a glance: segments, agents online/late/offline, last reports, spool drops.",
        discussion: """
            An agent is online when heard from within two heartbeat intervals, late within six, else offline.

            Below the per-segment figures the table lists the agents that need a look: late and \
            offline ones (not revoked), longest silent first, at most --limit of them; --all-agents \
            lists every agent instead. --json lists every agent (scripts rely on it) unless \
            --attention-only is given.
            """)
    @OptionGroup public var connection: OperatorOptions
    @Flag(name: .long, help: "List every agent, not only the late and offline ones (the default with --json).") public var allAgents = false
    @Flag(name: .long, help: "List only late and offline agents, also with --json (the table's default).") public var attentionOnly = false
    @Option(name: .long, help: ArgumentHelp("Late and offline agents listed at most (0-10000).", valueName: "n")) public var limit: Int = 100
    @Flag(name: .long, help: "Print JSON.") public var json = false
    public init() {}

    public func validate() throws {
        guard (0...10_000).contains(limit) else { throw ValidationError("--limit must be 0-10000") }
        if allAgents && attentionOnly { throw ValidationError("--all-agents and --attention-only exclude each other") }
    }

    public func run() async throws {
        try await runReportingErrors {
            let attention = attentionOnly || (!json && !allAgents)
            let path = APIPath.status + (attention ? "?agents=attention&limit=\(limit)" : "")
            let status: FleetStatus = try await connection.withClient { try await $0.get(path) }
            if json { return try printJSON(status) }
            print(FleetViews.status(status))
        }
    }
}

public struct AuditCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log: enrollments, tokens, revocations, task pushes, secret reads.")
    @OptionGroup public var connection: OperatorOptions
    @Option(name: .long, help: ArgumentHelp("Only entries newer than this, e.g. 24h.", valueName: "duration")) public var since: String?
    @Option(name: .long, help: ArgumentHelp("At most this many entries (newest).", valueName: "n")) public var limit: Int = 200
    @Flag(name: .long, help: "Print JSON.") public var json = false
    public init() {}

    public func validate() throws {
        if let since, HumanDuration.seconds(since) == nil { throw ValidationError("--since must be a duration like 24h") }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1-10000") }
    }

    public func run() async throws {
        try await runReportingErrors {
            var path = APIPath.audit + "?limit=\(limit)"
            if let since, let seconds = HumanDuration.seconds(since) {
                path += "&since=" + (CordonTime.format(Date().addingTimeInterval(-seconds)).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            }
            let entries: [AuditEntry] = try await connection.withClient { try await $0.get(path) }
            if json { return try printJSON(entries) }
            var table = TextTable(["TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"])
            for e in entries { table.add([CordonTime.format(e.at), e.actor, e.action, e.target, Terminal.sanitize(e.detail, limit: 100)]) }
            print(entries.isEmpty ? "No audit entries." : table.render())
        }
    }
}
