import CordonShared
import Crypto
import Foundation
import Logging

/// Takes a signed task list from the coordinator or from a file through every check and runs
/// it: the signature with the pinned key, the agent, the expiry, the sequence (persisted before
/// anything runs), the local policy for every action (one refusal refuses the whole list), then
/// the journal, then the actions. The service (`TaskRunner`) and `cordon-agent apply` share it,
/// under the same lock, so that a list runs at most once whichever way it arrives.
public final class TaskProcessor: Sendable {
    public let store: TaskStore
    public let stateDir: AgentStateDir
    public let agentID: String
    public let policyFile: String
    public let executor: RemediationExecutor
    /// Ports the policy keeps open besides its own (the coordinator's).
    public let policyContext: RemediationPolicy.Context
    let now: @Sendable () -> Date
    let logger: Logger

    public init(stateDir: AgentStateDir, agentID: String, policyFile: String, executor: RemediationExecutor,
                policyContext: RemediationPolicy.Context = .init(), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.store = TaskStore(directory: stateDir.tasksDirectory)
        self.stateDir = stateDir
        self.agentID = agentID
        self.policyFile = policyFile
        self.executor = executor
        self.policyContext = policyContext
        self.now = now
        self.logger = logger
    }

    /// The real system, backups in the state directory.
    public static func live(stateDir: AgentStateDir, agentID: String, policyFile: String, coordinatorURL: String?,
                            hooks: any RemediationHooks, logger: Logger) -> TaskProcessor {
        let executor = RemediationExecutor(system: .live(), backups: BackupStore(directory: stateDir.backupsDirectory), hooks: hooks, logger: logger)
        var ports: Set<Int> = []
        if let coordinatorURL, let url = URL(string: coordinatorURL), url.scheme == "https" { ports.insert(url.port ?? 443) }
        return TaskProcessor(stateDir: stateDir, agentID: agentID, policyFile: policyFile, executor: executor,
                             policyContext: .init(coordinatorTCPPorts: ports), logger: logger)
    }

    public enum Mode: Sendable, Equatable {
        /// Verify, record the sequence, journal, run, keep the final status for delivery.
        case run(TaskRecord.Source)
        /// `apply --dry-run-only`: verify and check the policy, then run as a dry run without
        /// recording anything (the sequence stays unused, so the list can still run for real).
        case preview
    }

    public enum Outcome: Sendable, Equatable {
        /// Refused before anything ran. `recorded` when the list is genuinely this agent's (its
        /// signature verified): the refusal is then kept and reported until acknowledged.
        case refused(taskID: String?, update: TaskStatusUpdate, recorded: Bool)
        /// This task ID was handled before; nothing ran again.
        case alreadyHandled(TaskRecord)
        /// The coordinator cancelled it before it ran.
        case cancelled(taskID: String)
        /// It ran; the record holds the final status.
        case finished(TaskRecord)
        /// `preview`: what it would do.
        case previewed(taskID: String, update: TaskStatusUpdate)
    }

    /// Called right before the first action (`running` to the coordinator). Returns false when
    /// the list must not run (the coordinator cancelled it).
    public typealias Announce = @Sendable (TaskList) async -> Bool

    public func process(_ signed: SignedTaskList, mode: Mode, announce: Announce? = nil) async -> Outcome {
        do {
            return try await store.withLock { await self.processLocked(signed, mode: mode, announce: announce) }
        } catch {
            return .refused(taskID: nil, update: TaskStatusUpdate(state: .refused, at: now(), message: "\(error)"), recorded: false)
        }
    }

    /// A refusal of a genuine list is recorded (and reported until acknowledged); `accept` also
    /// records its sequence number, for a list that passed verification.
    private func refused(_ reason: String, list: TaskList?, results: [ActionResult] = [], mode: Mode, accept: Bool = false) -> Outcome {
        let update = TaskStatusUpdate(state: .refused, at: now(), results: results, message: reason)
        logger.warning("task list refused", metadata: ["task.id": "\(list?.id ?? "?")", "reason": "\(reason)"])
        guard let list, case .run(let source) = mode else { return .refused(taskID: list?.id, update: update, recorded: false) }
        do {
            try store.save(.finished(list: list, source: source, update: update, delivered: false))
            if accept { try store.accept(sequence: list.sequence, taskID: list.id, now: now()) }
            return .refused(taskID: list.id, update: update, recorded: true)
        } catch {
            logger.error("cannot record a refusal", metadata: ["task.id": "\(list.id)", "error": "\(error)"])
            return .refused(taskID: list.id, update: update, recorded: false)
        }
    }

    private func processLocked(_ signed: SignedTaskList, mode: Mode, announce: Announce?) async -> Outcome {
        let key: Curve25519.Signing.PublicKey
        let accepted: SequenceSet
        do {
            key = try stateDir.loadTaskSigningKey()
            accepted = try store.acceptedSequences()
        } catch {
            return refused("\(error)", list: nil, mode: mode)
        }
        // Genuine (signature verified) and addressed to this agent: its ID can be trusted for
        // recording and reporting a refusal.
        let genuine: TaskList? = {
            guard signed.payload.count <= 1 << 20, key.isValidSignature(signed.signature, for: signed.payload),
                  let list = try? CordonJSON.decode(TaskList.self, from: signed.payload), list.agentID == agentID else { return nil }
            return list
        }()

        // A list handled before (run, refused, cancelled) is never handled again, whatever its
        // sequence or expiry say now: the same answer is given again.
        if let genuine {
            do {
                if let record = try store.record(genuine.id) { return .alreadyHandled(record) }
            } catch {
                return refused("\(error)", list: nil, mode: mode)
            }
        }
        let list: TaskList
        switch signed.verify(key: key, agentID: agentID, accepted: accepted, now: now()) {
        case .success(let verified):
            list = verified
        case .failure(let refusal):
            if case .badSignature = refusal {
                // Untrusted content: nothing is recorded; the claimed ID is passed on for the log.
                let claimed = try? CordonJSON.decode(TaskList.self, from: signed.payload)
                let update = TaskStatusUpdate(state: .refused, at: now(), message: refusal.reason)
                logger.error("task list with a bad signature refused", metadata: ["task.id": "\(claimed?.id ?? "?")"])
                return .refused(taskID: claimed?.agentID == agentID ? claimed?.id : nil, update: update, recorded: false)
            }
            return refused(refusal.reason, list: genuine, mode: mode)
        }

        // From here the list is genuine, this agent's, unexpired and never accepted before. Its
        // sequence number is recorded right after its record (a refusal or the journal), so
        // that an agent that dies in between either has neither (the list is sent again and
        // runs) or has the record (never run again).
        let policy: RemediationPolicy
        do { policy = try RemediationPolicy.load(path: policyFile) } catch {
            return refused("the local policy cannot be used: \(error)", list: list,
                           results: list.actions.map { ActionResult(action: $0, outcome: .refused, detail: "the local policy file is invalid") }, mode: mode,
                           accept: true)
        }
        let refusals = await executor.refusals(of: list.actions, policy: policy, context: policyContext)
        if !refusals.isEmpty {
            let results = list.actions.enumerated().map { index, action in
                refusals[index].map { ActionResult(action: action, outcome: .refused, detail: $0) }
                    ?? ActionResult(action: action, outcome: .skipped, detail: "not run: the list was refused by the local policy")
            }
            let reasons = refusals.sorted { $0.key < $1.key }.map { "action \($0.key + 1) (\(list.actions[$0.key].name)): \($0.value)" }
            return refused("refused by the local policy, nothing was changed: " + reasons.joined(separator: "; "), list: list, results: results, mode: mode,
                           accept: true)
        }
        let escrowKey = try? stateDir.loadEscrowKey()

        if mode == .preview {
            let context = RemediationExecutor.Context(agentID: agentID, taskID: list.id, escrowKey: escrowKey, dryRun: true)
            let outcome = await executor.execute(list.actions, context: context, journal: NoJournal())
            return .previewed(taskID: list.id, update: TaskStatusUpdate(state: outcome.state, at: now(), results: outcome.results,
                                                                       message: "preview (dry run): " + Self.summary(outcome)))
        }
        guard case .run(let source) = mode else { return refused("internal: unknown mode", list: nil, mode: mode) }

        let journal = RecordJournal(store: store, record: TaskRecord(list: list, source: source, startedAt: now()))
        do { try journal.persist() } catch {
            return refused("cannot write the task journal, so the list does not run: \(error)", list: list, mode: mode)
        }
        do { try store.accept(sequence: list.sequence, taskID: list.id, now: now()) } catch {
            // The record says running; replace it with the refusal: nothing ran.
            return refused("cannot record the sequence number, so the list does not run: \(error)", list: list, mode: mode)
        }
        if let announce, await !announce(list) {
            let update = TaskStatusUpdate(state: .cancelled, at: now(), message: "cancelled by the coordinator before it ran; nothing was changed")
            try? store.save(.finished(list: list, source: source, update: update, delivered: true))
            logger.notice("task cancelled before it ran", metadata: ["task.id": "\(list.id)"])
            return .cancelled(taskID: list.id)
        }
        logger.notice("running task list", metadata: ["task.id": "\(list.id)", "sequence": "\(list.sequence)", "actions": "\(list.actions.count)",
                                                      "dry.run": "\(list.dryRun)", "issued.by": "\(list.issuedBy)"])
        let context = RemediationExecutor.Context(agentID: agentID, taskID: list.id, escrowKey: escrowKey, dryRun: list.dryRun)
        let outcome = await executor.execute(list.actions, context: context, journal: journal)
        let update = TaskStatusUpdate(state: outcome.state, at: now(), results: outcome.results,
                                      message: (list.dryRun ? "dry run: " : "") + Self.summary(outcome), secrets: outcome.secrets)
        let record = journal.finish(update)
        do { try journal.persist() } catch {
            // The journal still says running: the next start reports it as interrupted, with
            // every result the journal has.
            logger.error("cannot record a task's final status", metadata: ["task.id": "\(list.id)", "error": "\(error)"])
        }
        store.prune()
        return .finished(record)
    }

    static func summary(_ outcome: ExecutionOutcome) -> String {
        if let failed = outcome.results.firstIndex(where: { $0.outcome == .failed }) {
            return "action \(failed + 1) (\(outcome.results[failed].action.name)) failed: \(outcome.results[failed].detail)"
        }
        if let missing = outcome.results.firstIndex(where: { $0.outcome == .notFound }) {
            let count = outcome.results.filter { $0.outcome == .notFound }.count
            return "action \(missing + 1) (\(outcome.results[missing].action.name)) matched nothing on this host: \(outcome.results[missing].detail)"
                + (count > 1 ? " (and \(count - 1) more matched nothing)" : "")
        }
        var counts: [String: Int] = [:]
        for result in outcome.results { counts[result.outcome.rawValue, default: 0] += 1 }
        return "\(outcome.results.count) action\(outcome.results.count == 1 ? "" : "s"): "
            + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    // MARK: Start-up

    /// Journal entries still marked running belong to a task the agent was killed in the middle
    /// of: each becomes `interrupted` (with what was done, and any password sealed before the
    /// agent stopped), queued for delivery, and is never run again.
    @discardableResult
    public func recoverInterrupted() async throws -> [TaskRecord] {
        try await store.withLock {
            let (records, unreadable) = store.allRecords()
            for path in unreadable { logger.error("unreadable task record", metadata: ["path": "\(path)"]) }
            var recovered: [TaskRecord] = []
            for record in records where record.phase == .running {
                let finished = interrupted(record)
                try store.save(finished)
                logger.warning("task interrupted by an agent stop; not run again",
                               metadata: ["task.id": "\(record.taskID)", "message": "\(finished.final?.message ?? "")"])
                recovered.append(finished)
            }
            return recovered
        }
    }

    func interrupted(_ record: TaskRecord) -> TaskRecord {
        var record = record
        var results = record.results
        let done = results.count
        let leftover = executor.backups.list().filter { backup in
            backup.taskID == record.taskID && !record.results.contains { $0.backupID == backup.id }
        }.map(\.id)
        for index in done..<record.actions.count {
            let action = record.actions[index]
            if index == record.inFlight {
                let backups = leftover.isEmpty ? "" : "; backup \(leftover.joined(separator: ", ")) was taken before it"
                results.append(ActionResult(action: action, outcome: .failed,
                                            detail: "interrupted: the agent stopped while this action ran; it may be partly done\(backups)",
                                            backupID: leftover.last))
            } else {
                results.append(ActionResult(action: action, outcome: .skipped, detail: "not run: the agent stopped before it"))
            }
        }
        var secrets = record.secrets
        var message: String
        if done == record.actions.count {
            // Every action finished; only the final write was lost.
            let outcome = ExecutionOutcome(state: results.contains { $0.outcome == .failed } ? .failed : .succeeded, results: results, secrets: secrets)
            message = "the agent stopped after the last action, before recording the end; " + Self.summary(outcome)
            record.final = TaskStatusUpdate(state: outcome.state, at: now(), results: results, message: message, secrets: secrets)
        } else {
            let at = record.inFlight ?? done
            message = "the agent stopped \(record.inFlight == nil ? "before" : "during") action \(at + 1) (\(record.actions[at].name))"
                + " and did not run the list again; \(done) action\(done == 1 ? " was" : "s were") done before"
            if let pending = record.pendingSecret {
                secrets.append(pending)
                message += "; the new password of \(pending.user) had been sealed and is included: the rotation may or may not have taken effect"
            }
            record.final = TaskStatusUpdate(state: .interrupted, at: now(), results: results, message: message, secrets: secrets)
        }
        record.phase = .finished
        record.inFlight = nil
        record.pendingSecret = nil
        record.delivered = false
        return record
    }
}

/// The journal of one running list: the record, persisted at every step.
final class RecordJournal: ExecutionJournal, @unchecked Sendable {
    private let lock = NSLock()
    private let store: TaskStore
    private var record: TaskRecord

    init(store: TaskStore, record: TaskRecord) {
        self.store = store
        self.record = record
    }

    func persist() throws {
        try lock.withLock { try store.save(record) }
    }

    private func update(_ change: (inout TaskRecord) -> Void) throws {
        try lock.withLock {
            change(&record)
            try store.save(record)
        }
    }

    func willRun(index: Int) throws {
        try update { $0.inFlight = index }
    }

    func prepared(secret: EscrowedSecret, index: Int) throws {
        try update { $0.pendingSecret = secret }
    }

    func didRun(index: Int, result: ActionResult, secret: EscrowedSecret?) throws {
        try update {
            $0.results.append(result)
            if let secret { $0.secrets.append(secret) }
            $0.pendingSecret = nil
            $0.inFlight = nil
        }
    }

    func finish(_ update: TaskStatusUpdate) -> TaskRecord {
        lock.withLock {
            record.phase = .finished
            record.final = update
            record.inFlight = nil
            record.pendingSecret = nil
            return record
        }
    }
}
