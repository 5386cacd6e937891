import ArgumentParser
import CordonShared
import Crypto
import Foundation
import Logging

/// What `cordon-agent apply --json` prints.
public struct ApplyReport: Codable, Sendable, Equatable {
    /// `finished`, `refused`, `already-handled`, `cancelled` or `previewed`.
    public var outcome: String
    public var taskID: String?
    public var state: TaskState?
    public var message: String?
    public var results: [ActionResult]
    /// Rotated passwords, sealed to the coordinator's escrow key (only the coordinator opens them).
    public var secrets: [EscrowedSecret]
    /// Tasks an earlier run was killed in the middle of, reported now as interrupted.
    public var interrupted: [String]

    init(_ outcome: TaskProcessor.Outcome, interrupted: [String]) {
        switch outcome {
        case .refused(let taskID, let update, _):
            self.init(outcome: "refused", taskID: taskID, update: update, interrupted: interrupted)
        case .alreadyHandled(let record):
            let state = record.state.map { $0.rawValue } ?? "unknown"
            var update = record.final ?? TaskStatusUpdate(state: record.state ?? .running, at: record.startedAt)
            update.message = "task \(record.taskID) was already handled (\(state)); nothing was run again"
                + (record.final?.message.map { ". Then: \($0)" } ?? "")
            self.init(outcome: "already-handled", taskID: record.taskID, update: update, interrupted: interrupted)
        case .cancelled(let taskID):
            self.init(outcome: "cancelled", taskID: taskID, update: TaskStatusUpdate(state: .cancelled, at: Date(), message: "cancelled before it ran"),
                      interrupted: interrupted)
        case .finished(let record):
            self.init(outcome: "finished", taskID: record.taskID, update: record.final ?? TaskStatusUpdate(state: .running, at: Date()),
                      interrupted: interrupted)
        case .previewed(let taskID, let update):
            self.init(outcome: "previewed", taskID: taskID, update: update, interrupted: interrupted)
        }
    }

    private init(outcome: String, taskID: String?, update: TaskStatusUpdate, interrupted: [String]) {
        self.outcome = outcome
        self.taskID = taskID
        self.state = update.state
        self.message = update.message
        self.results = update.results
        self.secrets = update.secrets
        self.interrupted = interrupted
    }

    /// 0 when it ran (or had run) without failure; 4 refused; 1 failed.
    var exitCode: Int32 {
        switch (outcome, state) {
        case ("refused", _): AgentExit.refused
        case ("already-handled", _), ("cancelled", _): 0
        case (_, .failed?), (_, .interrupted?): AgentExit.failure
        default: 0
        }
    }

    func render() -> String {
        var lines: [String] = []
        for id in interrupted { lines.append("note: task \(id) was interrupted by an earlier agent stop; reported as interrupted, not run again") }
        lines.append("task \(taskID.map { Terminal.sanitize($0, limit: 100) } ?? "(unknown)"): \(outcome)\(state.map { " (\($0.rawValue))" } ?? "")")
        if let message { lines.append(Terminal.sanitize(message, limit: 4000)) }
        if !results.isEmpty {
            var table = TextTable(["#", "ACTION", "OUTCOME", "BACKUP", "DETAIL"])
            for (index, result) in results.enumerated() {
                table.add([String(index + 1), result.action.name, result.outcome.rawValue, result.backupID ?? "-", Terminal.sanitize(result.detail, limit: 300)])
            }
            lines.append(table.render())
        }
        if !secrets.isEmpty {
            lines.append("escrowed: \(secrets.map(\.user).joined(separator: ", ")) (sealed to the coordinator's escrow key; reported when the coordinator is reachable)")
        }
        return lines.joined(separator: "\n")
    }
}

/// `cordon-agent apply FILE`: runs a signed task list from a file.
public struct ApplyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a signed task list from a file (a segment cut off from the coordinator).",
        discussion: """
            FILE is a signed task list as `cordon tasks export` writes it (AGENT-ID.json). It goes \
            through exactly what a list from the coordinator goes through: the signature with the \
            pinned task key, this agent's ID, the expiry, the sequence number (recorded before \
            anything runs, so the list runs once), the local policy for every action, the journal \
            and a backup before every change. The result is kept and reported to the coordinator \
            when the agent service next reaches it. Running the same list again changes nothing.

            Exit status: 0 done (or done before), 1 an action failed, 4 refused, 2 usage, 6 not enrolled.

            Examples:
              cordon-agent apply /media/usb/jump-dmz.json --dry-run-only
              cordon-agent apply /media/usb/jump-dmz.json
            """)

    @OptionGroup public var options: AgentConfigOptions

    @Argument(help: ArgumentHelp("The signed task list (JSON).", valueName: "file"))
    public var file: String

    @Flag(name: .long, help: "Check it and say what it would do, change nothing; the list stays unused and can still run for real.")
    public var dryRunOnly = false

    @Flag(name: .long, help: "Print JSON.")
    public var json = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    public var logLevel: String = "warning"

    public init() {}

    public func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
    }

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let logger = agentLogger(level: logLevel)
            let stateDir = AgentStateDir(config.stateDir)
            let enrollment = try stateDir.loadEnrollment()
            let bytes: Data
            do { bytes = try SecureFile.read(file, limit: 4 << 20) } catch let error as CordonError {
                throw CordonError.invalidArgument("cannot read \(file): \(error.reason)")
            }
            let signed: SignedTaskList
            do { signed = try CordonJSON.decode(SignedTaskList.self, from: bytes) } catch {
                throw CordonError.invalidArgument("\(file) is not a signed task list (cordon tasks export writes one): \(CordonJSON.describe(error))")
            }
            let processor = TaskProcessor.live(stateDir: stateDir, agentID: enrollment.agentID, policyFile: config.policyFile,
                                               coordinatorURL: config.coordinator ?? enrollment.coordinator, hooks: OfflineRemediationHooks(), logger: logger)
            let interrupted = try await processor.recoverInterrupted().map(\.taskID)
            let outcome = await processor.process(signed, mode: dryRunOnly ? .preview : .run(.file))
            if !dryRunOnly, case .refused(_, let update, recorded: false) = outcome {
                // Untrusted (a bad signature, another agent's list): kept apart from the task
                // records and reported by the agent service on its next contact.
                let claimed = try? CordonJSON.decode(TaskList.self, from: signed.payload)
                let refusal = LocalRefusal(id: "lr-" + UUID().uuidString.lowercased(), at: Date(), source: "apply",
                                           file: URL(fileURLWithPath: file).standardizedFileURL.path,
                                           fileSHA256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
                                           claimedTaskID: claimed?.id, claimedAgentID: claimed?.agentID, reason: update.message ?? "refused")
                do { try processor.store.saveLocalRefusal(refusal) } catch {
                    logger.error("cannot keep the refusal for the coordinator", metadata: ["error": "\(error)"])
                }
            }
            let report = ApplyReport(outcome, interrupted: interrupted)
            if json { try printAgentJSON(report) } else { print(report.render()) }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }
}

/// `cordon-agent restore BACKUP-ID`: puts a remediation backup back, here and now.
public struct RestoreCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put back what a remediation action changed, from its backup.",
        discussion: """
            Restores a crontab line, at jobs, a timer's or service's state, the inet cordon \
            table or a previous password hash. Restoring what is already there changes nothing. \
            What a restore overwrites is backed up first. List backups with `cordon-agent backups`.

            Example:
              cordon-agent restore bk-20250115-120000-a1b2c3d4
            """)

    @OptionGroup public var options: AgentConfigOptions

    @Argument(help: ArgumentHelp("The backup to restore (bk-...).", valueName: "backup-id"))
    public var backupID: String

    @Flag(name: .long, help: "Say what it would do, change nothing.")
    public var dryRun = false

    @Flag(name: .long, help: "Print JSON.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard TaskAction.isBackupID(backupID) else { throw ValidationError("\(backupID.prefix(80)) is not a backup ID (bk-...)") }
    }

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let stateDir = AgentStateDir(config.stateDir)
            let agentID = (try? stateDir.loadEnrollment().agentID) ?? "local"
            let logger = agentLogger(level: "warning")
            let executor = RemediationExecutor(system: .live(), backups: BackupStore(directory: stateDir.backupsDirectory),
                                               hooks: OfflineRemediationHooks(), logger: logger)
            // Under the tasks lock: never in the middle of a running list.
            let result = try await TaskStore(directory: stateDir.tasksDirectory).withLock(timeout: .seconds(60)) {
                await executor.restore(backupID: backupID, agentID: agentID, dryRun: dryRun)
            }
            if json {
                try printAgentJSON(result)
            } else {
                print("\(result.outcome.rawValue): \(Terminal.sanitize(result.detail, limit: 2000))"
                      + (result.backupID.map { " (what it replaced is in backup \($0))" } ?? ""))
            }
            if result.outcome == .failed { throw ExitCode(AgentExit.failure) }
        }
    }
}

/// `cordon-agent backups`: the remediation backups kept on this host.
public struct BackupsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List the backups remediation kept (newest first).",
        discussion: """
            Each changing action keeps one; `cordon-agent restore ID` puts it back. Backups stay \
            in the state directory (0700) until removed by hand.

            Example:
              cordon-agent backups --json
            """)

    @OptionGroup public var options: AgentConfigOptions

    @Flag(name: .long, help: "Print JSON.")
    public var json = false

    public init() {}

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let backups = BackupStore(directory: AgentStateDir(config.stateDir).backupsDirectory).list()
            if json {
                try printAgentJSON(backups)
                return
            }
            guard !backups.isEmpty else {
                print("no backups")
                return
            }
            var table = TextTable(["ID", "CREATED", "KIND", "TASK", "WHAT WAS THERE"])
            for backup in backups {
                table.add([backup.id, CordonTime.format(backup.createdAt), backup.kind.rawValue, Terminal.sanitize(backup.taskID ?? "local", limit: 40),
                           Terminal.sanitize(backup.summary, limit: 120)])
            }
            print(table.render())
        }
    }
}
