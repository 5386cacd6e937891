import ArgumentParser
import CordonShared
import Foundation

extension ExportFormat: ExpressibleByArgument {}
extension DetectionKind: ExpressibleByArgument {}

/// `--worm` accepts "conficker", "Code Red", "wannacry"...
struct WormArgument: ExpressibleByArgument, Sendable {
    let worm: Worm
    init?(argument: String) {
        guard let worm = Worm(loose: argument) else { return nil }
        self.worm = worm
    }
    static var allValueStrings: [String] { Worm.allCases.map(\.rawValue) }
}

func query(_ items: [(String, String?)]) -> String {
    let parts = items.compactMap { key, value in
        value.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_.:"))) ?? $0)" }
    }
    return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
}

func emit(_ text: String) {
    StandardOutput.write(text)
}

public struct HostsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Hosts the agents found in their segments, with open ports and open findings.",
        discussion: """
            --format nmap-xml writes nmap's XML (valid against nmap.dtd) for tools that read nmap output.

            Examples:
              cordon hosts --segment dmz
              cordon hosts --exposed-to wannacry --format csv > wannacry.csv
              cordon hosts --format nmap-xml > fleet.xml
            """)
    @OptionGroup public var connection: OperatorOptions
    @Option(name: .long, help: ArgumentHelp("Only hosts of this segment.", valueName: "name")) public var segment: String?
    @Option(name: .long, help: ArgumentHelp("Only hosts with an open finding of this worm: \(Worm.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "worm"))
    var exposedTo: WormArgument?
    @Option(name: .long, help: ArgumentHelp("Output: table, json, csv or nmap-xml.", valueName: "format")) public var format: ExportFormat = .table
    @Flag(name: .long, help: "Same as --format json.") public var json = false
    public init() {}

    public func run() async throws {
        try await runReportingErrors {
            let path = APIPath.hosts + query([("segment", segment), ("exposedTo", exposedTo?.worm.rawValue)])
            let hosts: [HostView] = try await connection.withClient { try await $0.get(path) }
            switch json ? .json : format {
            case .json: try printJSON(hosts)
            case .csv: emit(Exports.hostsCSV(hosts))
            case .nmapXML: emit(Exports.nmapXML(hosts))
            case .table: print(FindingViews.hostsTable(hosts))
            }
        }
    }
}

public struct FindingsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "findings",
        abstract: "Findings from scans and jump-host inventories: exposures and indicators of compromise.",
        discussion: """
            Open findings by default; --status resolved or all for the others. A finding is resolved \
            when a later complete scan of its host (or a later inventory) no longer shows it.

            The table shows the most severe --limit findings (default 1000) and says when there are \
            more; json, csv and nmap-xml export every finding unless --limit is given. --limit 0: all.

            Examples:
              cordon findings --worm conficker --kind ioc
              cordon findings --worm conficker --limit 0          # every one, on screen
              cordon findings --segment dmz --format csv > dmz-findings.csv
            """)
    @OptionGroup public var connection: OperatorOptions
    @Option(name: .long, help: ArgumentHelp("Only this worm: \(Worm.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "worm")) var worm: WormArgument?
    @Option(name: .long, help: ArgumentHelp("exposure or ioc.", valueName: "kind")) public var kind: DetectionKind?
    @Option(name: .long, help: ArgumentHelp("Only this segment.", valueName: "name")) public var segment: String?
    @Option(name: .long, help: ArgumentHelp("Only findings reported by this agent.", valueName: "id")) public var agent: String?
    @Option(name: .long, help: ArgumentHelp("open, resolved or all.", valueName: "status")) public var status: String = "open"
    @Option(name: .long, help: ArgumentHelp("Output: table, json, csv or nmap-xml.", valueName: "format")) public var format: ExportFormat = .table
    @Option(name: .long, help: ArgumentHelp("At most this many, most severe first (0: all). Default: 1000 for the table, all for exports.", valueName: "n"))
    public var limit: Int?
    @Flag(name: .long, help: "Same as --format json.") public var json = false
    public init() {}

    public func validate() throws {
        guard ["open", "resolved", "all"].contains(status) else { throw ValidationError("--status must be open, resolved or all") }
        if let limit, !(0...Self.maxLimit).contains(limit) { throw ValidationError("--limit must be 0-\(Self.maxLimit)") }
    }

    /// The largest `limit` `GET /v1/findings` takes.
    static let maxLimit = 10_000_000

    /// The table's default: a screenful that a fleet of 50,000 agents still answers at once.
    static let tableLimit = 1000

    public func run() async throws {
        try await runReportingErrors {
            let output = json ? .json : format
            let shown = limit ?? (output == .table ? Self.tableLimit : 0)
            // One more than shown, to tell whether there are more (within the API's cap, which is
            // also --limit's largest value).
            let path = APIPath.findings + query([("worm", worm?.worm.rawValue), ("kind", kind?.rawValue), ("segment", segment), ("agent", agent), ("status", status),
                                                 ("limit", shown > 0 ? "\(min(shown + 1, Self.maxLimit))" : nil)])
            var findings: [FindingView] = try await connection.withClient { try await $0.get(path) }
            let more = shown > 0 && findings.count > shown
            if more { findings.removeLast(findings.count - shown) }
            if more {
                FileHandle.standardError.write(Data("cordon: showing the \(shown) most severe findings; there are more (--limit 0 for all)\n".utf8))
            }
            switch output {
            case .json: try printJSON(findings)
            case .csv: emit(Exports.findingsCSV(findings))
            case .nmapXML:
                // nmap XML is per host: export the hosts these findings are on, with only these findings.
                let hosts: [HostView] = try await connection.withClient { try await $0.get(APIPath.hosts + query([("segment", segment)])) }
                let ids = Set(findings.map(\.id))
                let selected = hosts.compactMap { host -> HostView? in
                    var host = host
                    host.findings = host.findings.filter { ids.contains($0.id) }
                    return host.findings.isEmpty ? nil : host
                }
                emit(Exports.nmapXML(selected, args: "cordon findings --format nmap-xml"))
            case .table: print(FindingViews.findingsTable(findings))
            }
        }
    }
}

public struct InventoryShowCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "The latest inventory of an agent's jump host.",
        discussion: """
            Sections: \(InventoryText.sectionNames.joined(separator: ", ")).

            Example:
              cordon inventory agt-0123456789abcdef --section tasks
            """)
    @OptionGroup public var connection: OperatorOptions
    @Argument(help: "Agent ID.") public var agent: String
    @Option(name: .long, help: ArgumentHelp("Only this section.", valueName: "name")) public var section: String?
    @Flag(name: .long, help: "Print JSON.") public var json = false
    public init() {}

    public func validate() throws {
        if let section, !InventoryText.sectionNames.contains(section) {
            throw ValidationError("--section must be one of \(InventoryText.sectionNames.joined(separator: ", "))")
        }
    }

    public func run() async throws {
        try await runReportingErrors {
            let view: InventoryView = try await connection.withClient {
                try await $0.get(APIPath.inventory + "/" + (agent.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_."))) ?? agent))
            }
            if json { return try printJSON(view) }
            print("Jump host \(Terminal.sanitize(view.hostName)) (\(view.agentID), segment \(view.segment)); baseline \(view.baselineAt.map { CordonTime.format($0) } ?? "not yet")")
            print(InventoryText.render(view.inventory, section: section))
        }
    }
}

public struct ChangesCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "changes",
        abstract: "What changed on the jump hosts: scheduled tasks, accounts, UID 0, passwords, listening ports, firewall.",
        discussion: """
            Example:
              cordon changes --since 24h --segment dmz
            """)
    @OptionGroup public var connection: OperatorOptions
    @Option(name: .long, help: ArgumentHelp("Only changes newer than this, e.g. 24h, 7d.", valueName: "duration")) public var since: String = "24h"
    @Option(name: .long, help: ArgumentHelp("Only this segment.", valueName: "name")) public var segment: String?
    @Option(name: .long, help: ArgumentHelp("Only this agent.", valueName: "id")) public var agent: String?
    @Flag(name: .long, help: "Print JSON.") public var json = false
    public init() {}

    public func validate() throws {
        guard HumanDuration.seconds(since) != nil else { throw ValidationError("--since must be a duration like 24h") }
    }

    public func run() async throws {
        try await runReportingErrors {
            let from = Date().addingTimeInterval(-(HumanDuration.seconds(since) ?? 86400))
            let path = APIPath.changes + query([("since", CordonTime.format(from)), ("segment", segment), ("agent", agent)])
            let changes: [ChangeView] = try await connection.withClient { try await $0.get(path) }
            if json { return try printJSON(changes) }
            guard !changes.isEmpty else { return print("No changes since \(CordonTime.format(from)).") }
            var table = TextTable(["TIME", "SEGMENT", "HOST", "CHANGE", "SUBJECT", "DETAIL"])
            for c in changes {
                table.add([CordonTime.format(c.at), c.segment, Terminal.sanitize(c.hostName, limit: 30), c.kind.rawValue,
                           Terminal.sanitize(c.subject, limit: 50), Terminal.sanitize(c.detail, limit: 80)])
            }
            print(table.render())
        }
    }
}
