import CordonShared
import Foundation

extension RemediationExecutor {
    // MARK: rotate-password

    func rotatePassword(_ action: TaskAction, user: String, length: Int, index: Int, context: Context,
                        journal: any ExecutionJournal) throws -> Step {
        guard let before = try system.accounts.shadowEntry(user: user) else {
            throw ActionFailure("there is no account \(user) in /etc/shadow")
        }
        let lockNote = before.isLocked ? "; the account is locked and stays locked (usermod -U unlocks it)" : ""
        if context.dryRun {
            return Step(result: ActionResult(action: action, outcome: .wouldChange,
                                             detail: "would set a new \(length)-character password for \(user) and escrow it to the coordinator\(lockNote)"))
        }
        guard let escrowKey = context.escrowKey else {
            throw ActionFailure("no escrow key is pinned in the state directory: a new password could not be escrowed, so none is set")
        }
        let password = passwords.generate(length: length)
        defer { password.wipe() }
        // Sealed before it is set: the journal holds it (encrypted) from before the change.
        let secret: EscrowedSecret
        do {
            secret = try Escrow.seal(password: String(decoding: password.bytes, as: UTF8.self), user: user, agentID: context.agentID,
                                     to: escrowKey, at: now())
        } catch {
            throw ActionFailure("cannot seal the new password to the escrow key: \(error); nothing changed")
        }
        var record = BackupRecord(kind: .password, taskID: context.taskID, action: action,
                                  summary: "shadow entry of \(user) (\(Self.scheme(before.hash)))")
        record.user = user
        let backup = try backups.save(record, fileContents: [], extra: ["shadow-entry": Data((before.line + "\n").utf8)], now: now())
        try journal.prepared(secret: secret, index: index)
        do { try system.accounts.setPassword(user: user, password: password) } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        guard let after = try system.accounts.shadowEntry(user: user), after.hash != before.hash, !after.hash.isEmpty else {
            throw ActionFailure("the tool reported success but the shadow hash of \(user) did not change", backupID: backup.id)
        }
        var detail = "set a new \(length)-character password for \(user) (\(Self.scheme(after.hash))) and escrowed it to the coordinator"
        if before.isLocked && !after.isLocked {
            // chpasswd (PAM) unlocks; a locked account must not gain a password login.
            do {
                try system.accounts.setPasswordHash(user: user, hash: "!" + after.hash)
                guard try system.accounts.shadowEntry(user: user)?.hash == "!" + after.hash else {
                    throw ActionFailure("could not lock \(user) again after the rotation", backupID: backup.id)
                }
            } catch let failure as ActionFailure {
                throw failure
            } catch {
                throw ActionFailure("the password of \(user) was set but the account could not be locked again: \(error)", backupID: backup.id)
            }
            detail += lockNote
        }
        return Step(result: ActionResult(action: action, outcome: .changed, detail: detail, backupID: backup.id), secret: secret)
    }

    static func scheme(_ hash: String) -> String {
        let bare = String(hash.drop(while: { $0 == "!" || $0 == "*" }))
        return PasswordHashScheme.name(of: bare).map { "hash \($0)" } ?? "no password hash"
    }

    // MARK: remove-scheduled-task, purge-at-jobs

    func collectScheduledTasks() throws -> ScheduledTaskInventory {
        switch system.scheduler.collect() {
        case .ok(let inventory): return inventory
        case .unavailable(let reason): throw ActionFailure("cannot list the scheduled tasks: \(reason)")
        }
    }

    func removeScheduledTask(_ action: TaskAction, id: String, source: String?, context: Context) throws -> ActionResult {
        let inventory = try collectScheduledTasks()
        guard let entry = inventory.entries.first(where: { $0.id == id }) else {
            if !inventory.unreadable.isEmpty {
                throw ActionFailure("no scheduled task \(id) found, but some sources could not be read: \(inventory.unreadable.prefix(3).joined(separator: "; "))")
            }
            if inventory.truncated { throw ActionFailure("no scheduled task \(id) among the first \(inventory.entries.count) (the list was cut short)") }
            // "Already removed" only when Cordon removed it (a backup of that removal is kept);
            // anything else is an ID that matches nothing now, which is not a success.
            if let earlier = backups.list().first(where: { record in
                if case .removeScheduledTask(let removed, _) = record.action { return removed == id && [.cronLine, .atJobs, .systemdTimer].contains(record.kind) }
                return false
            }) {
                return ActionResult(action: action, outcome: .unchanged,
                                    detail: "already removed by Cordon (task \(earlier.taskID ?? "local"), \(CordonTime.format(earlier.createdAt)), backup \(earlier.id)): \(earlier.summary.prefix(300))")
            }
            return ActionResult(action: action, outcome: .notFound, detail: Self.notFoundDetail(id: id, source: source, inventory: inventory))
        }
        if let source, entry.source != source {
            return ActionResult(action: action, outcome: .notFound,
                                detail: "\(id) is in \(entry.source) now, not in \(source) as the task says; nothing removed")
        }
        switch entry.kind {
        case .cron: return try removeCronLine(action, entry: entry, context: context)
        case .at: return try removeAtJobs(action, entries: [entry], what: "at job \(entry.atJobNumber.map(String.init) ?? "?")", context: context)
        case .systemdTimer: return try disableTimer(action, entry: entry, context: context)
        }
    }

    /// Why an ID matches nothing, with what the inventory shows now where the task says it was.
    static func notFoundDetail(id: String, source: String?, inventory: ScheduledTaskInventory) -> String {
        let head = "no scheduled task has the ID \(id) now; nothing was removed"
        guard let source else {
            return head + " (the ID comes from an older inventory, or is mistyped: see `cordon inventory AGENT` for the current IDs)"
        }
        let there = inventory.entries.filter { $0.source == source }
        guard !there.isEmpty else {
            let exists = inventory.sources.contains(source)
            return head + (exists ? ": \(source) holds no scheduled task now" : ": \(source) is not there any more")
        }
        let shown = there.prefix(5).map { entry in
            "\(entry.line.map { "line \($0): " } ?? "")\(entry.schedule) \(entry.user.map { "\($0) " } ?? "")\(entry.command.prefix(120)) (\(entry.id))"
        }.joined(separator: "; ")
        return head + ": \(source) changed since the inventory and now holds: " + shown + (there.count > 5 ? "; and \(there.count - 5) more" : "")
            + ". Remove it by its new ID if it is the worm's."
    }

    // MARK: lock-account

    static let nologinShell = "/usr/sbin/nologin"

    func lockAccount(_ action: TaskAction, user: String, context: Context) throws -> ActionResult {
        guard let shadow = try system.accounts.shadowEntry(user: user), let passwd = try system.accounts.passwdEntry(user: user) else {
            return ActionResult(action: action, outcome: .notFound, detail: "there is no account \(user) on this host; nothing locked")
        }
        let uidNote = passwd.uid == 0 ? " (UID 0)" : ""
        if shadow.isLocked && passwd.shell == Self.nologinShell {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(user)\(uidNote) is already locked with the shell \(Self.nologinShell)")
        }
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange,
                                detail: "would lock the password of \(user)\(uidNote) and set its shell \(passwd.shell) to \(Self.nologinShell)")
        }
        var record = BackupRecord(kind: .account, taskID: context.taskID, action: action,
                                  summary: "shadow and passwd entries of \(user)\(uidNote) (shell \(passwd.shell), \(Self.scheme(shadow.hash)))")
        record.user = user
        let backup = try backups.save(record, fileContents: [], extra: ["shadow-entry": Data((shadow.line + "\n").utf8),
                                                                         "passwd-entry": Data((passwd.line + "\n").utf8)], now: now())
        do {
            try system.accounts.lock(user: user, shell: Self.nologinShell)
            guard let after = try system.accounts.shadowEntry(user: user), after.isLocked,
                  try system.accounts.passwdEntry(user: user)?.shell == Self.nologinShell else {
                throw ActionFailure("usermod reported success but \(user) is not locked with the shell \(Self.nologinShell)", backupID: backup.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed,
                            detail: "locked \(user)\(uidNote): password locked, shell \(passwd.shell) -> \(Self.nologinShell); running sessions are not ended",
                            backupID: backup.id)
    }

    func removeCronLine(_ action: TaskAction, entry: ScheduledTaskEntry, context: Context) throws -> ActionResult {
        let source = entry.source
        guard let snapshot = try system.files.read(source) else {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(source) no longer exists")
        }
        guard let number = CrontabEdit.locate(id: entry.id, in: snapshot.contents, source: source),
              let (edited, removed) = CrontabEdit.removing(line: number, from: snapshot.contents)
        else {
            throw ActionFailure("\(source) changed after it was read: no line has \(entry.id) any more; nothing removed")
        }
        let shown = "line \(number) of \(source): \(removed.prefix(200))"
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would remove \(shown)") }
        var record = BackupRecord(kind: .cronLine, taskID: context.taskID, action: action, summary: "\(shown)",
                                  files: [.init(path: source, snapshot: snapshot)])
        record.lineNumber = number
        record.lineText = removed
        let backup = try backups.save(record, fileContents: [snapshot.contents], now: now())
        do {
            // Re-read: the file must still be exactly what was backed up and edited.
            guard try system.files.read(source) == snapshot else { throw ActionFailure("\(source) changed while it was being edited; nothing removed") }
            try system.files.write(source, snapshot.with(contents: edited))
            guard try system.files.read(source)?.contents == edited else { throw ActionFailure("\(source) does not hold the edited table after the write") }
        } catch let failure as ActionFailure {
            throw ActionFailure(failure.reason, backupID: backup.id)
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "removed \(shown)", backupID: backup.id)
    }

    func purgeAtJobs(_ action: TaskAction, user: String?, context: Context) throws -> ActionResult {
        let inventory = try collectScheduledTasks()
        let spool = ScheduledTaskCollector.atSpoolDirectory
        if let unreadable = inventory.unreadable.first(where: { $0.hasPrefix(spool) }) {
            throw ActionFailure("the at spool could not be read completely: \(unreadable)")
        }
        let jobs = inventory.entries.filter { $0.kind == .at && (user == nil || $0.user == user) }
        let whose = user.map { " of \($0)" } ?? ""
        guard !jobs.isEmpty else { return ActionResult(action: action, outcome: .unchanged, detail: "there are no at jobs\(whose)") }
        return try removeAtJobs(action, entries: jobs, what: "\(jobs.count) at job\(jobs.count == 1 ? "" : "s")\(whose)", context: context)
    }

    /// Deletes at jobs by unlinking their spool files, which is what atrm(1) does (after its
    /// permission check): each file is checked against its ID first, all are backed up in one
    /// backup, then each is deleted.
    func removeAtJobs(_ action: TaskAction, entries: [ScheduledTaskEntry], what: String, context: Context) throws -> ActionResult {
        var present: [(entry: ScheduledTaskEntry, snapshot: FileSnapshot)] = []
        for entry in entries {
            guard let snapshot = try system.files.read(entry.source) else { continue }
            guard ScheduledTaskID.make(kind: .at, source: entry.source, content: ScheduledTaskID.hexDigest(snapshot.contents), occurrence: 0) == entry.id else {
                throw ActionFailure("\(entry.source) changed after it was read (it no longer matches \(entry.id)); nothing removed")
            }
            present.append((entry, snapshot))
        }
        guard !present.isEmpty else { return ActionResult(action: action, outcome: .unchanged, detail: "\(what): already gone") }
        let listing = present.map { job in
            "job \(job.entry.atJobNumber.map(String.init) ?? "?") (\(job.entry.user ?? "?"), \(job.entry.schedule)): \(job.entry.command.prefix(80))"
        }.joined(separator: "; ")
        let running = present.filter { $0.entry.atQueue == "=" }.count
        let runningNote = running == 0 ? "" : "; \(running) of them running now: deleting the spool file does not stop the running process"
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would delete \(what): \(listing)\(runningNote)") }
        let record = BackupRecord(kind: .atJobs, taskID: context.taskID, action: action, summary: "\(what): \(listing)",
                                  files: present.map { .init(path: $0.entry.source, snapshot: $0.snapshot) })
        let backup = try backups.save(record, fileContents: present.map(\.snapshot.contents), now: now())
        do {
            for job in present {
                guard try system.files.read(job.entry.source) == job.snapshot else {
                    throw ActionFailure("\(job.entry.source) changed while the jobs were being deleted; it was left in place")
                }
                try system.files.remove(job.entry.source)
                guard try system.files.read(job.entry.source) == nil else { throw ActionFailure("\(job.entry.source) is still there after deleting it") }
            }
        } catch let failure as ActionFailure {
            throw ActionFailure(failure.reason, backupID: backup.id)
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "deleted \(what): \(listing)\(runningNote)", backupID: backup.id)
    }

    func disableTimer(_ action: TaskAction, entry: ScheduledTaskEntry, context: Context) throws -> ActionResult {
        let unit = (entry.source as NSString).lastPathComponent
        let state = try system.services.state(of: unit)
        guard state.isEnabled || state.isRunning else {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(unit) is already disabled and stopped (\(state.unitFileState), \(state.activeState))")
        }
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange,
                                detail: "would disable and stop \(unit) (now \(state.unitFileState), \(state.activeState)); its unit file stays, backed up")
        }
        let unitFile = try system.files.read(entry.source)
        var record = BackupRecord(kind: .systemdTimer, taskID: context.taskID, action: action,
                                  summary: "\(unit): \(state.unitFileState), \(state.activeState)",
                                  files: unitFile.map { [.init(path: entry.source, snapshot: $0)] } ?? [])
        record.unit = unit
        record.unitState = state
        let backup = try backups.save(record, fileContents: unitFile.map { [$0.contents] } ?? [], now: now())
        do {
            try system.services.perform(.disableNow, unit: unit)
            let after = try system.services.state(of: unit)
            guard !after.isEnabled && !after.isRunning else {
                throw ActionFailure("\(unit) is still \(after.unitFileState), \(after.activeState) after systemctl disable --now", backupID: backup.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "disabled and stopped \(unit) (was \(state.unitFileState), \(state.activeState))",
                            backupID: backup.id)
    }

    // MARK: block-ports, unblock-ports

    func changePorts(_ action: TaskAction, tcp: [Int], udp: [Int], direction: TrafficDirection, block: Bool, context: Context) throws -> ActionResult {
        let current = try system.firewall.read()
        let before = current?.sets ?? .empty
        let wanted = before.changing(tcp: tcp, udp: udp, direction: direction, block: block)
        let ports = (tcp.map { "tcp/\($0)" } + udp.map { "udp/\($0)" }).joined(separator: ", ") + " " + direction.rawValue
        let verb = block ? "block" : "unblock"
        // The table exists exactly when something is blocked.
        guard wanted != before || (wanted.isEmpty ? current != nil : current == nil) else {
            return ActionResult(action: action, outcome: .unchanged,
                                detail: "\(block ? "already blocked" : "not blocked"): \(ports) (inet cordon: \(before.summary))")
        }
        let foreignNote = (current?.foreign.isEmpty ?? true) ? "" : "; objects not made by Cordon in the table are dropped: \(current!.foreign.joined(separator: ", "))"
        let afterText = wanted.isEmpty ? "the table inet cordon is deleted (nothing left to block)" : "inet cordon: \(wanted.summary)"
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange, detail: "would \(verb) \(ports); \(afterText)\(foreignNote)")
        }
        let backup = try saveFirewallBackup(current, action: action, context: context)
        do {
            try system.firewall.apply(wanted)
            let after = try system.firewall.read()
            if wanted.isEmpty {
                guard after == nil else { throw ActionFailure("the table inet cordon is still there after deleting it", backupID: backup.id) }
            } else {
                guard let after, after.sets == wanted else {
                    throw ActionFailure("read back, inet cordon holds \(after?.sets.summary ?? "nothing (no table)"), not \(wanted.summary)", backupID: backup.id)
                }
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "\(verb)ed \(ports); \(afterText)\(foreignNote)", backupID: backup.id)
    }

    func saveFirewallBackup(_ current: CordonTableSnapshot?, action: TaskAction, context: Context) throws -> BackupRecord {
        var record = BackupRecord(kind: .firewall, taskID: context.taskID, action: action,
                                  summary: current.map { "inet cordon: \($0.sets.summary)" } ?? "no table inet cordon")
        record.firewall = current?.sets
        record.firewallTablePresent = current != nil
        return try backups.save(record, fileContents: [], extra: current.map { ["table.json": $0.json] } ?? [:], now: now())
    }

    // MARK: stop-service, disable-service

    func changeService(_ action: TaskAction, unit: String, stop: Bool, context: Context) throws -> ActionResult {
        let state = try system.services.state(of: unit)
        guard state.exists else {
            return ActionResult(action: action, outcome: .notFound, detail: "there is no unit \(unit) on this host: nothing to \(stop ? "stop" : "disable")")
        }
        if stop ? !state.isRunning : !state.isEnabled {
            return ActionResult(action: action, outcome: .unchanged,
                                detail: "\(unit) is already \(stop ? "stopped (\(state.activeState))" : "not enabled (\(state.unitFileState))")")
        }
        let verb = stop ? "stop" : "disable"
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange, detail: "would \(verb) \(unit) (now \(state.activeState), \(state.unitFileState))")
        }
        var record = BackupRecord(kind: .service, taskID: context.taskID, action: action, summary: "\(unit): \(state.activeState), \(state.unitFileState)")
        record.unit = unit
        record.unitState = state
        let backup = try backups.save(record, fileContents: [], now: now())
        do {
            try system.services.perform(stop ? .stop : .disable, unit: unit)
            let after = try system.services.state(of: unit)
            guard stop ? !after.isRunning : !after.isEnabled else {
                throw ActionFailure("\(unit) is still \(stop ? after.activeState : after.unitFileState) after systemctl \(verb)", backupID: backup.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: backup.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "\(verb == "stop" ? "stopped" : "disabled") \(unit) (was \(state.activeState), \(state.unitFileState))",
                            backupID: backup.id)
    }
}
