import CordonShared
import Foundation
import GRDB

/// What became of an agent's status update.
public enum TaskUpdateOutcome: Sendable, Equatable {
    case accepted(TaskState)
    /// The run was cancelled (or is already final in another state): the agent must not run it.
    case conflict(String)
    case notFound
}

extension CoordinatorDatabase {
    /// How many escrowed passwords are kept per agent and account.
    public static let secretsKept = 5

    /// Creates a task and one run per target agent, each with the agent's next sequence
    /// number. Unless approval is required, each run is signed and queued at once.
    public func pushTask(_ request: TaskPushRequest, actor: String, now: Date = Date(),
                         sign: (TaskList) throws -> SignedTaskList) throws -> TaskView {
        let queued = try queueTask(request, actor: actor, now: now, sign: sign)
        guard let view = try task(id: queued.taskID) else { throw CoordinatorError.storage("task \(queued.taskID) vanished") }
        return view
    }

    /// `pushTask` without building the view: the task's ID and, for each agent whose run was
    /// queued (none when it awaits approval), its signed list, known as soon as the transaction
    /// commits.
    public func queueTask(_ request: TaskPushRequest, actor: String, now: Date = Date(),
                          sign: (TaskList) throws -> SignedTaskList) throws -> (taskID: String, lists: [(agentID: String, signedJSON: Data)]) {
        try request.file.validate(origin: "task file")
        guard request.expiresIn >= 10, request.expiresIn <= 7 * 86400 else { throw CordonError.invalidArgument("expiry must be between 10s and 7d") }
        let taskID = "tk-" + Self.randomHex(bytes: 8)
        let queued: [(agentID: String, signedJSON: Data)] = try write { db in
            // The agents' IDs and each one's last sequence number (two queries for a segment of
            // any size; whole agent rows, facts included, and a query per agent cost a segment
            // of 10,000 over a second).
            let agents: [String]
            var lastSequence: [String: Int64] = [:]
            switch request.target {
            case .agent(let id):
                guard let agent = try AgentRecord.fetchOne(db, key: id) else { throw CoordinatorError.notFound("no agent with ID \(id)") }
                guard agent.revokedAt == nil else { throw CoordinatorError.conflict("agent \(id) is revoked") }
                agents = [agent.id]
                lastSequence[id] = try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM taskRun WHERE agentID = ?", arguments: [id])
            case .segment(let name):
                agents = try String.fetchAll(db, sql: "SELECT id FROM agent WHERE segment = ? AND revokedAt IS NULL ORDER BY id", arguments: [name])
                guard !agents.isEmpty else { throw CoordinatorError.notFound("segment \(name) has no enrolled, unrevoked agents") }
                for row in try Row.fetchAll(db, sql: """
                    SELECT taskRun.agentID, MAX(taskRun.sequence) AS last FROM taskRun JOIN agent ON agent.id = taskRun.agentID
                    WHERE agent.segment = ? GROUP BY taskRun.agentID
                    """, arguments: [name]) {
                    lastSequence[row["agentID"]] = row["last"]
                }
            }
            let expiresAt = now.addingTimeInterval(request.expiresIn)
            try TaskRecord(id: taskID, description: request.file.description, target: request.target.description,
                           actionsJSON: try CordonJSON.encode(request.file.tasks), dryRun: request.dryRun, createdAt: now, createdBy: actor,
                           requireApproval: request.requireApproval, approvedBy: nil, approvedAt: nil, expiresAt: expiresAt).insert(db)
            var queuedLists: [(agentID: String, signedJSON: Data)] = []
            for agent in agents {
                let last = lastSequence[agent] ?? 0
                var run = TaskRunRecord(id: "tl-" + Self.randomHex(bytes: 8), taskID: taskID, agentID: agent, sequence: last + 1,
                                        state: TaskState.pendingApproval.rawValue, signedJSON: nil, updatedAt: now, message: nil, resultsJSON: nil)
                if !request.requireApproval {
                    run.signedJSON = try Self.signedRun(run, actions: request.file.tasks, description: request.file.description,
                                                        dryRun: request.dryRun, issuedBy: actor, now: now, expiresAt: expiresAt, sign: sign)
                    run.state = TaskState.queued.rawValue
                    if let signed = run.signedJSON { queuedLists.append((agent, signed)) }
                }
                try run.insert(db)
                try Self.event(db, run: run.id, at: now, state: TaskState(rawValue: run.state) ?? .queued, message: "pushed by \(actor)")
            }
            try Self.audit(db, at: now, actor: actor, action: "task.push", target: request.target.description,
                           detail: "\(taskID): \(request.file.tasks.map(\.summary).joined(separator: "; "))\(request.dryRun ? " (dry run)" : "")\(request.requireApproval ? " (awaiting approval)" : "")")
            return queuedLists
        }
        return (taskID, queued)
    }

    static func signedRun(_ run: TaskRunRecord, actions: [TaskAction], description: String?, dryRun: Bool, issuedBy: String, now: Date,
                          expiresAt: Date, sign: (TaskList) throws -> SignedTaskList) throws -> Data {
        let list = TaskList(id: run.id, agentID: run.agentID, sequence: run.sequence, issuedAt: now, expiresAt: expiresAt, dryRun: dryRun,
                            description: description, actions: actions, issuedBy: issuedBy)
        return try CordonJSON.encode(try sign(list))
    }

    /// Two-person rule: a different operator approves; the runs are then signed and queued.
    public func approveTask(id: String, actor: String, now: Date = Date(), sign: (TaskList) throws -> SignedTaskList) throws -> TaskView {
        try write { db in
            guard var task = try TaskRecord.fetchOne(db, key: id) else { throw CoordinatorError.notFound("no task \(id)") }
            guard task.requireApproval else { throw CoordinatorError.conflict("task \(id) does not need approval") }
            guard task.approvedBy == nil else { throw CoordinatorError.conflict("task \(id) was already approved by \(task.approvedBy ?? "?")") }
            guard actor != task.createdBy else {
                throw CoordinatorError.forbidden("the two-person rule: \(actor) pushed task \(id) and cannot approve it; another operator must")
            }
            guard task.expiresAt > now else { throw CoordinatorError.conflict("task \(id) has expired") }
            try Self.expireOverdue(db, now: now)
            let runs = try TaskRunRecord.filter(Column("taskID") == id).fetchAll(db)
            guard runs.contains(where: { $0.state == TaskState.pendingApproval.rawValue }) else {
                let states = Dictionary(grouping: runs, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
                throw CoordinatorError.conflict("task \(id) has nothing awaiting approval (its runs are \(states.isEmpty ? "none" : states)); nothing was approved")
            }
            let actions = try CordonJSON.decode([TaskAction].self, from: task.actionsJSON)
            task.approvedBy = actor
            task.approvedAt = now
            try task.update(db)
            for var run in try TaskRunRecord.filter(Column("taskID") == id && Column("state") == TaskState.pendingApproval.rawValue).fetchAll(db) {
                run.signedJSON = try Self.signedRun(run, actions: actions, description: task.description, dryRun: task.dryRun,
                                                    issuedBy: "\(task.createdBy), approved by \(actor)", now: now, expiresAt: task.expiresAt, sign: sign)
                run.state = TaskState.queued.rawValue
                run.updatedAt = now
                try run.update(db)
                try Self.event(db, run: run.id, at: now, state: .queued, message: "approved by \(actor)")
            }
            try Self.audit(db, at: now, actor: actor, action: "task.approve", target: "task:\(id)", detail: "pushed by \(task.createdBy)")
        }
        return try task(id: id)!
    }

    /// Cancels every run that has not started. Running and finished runs are left as they are.
    public func cancelTask(id: String, actor: String, now: Date = Date()) throws -> TaskView {
        try write { db in
            guard try TaskRecord.fetchOne(db, key: id) != nil else { throw CoordinatorError.notFound("no task \(id)") }
            var cancelled = 0, running = 0
            for var run in try TaskRunRecord.filter(Column("taskID") == id).fetchAll(db) {
                switch TaskState(rawValue: run.state) {
                case .pendingApproval, .queued, .delivered:
                    run.state = TaskState.cancelled.rawValue
                    run.updatedAt = now
                    try run.update(db)
                    try Self.event(db, run: run.id, at: now, state: .cancelled, message: "cancelled by \(actor)")
                    cancelled += 1
                case .running: running += 1
                default: break
                }
            }
            guard cancelled > 0 else {
                throw CoordinatorError.conflict(running > 0 ? "task \(id) is already running everywhere it has not finished; it cannot be cancelled" : "task \(id) has nothing left to cancel")
            }
            try Self.audit(db, at: now, actor: actor, action: "task.cancel", target: "task:\(id)",
                           detail: "\(cancelled) run(s) cancelled\(running > 0 ? ", \(running) already running" : "")")
        }
        return try task(id: id)!
    }

    /// The next run for an agent: the oldest one it has not started (queued, or delivered and
    /// not yet begun). Handing a list to a poll changes nothing here: the run becomes
    /// `delivered` only when the agent says it arrived, so that a list written to a poll that
    /// nobody reads any more (the agent stopped while its poll was held) goes to the next poll
    /// at once. The agent's own records make a second copy harmless: a list it has handled is
    /// answered with its status, never run again.
    ///
    /// Most polls find nothing, so the look is a read: a fleet's polls do not queue for the one
    /// writer (a stopping coordinator answers every held poll at once, and each of those used
    /// to be a write transaction). Only a run whose list has expired takes the writer, to mark
    /// it (and every other overdue run) expired before looking again.
    public func nextTaskRun(agentID: String, now: Date = Date()) throws -> SignedTaskList? {
        try nextTaskRunJSON(agentID: agentID, now: now).map { try CordonJSON.decode(SignedTaskList.self, from: $0) }
    }

    /// `nextTaskRun` as the stored JSON of the signed list (what the poll answers, as is).
    public func nextTaskRunJSON(agentID: String, now: Date = Date()) throws -> Data? {
        guard let next = try read({ db in try Self.nextRun(db, agentID: agentID) }) else { return nil }
        if next.expiresAt > now { return next.signedJSON }
        return try write { db in
            try Self.expireOverdue(db, now: now)
            return try Self.nextRun(db, agentID: agentID)?.signedJSON
        }
    }

    /// The agent's oldest run not yet started, with its task's expiry.
    private static func nextRun(_ db: Database, agentID: String) throws -> (signedJSON: Data?, expiresAt: Date)? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT taskRun.signedJSON, task.expiresAt FROM taskRun JOIN task ON task.id = taskRun.taskID
            WHERE taskRun.agentID = ? AND taskRun.state IN ('queued', 'delivered')
            ORDER BY taskRun.sequence LIMIT 1
            """), arguments: [agentID]).map { (signedJSON: $0["signedJSON"], expiresAt: $0["expiresAt"]) }
    }

    /// Records what an agent says about one of its runs.
    public func updateTaskRun(agentID: String, runID: String, update: TaskStatusUpdate, now: Date = Date()) throws -> TaskUpdateOutcome {
        try write { db in
            guard var run = try TaskRunRecord.cachedFetchOne(db, where: "id", is: runID), run.agentID == agentID else { return .notFound }
            let current = TaskState(rawValue: run.state) ?? .queued
            switch update.state {
            case .pendingApproval, .queued, .cancelled, .expired:
                return .conflict("an agent cannot set a task to \(update.state.rawValue)")
            case .delivered:
                // The agent's acknowledgement of receipt.
                switch current {
                case .queued: break
                case .delivered: return .accepted(.delivered)
                case .cancelled: return .conflict("task \(runID) was cancelled; do not run it")
                default: return .conflict("task \(runID) is already \(current.rawValue)")
                }
            case .running:
                switch current {
                case .queued, .delivered: break
                case .running: return .accepted(.running)
                case .cancelled: return .conflict("task \(runID) was cancelled; do not run it")
                default: return .conflict("task \(runID) is already \(current.rawValue)")
                }
            case .succeeded, .failed, .refused, .interrupted:
                if current == update.state { return .accepted(current) }  // a re-sent final status
                if current == .cancelled || (current.isFinal && current != .expired) {
                    return .conflict("task \(runID) is already \(current.rawValue)")
                }
            }
            run.state = update.state.rawValue
            run.updatedAt = now
            run.message = update.message.map { Terminal.sanitize($0, limit: 4000) }
            if !update.results.isEmpty { run.resultsJSON = try CordonJSON.encode(Array(update.results.prefix(TaskFile.maxActions))) }
            try run.update(db)
            try Self.event(db, run: run.id, at: now, state: update.state, message: run.message ?? (update.state == .delivered ? "received by the agent" : nil))
            // Escrowed passwords only for the accounts this run was sent to rotate: an agent
            // cannot push junk in front of genuine escrowed passwords.
            guard !update.secrets.isEmpty else { return .accepted(update.state) }
            let task = try TaskRecord.cachedFetchOne(db, where: "id", is: run.taskID)
            let rotated = Set(((task.flatMap { try? CordonJSON.decode([TaskAction].self, from: $0.actionsJSON) }) ?? []).compactMap { action -> String? in
                if case .rotatePassword(let user, _) = action { return user }
                return nil
            })
            for secret in update.secrets.prefix(TaskFile.maxActions) where rotated.contains(secret.user)
                && secret.ciphertext.count <= 4096 && secret.encapsulatedKey.count == 32 {
                var row = SecretRecord(id: nil, agentID: agentID, user: secret.user, runID: runID, rotatedAt: secret.rotatedAt,
                                       encapsulatedKey: secret.encapsulatedKey, ciphertext: secret.ciphertext)
                try row.insert(db)
                let keep = try Int64.fetchAll(db, sql: "SELECT id FROM secret WHERE agentID = ? AND user = ? ORDER BY rotatedAt DESC, id DESC LIMIT ?",
                                              arguments: [agentID, secret.user, Self.secretsKept])
                try db.execute(sql: "DELETE FROM secret WHERE agentID = ? AND user = ? AND id NOT IN (\(keep.map(String.init).joined(separator: ",")))",
                               arguments: [agentID, secret.user])
            }
            return .accepted(update.state)
        }
    }

    /// Runs not finished by their task's expiry become expired.
    static func expireOverdue(_ db: Database, now: Date) throws {
        let overdue = try TaskRunRecord.fetchAll(db, sql: """
            SELECT taskRun.* FROM taskRun JOIN task ON task.id = taskRun.taskID
            WHERE task.expiresAt <= ? AND taskRun.state IN ('pending-approval', 'queued', 'delivered')
            """, arguments: [now])
        for var run in overdue {
            run.state = TaskState.expired.rawValue
            run.updatedAt = now
            try run.update(db)
            try event(db, run: run.id, at: now, state: .expired, message: nil)
        }
    }

    public func expireOverdueTasks(now: Date = Date()) throws {
        try write { db in try Self.expireOverdue(db, now: now) }
    }

    static func event(_ db: Database, run: String, at: Date, state: TaskState, message: String?) throws {
        var event = TaskEventRecord(id: nil, runID: run, at: at, state: state.rawValue, message: message)
        try event.insert(db)
    }

    public func task(id: String) throws -> TaskView? {
        try read { db in
            guard let task = try TaskRecord.fetchOne(db, key: id) else { return nil }
            return try Self.view(db, task)
        }
    }

    /// Tasks, newest first, optionally only those touching an agent or a segment.
    public func tasks(agentID: String? = nil, segment: String? = nil, limit: Int = 100) throws -> [TaskView] {
        try read { db in
            var tasks = try TaskRecord.order(Column("createdAt").desc).limit(max(1, min(limit, 1000))).fetchAll(db).map { try Self.view(db, $0) }
            if let agentID { tasks = tasks.filter { $0.runs.contains { $0.agentID == agentID } } }
            if let segment {
                let agents = Set(try String.fetchAll(db, sql: "SELECT id FROM agent WHERE segment = ?", arguments: [segment]))
                tasks = tasks.filter { $0.runs.contains { agents.contains($0.agentID) } }
            }
            return tasks
        }
    }

    static func view(_ db: Database, _ task: TaskRecord) throws -> TaskView {
        let names = try AgentRecord.fetchAll(db).reduce(into: [String: String]()) { $0[$1.id] = $1.hostname }
        let runs = try TaskRunRecord.filter(Column("taskID") == task.id).order(Column("agentID")).fetchAll(db).map { run in
            let events = try TaskEventRecord.filter(Column("runID") == run.id).order(Column("id")).fetchAll(db).map {
                TaskEvent(at: $0.at, state: TaskState(rawValue: $0.state) ?? .queued, message: $0.message)
            }
            let results = run.resultsJSON.flatMap { try? CordonJSON.decode([ActionResult].self, from: $0) } ?? []
            return TaskRunView(id: run.id, agentID: run.agentID, hostName: names[run.agentID] ?? "?", sequence: run.sequence,
                               state: TaskState(rawValue: run.state) ?? .queued, updatedAt: run.updatedAt, message: run.message,
                               results: results, events: events)
        }
        return TaskView(id: task.id, description: task.description, target: task.target,
                        actions: (try? CordonJSON.decode([TaskAction].self, from: task.actionsJSON)) ?? [], dryRun: task.dryRun,
                        createdAt: task.createdAt, createdBy: task.createdBy, requireApproval: task.requireApproval,
                        approvedBy: task.approvedBy, approvedAt: task.approvedAt, expiresAt: task.expiresAt, runs: runs)
    }

    /// The escrowed secrets of an account on an agent, newest first, after writing the audit
    /// record of the read (no audit, no secret).
    public func escrowedSecrets(agentID: String, user: String, actor: String, now: Date = Date()) throws -> (hostName: String, secrets: [EscrowedSecret], runIDs: [String]) {
        try write { db in
            guard let agent = try AgentRecord.fetchOne(db, key: agentID) else { throw CoordinatorError.notFound("no agent with ID \(agentID)") }
            let rows = try SecretRecord.filter(Column("agentID") == agentID && Column("user") == user)
                .order(Column("rotatedAt").desc, Column("id").desc).fetchAll(db)
            guard !rows.isEmpty else { throw CoordinatorError.notFound("no escrowed password for \(user) on \(agentID)") }
            try Self.audit(db, at: now, actor: actor, action: "secret.read", target: "agent:\(agentID)", detail: "account \(user), \(rows.count) escrowed password(s)")
            return (agent.hostname, rows.map { EscrowedSecret(user: $0.user, encapsulatedKey: $0.encapsulatedKey, ciphertext: $0.ciphertext, rotatedAt: $0.rotatedAt) },
                    rows.map(\.runID))
        }
    }
}

extension CoordinatorDatabase {
    /// Records a list an agent refused before trusting it: an audit entry (once per refusal
    /// ID), and a note on the run it claims to be when that run is this agent's. Returns false
    /// for a refusal recorded before.
    public func recordLocalRefusal(agentID: String, _ refusal: LocalRefusal, now: Date = Date()) throws -> Bool {
        try write { db in
            let target = "refusal:\(refusal.id)"
            guard try AuditRecord.filter(Column("target") == target).fetchCount(db) == 0 else { return false }
            let claim = [refusal.claimedTaskID.map { "claims task \(Terminal.sanitize($0, limit: 100))" },
                         refusal.claimedAgentID.map { "for agent \(Terminal.sanitize($0, limit: 100))" }].compactMap { $0 }.joined(separator: " ")
            let detail = "cordon-agent \(Terminal.sanitize(refusal.source, limit: 20)) refused \(Terminal.sanitize(refusal.file, limit: 300)) "
                + "(sha256 \(Terminal.sanitize(refusal.fileSHA256, limit: 64)))\(claim.isEmpty ? "" : ", which " + claim) at \(CordonTime.format(refusal.at)): "
                + Terminal.sanitize(refusal.reason, limit: 1000)
            try Self.audit(db, at: now, actor: "agent:\(agentID)", action: "task.refused-locally", target: target, detail: detail)
            if let claimed = refusal.claimedTaskID, let run = try TaskRunRecord.fetchOne(db, key: claimed), run.agentID == agentID {
                try Self.event(db, run: run.id, at: now, state: TaskState(rawValue: run.state) ?? .queued,
                               message: "a copy of this list was refused on the jump host, nothing ran from it: \(Terminal.sanitize(refusal.reason, limit: 500))")
            }
            return true
        }
    }

    /// Marks an agent as heard from (a long-poll is a contact).
    public func touch(agentID: String, now: Date = Date()) throws {
        try write { db in
            try db.cachedExecute(sql: "UPDATE agent SET lastSeenAt = ? WHERE id = ?", arguments: [now, agentID])
        }
    }

    /// The signed lists of a task's runs that are signed (queued or later).
    public func signedLists(taskID: String) throws -> [SignedTaskList] {
        try read { db in
            try TaskRunRecord.filter(Column("taskID") == taskID).fetchAll(db).compactMap { run in
                run.signedJSON.flatMap { try? CordonJSON.decode(SignedTaskList.self, from: $0) }
            }
        }
    }
}
