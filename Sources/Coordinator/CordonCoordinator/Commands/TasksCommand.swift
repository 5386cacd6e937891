import ArgumentParser
import CordonShared
import Foundation

public struct TasksCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "Push signed remediation task lists to agents and follow them.",
        discussion: TaskFileHelp.text,
        subcommands: [Push.self, List.self, Show.self, Wait.self, Cancel.self, Approve.self, Export.self],
        defaultSubcommand: List.self)

    public init() {}

    public struct Push: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Sign and queue a task file for a segment's agents or one agent.",
            discussion: """
                Each target agent gets its own list (its ID, a fresh sequence number, the expiry), \
                signed with the coordinator's task key. Online agents receive it within a second; \
                it is `delivered` once the agent acknowledges it.

                \(TaskFileHelp.text)

                Examples:
                  cordon tasks push --segment dmz conficker-response.yaml --dry-run
                  cordon tasks push --agent agt-0123456789abcdef block.yaml --expires 30m --require-approval
                """)
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: ArgumentHelp("The task file (YAML).", valueName: "file")) public var file: String
        @Option(name: .long, help: ArgumentHelp("Every agent of this segment.", valueName: "name")) public var segment: String?
        @Option(name: .long, help: ArgumentHelp("One agent.", valueName: "id")) public var agent: String?
        @Flag(name: .long, help: "Report what would change; change nothing.") public var dryRun = false
        @Option(name: .long, help: ArgumentHelp("Expiry, e.g. 1h (10s-7d).", valueName: "duration")) public var expires: String = "1h"
        @Flag(name: .long, help: "Two-person rule: another operator must `cordon tasks approve` it first.") public var requireApproval = false
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws {
            guard (segment == nil) != (agent == nil) else { throw ValidationError("give exactly one of --segment and --agent") }
            guard let seconds = HumanDuration.seconds(expires), seconds >= 10, seconds <= 7 * 86400 else {
                throw ValidationError("--expires must be a duration between 10s and 7d")
            }
        }

        public func run() async throws {
            try await runReportingErrors {
                let taskFile = try TaskFile.parse(yaml: try SecureFile.readString(file, limit: 1 << 20), origin: file)
                let target: TaskTarget = segment.map { .segment($0) } ?? .agent(agent ?? "")
                let request = TaskPushRequest(target: target, file: taskFile, dryRun: dryRun, expiresIn: HumanDuration.seconds(expires) ?? 3600,
                                              requireApproval: requireApproval)
                let view: TaskView = try await connection.withClient { try await $0.post(APIPath.tasks, body: request) }
                if json { return try printJSON(view) }
                print("Task \(view.id) pushed to \(view.runs.count) agent(s)\(dryRun ? " as a dry run" : "")\(requireApproval ? "; awaiting approval by another operator" : "").")
                print("Follow it with: cordon tasks wait \(view.id)")
            }
        }
    }

    public struct List: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "Recent tasks and how far each got.")
        @OptionGroup public var connection: OperatorOptions
        @Option(name: .long, help: ArgumentHelp("Only tasks for this agent.", valueName: "id")) public var agent: String?
        @Option(name: .long, help: ArgumentHelp("Only tasks for this segment's agents.", valueName: "name")) public var segment: String?
        @Option(name: .long, help: ArgumentHelp("At most this many.", valueName: "n")) public var limit: Int = 50
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let tasks: [TaskView] = try await connection.withClient { try await $0.get(APIPath.tasks + query([("agent", agent), ("segment", segment), ("limit", "\(limit)")])) }
                if json { return try printJSON(tasks) }
                guard !tasks.isEmpty else { return print("No tasks.") }
                var table = TextTable(["TASK", "CREATED", "BY", "TARGET", "ACTIONS", "STATES"])
                for t in tasks {
                    let states = t.stateCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
                    table.add([t.id, CordonTime.format(t.createdAt), t.createdBy, t.target, "\(t.actions.count)\(t.dryRun ? " (dry run)" : "")", states])
                }
                print(table.render())
            }
        }
    }

    public struct Show: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "show", abstract: "One task: each agent's state, times, results and messages.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Task ID (tk-...).") public var id: String
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let view: TaskView = try await connection.withClient { try await $0.get(APIPath.tasks + "/" + escapePath(id)) }
                if json { return try printJSON(view) }
                print(TaskText.render(view))
            }
        }
    }

    public struct Wait: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "wait",
            abstract: "Block, showing progress, until every agent has finished the task.",
            discussion: "Exits 0 when every agent succeeded, 1 when any failed, was refused, interrupted, expired or cancelled, 3 on timeout.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Task ID (tk-...).") public var id: String
        @Option(name: .long, help: ArgumentHelp("Give up after this long.", valueName: "duration")) public var timeout: String = "1h"
        @Flag(name: .long, help: "Print the final task as JSON.") public var json = false
        public init() {}

        public func validate() throws {
            guard HumanDuration.seconds(timeout) != nil else { throw ValidationError("--timeout must be a duration like 10m") }
        }

        public func run() async throws {
            try await runReportingErrors {
                let deadline = Date().addingTimeInterval(HumanDuration.seconds(timeout) ?? 3600)
                var lastLine = ""
                let final: TaskView? = try await connection.withClient { client in
                    while true {
                        let view: TaskView = try await client.get(APIPath.tasks + "/" + escapePath(id))
                        let line = view.stateCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
                        if line != lastLine && !json {
                            StandardOutput.writeError("\(CordonTime.format(Date())) \(view.id): \(line)\n")
                            lastLine = line
                        }
                        if view.isFinished { return view }
                        if Date() >= deadline { return nil }
                        try await Task.sleep(for: .milliseconds(500))
                    }
                }
                guard let final else {
                    printError("timed out waiting for task \(id)")
                    throw ExitCode(CordonExit.unreachable)
                }
                if json { try printJSON(final) } else { print(TaskText.render(final)) }
                if !final.runs.allSatisfy({ $0.state == .succeeded }) { throw ExitCode(CordonExit.failure) }
            }
        }
    }

    public struct Cancel: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a task on every agent that has not started it.")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Task ID (tk-...).") public var id: String
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let view: TaskView = try await connection.withClient { try await $0.post(APIPath.tasks + "/" + escapePath(id) + "/cancel", body: [String: String]()) }
                print(TaskText.render(view))
            }
        }
    }

    public struct Approve: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "approve", abstract: "Approve a task pushed with --require-approval (by another operator).")
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Task ID (tk-...).") public var id: String
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let view: TaskView = try await connection.withClient { try await $0.post(APIPath.tasks + "/" + escapePath(id) + "/approve", body: [String: String]()) }
                print("Task \(view.id) approved; queued for \(view.runs.filter { $0.state == .queued }.count) agent(s).")
            }
        }
    }

    public struct Export: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a task's signed lists to files, for jump hosts cut off from the coordinator.",
            discussion: """
                Writes one file per agent (AGENT-ID.json) into --out; carry it over and run \
                `cordon-agent apply FILE` there. The agent checks the signature, agent, expiry and \
                sequence as it does online.
                """)
        @OptionGroup public var connection: OperatorOptions
        @Argument(help: "Task ID (tk-...).") public var id: String
        @Option(name: .long, help: ArgumentHelp("Directory to write into.", valueName: "dir")) public var out: String
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let lists: [SignedTaskList] = try await connection.withClient { try await $0.get(APIPath.tasks + "/" + escapePath(id) + "/signed") }
                try SecureFile.makeDirectory(out, mode: 0o700)
                for list in lists {
                    guard let inner = try? CordonJSON.decode(TaskList.self, from: list.payload), CordonName.isValid(inner.agentID) else { continue }
                    let path = (out as NSString).appendingPathComponent("\(inner.agentID).json")
                    try SecureFile.replace(path, contents: try CordonJSON.encode(list, pretty: true), mode: 0o600)
                    print(path)
                }
            }
        }
    }
}

public struct SecretsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Escrowed passwords from rotate-password tasks (every read is audited).",
        subcommands: [Show.self])
    public init() {}

    public struct Show: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Decrypt the newest escrowed password of an account on an agent's jump host.",
            discussion: """
                The coordinator keeps only ciphertext (HPKE to its escrow key) and the last \(5) passwords \
                per account; the read is written to the audit log with your operator name.

                Example:
                  cordon secrets show --agent agt-0123456789abcdef --user root
                """)
        @OptionGroup public var connection: OperatorOptions
        @Option(name: .long, help: ArgumentHelp("Agent ID.", valueName: "id")) public var agent: String
        @Option(name: .long, help: ArgumentHelp("Account name.", valueName: "user")) public var user: String
        @Flag(name: .long, help: "All kept passwords, newest first, not just the newest.") public var all = false
        @Flag(name: .long, help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let secrets: [SecretView] = try await connection.withClient { try await $0.get(APIPath.secrets + query([("agent", agent), ("user", user)])) }
                let shown = all ? secrets : Array(secrets.prefix(1))
                if json { return try printJSON(shown) }
                for s in shown {
                    print(all ? "\(CordonTime.format(s.rotatedAt))  \(s.password)" : s.password)
                }
                if !all { StandardOutput.writeError("\(user)@\(secrets.first?.hostName ?? agent), rotated \(secrets.first.map { CordonTime.format($0.rotatedAt) } ?? "?")\n") }
            }
        }
    }
}

func escapePath(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_."))) ?? s
}

/// The text view of a task.
/// The task file format, for `cordon tasks --help` and `cordon tasks push --help`.
enum TaskFileHelp {
    static let text = """
        A task file is YAML: an optional `description:` (up to 500 bytes) and `tasks:`, a list of \
        1-100 actions. Each action is a mapping with exactly one key, the action's name; its value \
        holds the parameters ({} when none). The vocabulary is closed: no shell strings, and an \
        unknown action or parameter is an error naming it.

          description: Conficker response
          tasks:
            - lock-account: {user: toor}                 # password locked, shell nologin
            - rotate-password: {user: root, length: 24}  # 16-128, escrowed to the coordinator
            - remove-scheduled-task: {id: "cron:3f2a9c0d1e4b5a67", source: /etc/cron.d/sysupdate}
            - purge-at-jobs: {user: alice}               # user optional: every at job
            - block-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}
            - unblock-ports: {tcp: [445], direction: inbound}
            - stop-service: {unit: smbd.service}
            - disable-service: {unit: smbd.service}
            - rescan: {}
            - refresh-inventory: {}
            - restore: {backup: bk-...}

        Each result is changed, unchanged, would-change (dry run), not-found (nothing matched: \
        not a success), failed or refused. `cordon plan --segment S` writes a task file from a \
        segment's findings, leaving out what the agent's local policy would refuse.
        """
}

public enum TaskText {
    public static func render(_ t: TaskView) -> String {
        var lines = [
            "Task \(t.id)\(t.dryRun ? " (dry run)" : ""): \(t.description.map { Terminal.sanitize($0) } ?? "")",
            "Target: \(t.target); pushed \(CordonTime.format(t.createdAt)) by \(t.createdBy); expires \(CordonTime.format(t.expiresAt))",
        ]
        if t.requireApproval { lines.append("Approval: " + (t.approvedBy.map { "by \($0) at \(t.approvedAt.map { CordonTime.format($0) } ?? "?")" } ?? "pending")) }
        lines.append("Actions:")
        for (i, a) in t.actions.enumerated() { lines.append("  \(i + 1). \(a.summary)") }
        for run in t.runs {
            lines.append("")
            lines.append("\(run.agentID) (\(Terminal.sanitize(run.hostName))): \(run.state.rawValue.uppercased()), list \(run.id), sequence \(run.sequence)")
            if let message = run.message { lines.append("  \(Terminal.sanitize(message, limit: 500))") }
            for r in run.results {
                lines.append("  - \(r.action.name): \(r.outcome.rawValue): \(Terminal.sanitize(r.detail, limit: 300))\(r.backupID.map { " [backup \($0)]" } ?? "")")
            }
            lines.append("  " + run.events.map { "\($0.state.rawValue) \(CordonTime.format($0.at))" }.joined(separator: " → "))
        }
        return lines.joined(separator: "\n")
    }
}
