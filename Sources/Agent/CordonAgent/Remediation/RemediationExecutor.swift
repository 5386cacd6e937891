import CordonShared
import Crypto
import Foundation
import Logging

/// Where the executor records its progress, so that a crash in the middle is seen at the next
/// start (`TaskStore`'s journal). Each call must be durable when it returns; if it throws, the
/// action is not run.
public protocol ExecutionJournal: Sendable {
    /// Before action `index` touches anything.
    func willRun(index: Int) throws
    /// A rotated password, sealed to the escrow key, before the system tool sets it: if the
    /// agent dies between the two, the interrupted report still carries it.
    func prepared(secret: EscrowedSecret, index: Int) throws
    /// After action `index`, with its result (and the secret, for a rotation that took effect).
    func didRun(index: Int, result: ActionResult, secret: EscrowedSecret?) throws
}

/// A journal that records nothing (dry-run previews, restores from the CLI).
public struct NoJournal: ExecutionJournal {
    public init() {}
    public func willRun(index: Int) throws {}
    public func prepared(secret: EscrowedSecret, index: Int) throws {}
    public func didRun(index: Int, result: ActionResult, secret: EscrowedSecret?) throws {}
}

/// What a task list did.
public struct ExecutionOutcome: Sendable, Equatable {
    /// `succeeded` or `failed`.
    public var state: TaskState
    public var results: [ActionResult]
    /// Passwords rotated by this list, sealed to the escrow key.
    public var secrets: [EscrowedSecret]
}

/// Carries out the actions of a verified list, in order, through the `RemediationSystem`:
/// each one first looks at the host, says `unchanged` when there is nothing to do, keeps a
/// backup before it changes anything, checks the change took, and stops the list at the first
/// failure (the rest are `skipped`). In a dry run each says what it would do and changes nothing.
public final class RemediationExecutor: Sendable {
    public let system: RemediationSystem
    public let backups: BackupStore
    public let hooks: any RemediationHooks
    let passwords: PasswordGenerator
    let now: @Sendable () -> Date
    let logger: Logger

    public init(system: RemediationSystem, backups: BackupStore, hooks: any RemediationHooks, passwords: PasswordGenerator = PasswordGenerator(),
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.system = system
        self.backups = backups
        self.hooks = hooks
        self.passwords = passwords
        self.now = now
        self.logger = logger
    }

    /// Who is running what: for escrow and the backups' metadata.
    public struct Context: Sendable {
        public var agentID: String
        public var taskID: String?
        public var escrowKey: Curve25519.KeyAgreement.PublicKey?
        public var dryRun: Bool

        public init(agentID: String, taskID: String?, escrowKey: Curve25519.KeyAgreement.PublicKey?, dryRun: Bool) {
            self.agentID = agentID
            self.taskID = taskID
            self.escrowKey = escrowKey
            self.dryRun = dryRun
        }
    }

    /// One action's result, and the password it rotated.
    struct Step: Sendable {
        var result: ActionResult
        var secret: EscrowedSecret?
    }

    // MARK: Policy

    /// The policy's refusals of `actions` (empty: all may run), one line each. Beyond the
    /// policy's own checks this looks up the timers that `remove-scheduled-task` names, so that
    /// a protected unit cannot be disabled under a scheduled-task ID.
    public func refusals(of actions: [TaskAction], policy: RemediationPolicy, context: RemediationPolicy.Context) async -> [Int: String] {
        var refusals: [Int: String] = [:]
        for (index, action) in actions.enumerated() {
            if let reason = policy.refusal(of: action, context: context) { refusals[index] = reason }
        }
        let timerIDs = actions.enumerated().compactMap { index, action -> (Int, String)? in
            if case .removeScheduledTask(let id, _) = action, id.hasPrefix("systemd-timer:"), refusals[index] == nil { return (index, id) }
            return nil
        }
        guard !timerIDs.isEmpty else { return refusals }
        let system = self.system
        let entries = await Blocking.run { system.scheduler.collect().value?.entries ?? [] }
        for (index, id) in timerIDs {
            guard let entry = entries.first(where: { $0.id == id }) else { continue }
            let unit = (entry.source as NSString).lastPathComponent
            if policy.isProtected(unit: unit) { refusals[index] = policy.protectedUnitReason(unit) }
        }
        return refusals
    }

    // MARK: Running a list

    /// Runs `actions` in order. The journal hears of each action before and after it; a journal
    /// that cannot be written stops the list before the next action.
    public func execute(_ actions: [TaskAction], context: Context, journal: any ExecutionJournal) async -> ExecutionOutcome {
        var results: [ActionResult] = []
        var secrets: [EscrowedSecret] = []
        var failedAt: Int?
        for (index, action) in actions.enumerated() {
            if let failedAt {
                results.append(ActionResult(action: action, outcome: .skipped, detail: "not run: action \(failedAt + 1) (\(actions[failedAt].name)) failed"))
                continue
            }
            do { try journal.willRun(index: index) } catch {
                results.append(ActionResult(action: action, outcome: .failed, detail: "not run: the task journal cannot be written: \(error)"))
                failedAt = index
                continue
            }
            let step = await run(action, index: index, context: context, journal: journal)
            results.append(step.result)
            if let secret = step.secret { secrets.append(secret) }
            logger.log(level: step.result.outcome == .failed ? .error : .notice, "remediation action",
                       metadata: ["task.id": "\(context.taskID ?? "local")", "action": "\(action.name)", "outcome": "\(step.result.outcome.rawValue)",
                                  "detail": "\(step.result.detail)", "backup.id": "\(step.result.backupID ?? "")"])
            do { try journal.didRun(index: index, result: step.result, secret: step.secret) } catch {
                logger.error("cannot journal an action's result", metadata: ["task.id": "\(context.taskID ?? "local")", "error": "\(error)"])
                if step.result.outcome != .failed { failedAt = index }
            }
            if step.result.outcome == .failed { failedAt = index }
        }
        // An action that matched nothing did nothing: the list goes on, but it did not succeed.
        let matchedAll = !results.contains { $0.outcome == .notFound }
        return ExecutionOutcome(state: failedAt == nil && matchedAll ? .succeeded : .failed, results: results, secrets: secrets)
    }

    /// One action; never throws: a failure is a `failed` result that names the problem.
    func run(_ action: TaskAction, index: Int, context: Context, journal: any ExecutionJournal) async -> Step {
        switch action {
        case .rescan, .refreshInventory:
            if context.dryRun {
                return Step(result: ActionResult(action: action, outcome: .unchanged,
                                                 detail: "would ask for \(action == .rescan ? "a scan" : "an inventory collection") now (the host is not changed)"))
            }
            do {
                let line = action == .rescan ? try await hooks.requestRescan() : try await hooks.requestInventoryRefresh()
                return Step(result: ActionResult(action: action, outcome: .unchanged, detail: line))
            } catch {
                return Step(result: ActionResult(action: action, outcome: .failed, detail: "\(error)"))
            }
        default:
            return await Blocking.run {
                do {
                    return try self.perform(action, index: index, context: context, journal: journal)
                } catch let failure as ActionFailure {
                    return Step(result: ActionResult(action: action, outcome: .failed, detail: failure.reason, backupID: failure.backupID))
                } catch {
                    return Step(result: ActionResult(action: action, outcome: .failed, detail: "\(error)"))
                }
            }
        }
    }

    /// The blocking part of an action.
    func perform(_ action: TaskAction, index: Int, context: Context, journal: any ExecutionJournal) throws -> Step {
        switch action {
        case .rotatePassword(let user, let length):
            return try rotatePassword(action, user: user, length: length, index: index, context: context, journal: journal)
        case .removeScheduledTask(let id, let source):
            return Step(result: try removeScheduledTask(action, id: id, source: source, context: context))
        case .purgeAtJobs(let user):
            return Step(result: try purgeAtJobs(action, user: user, context: context))
        case .lockAccount(let user):
            return Step(result: try lockAccount(action, user: user, context: context))
        case .blockPorts(let tcp, let udp, let direction):
            return Step(result: try changePorts(action, tcp: tcp, udp: udp, direction: direction, block: true, context: context))
        case .unblockPorts(let tcp, let udp, let direction):
            return Step(result: try changePorts(action, tcp: tcp, udp: udp, direction: direction, block: false, context: context))
        case .stopService(let unit):
            return Step(result: try changeService(action, unit: unit, stop: true, context: context))
        case .disableService(let unit):
            return Step(result: try changeService(action, unit: unit, stop: false, context: context))
        case .restore(let backup):
            return Step(result: try restore(action, backupID: backup, context: context))
        case .rescan, .refreshInventory:
            return Step(result: ActionResult(action: action, outcome: .failed, detail: "internal: hooks run asynchronously"))
        }
    }

    /// Restores a backup outside a task list (`cordon-agent restore`).
    public func restore(backupID: String, agentID: String, dryRun: Bool) async -> ActionResult {
        let action = TaskAction.restore(backup: backupID)
        let context = Context(agentID: agentID, taskID: nil, escrowKey: nil, dryRun: dryRun)
        return await run(action, index: 0, context: context, journal: NoJournal()).result
    }
}

/// A failed action: the reason, and the backup taken before the failure (the host may be
/// partly changed; `restore` puts it back).
struct ActionFailure: Error, CustomStringConvertible {
    var reason: String
    var backupID: String?

    init(_ reason: String, backupID: String? = nil) {
        self.reason = reason
        self.backupID = backupID
    }

    var description: String { reason }
}

/// Runs blocking work (file I/O, subprocesses) on a thread of its own rather than on the
/// cooperative pool, as the inventory does.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
