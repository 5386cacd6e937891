import CordonShared
import Foundation

extension RemediationExecutor {
    /// Puts a backup back. Restoring what is already there is `unchanged`, so restoring twice
    /// changes nothing the second time. What a restore overwrites (a firewall table, a password
    /// hash, a unit's state) is itself backed up first; the result names that backup. Restoring
    /// a cron line or an at job only adds, so it needs none.
    func restore(_ action: TaskAction, backupID: String, context: Context) throws -> ActionResult {
        let record: BackupRecord
        do { record = try backups.load(backupID) } catch { throw ActionFailure("\(error)") }
        switch record.kind {
        case .cronLine: return try restoreCronLine(action, record, context: context)
        case .atJobs: return try restoreAtJobs(action, record, context: context)
        case .systemdTimer, .service: return try restoreUnit(action, record, context: context)
        case .firewall: return try restoreFirewall(action, record, context: context)
        case .password: return try restorePassword(action, record, context: context)
        case .account: return try restoreAccount(action, record, context: context)
        }
    }

    private func restoreCronLine(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        guard let file = record.files.first, let number = record.lineNumber, let line = record.lineText else {
            throw ActionFailure("backup \(record.id) is incomplete")
        }
        let original = try backups.contents(of: file, in: record.id)
        let current = try system.files.read(file.path)
        let target: Data
        let how: String
        if let current, current.contents == original {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(file.path) already holds the backed-up table (\(record.id))")
        } else if current == nil || CrontabEdit.removing(line: number, from: original)?.data == current?.contents {
            target = original
            how = "\(file.path) is back as it was before \(record.id)"
        } else if let current, CrontabEdit.count(line: line, in: current.contents) >= CrontabEdit.count(line: line, in: original) {
            // As many copies of the line as before the removal: it is back already.
            return ActionResult(action: action, outcome: .unchanged, detail: "\(file.path) already has the line: \(line.prefix(200))")
        } else {
            target = CrontabEdit.inserting(line, at: number, into: current!.contents)
            how = "\(file.path) changed since the backup; the removed line is back as line \(number): \(line.prefix(200))"
        }
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would restore: " + how) }
        let attributes = current ?? FileSnapshot(contents: Data(), uid: file.uid, gid: file.gid, mode: file.mode)
        try system.files.write(file.path, attributes.with(contents: target))
        guard try system.files.read(file.path)?.contents == target else { throw ActionFailure("\(file.path) does not hold the restored table after the write") }
        return ActionResult(action: action, outcome: .changed, detail: how)
    }

    private func restoreAtJobs(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        var missing: [(BackupRecord.FileEntry, Data)] = []
        for file in record.files {
            let contents = try backups.contents(of: file, in: record.id)
            if let current = try system.files.read(file.path) {
                guard current.contents == contents else {
                    throw ActionFailure("\(file.path) exists with other contents; it is left alone and nothing is restored")
                }
                continue
            }
            // atd tells jobs apart by number: another file with this job's number is another job.
            let directory = (file.path as NSString).deletingLastPathComponent
            let name = (file.path as NSString).lastPathComponent
            if let number = AtJobParser.parseName(name)?.jobNumber,
               let clash = try system.files.list(directory).first(where: { $0 != name && AtJobParser.parseName($0)?.jobNumber == number }) {
                throw ActionFailure("at job number \(number) is now taken by \(directory)/\(clash); nothing is restored")
            }
            missing.append((file, contents))
        }
        guard !missing.isEmpty else {
            return ActionResult(action: action, outcome: .unchanged, detail: "the at job\(record.files.count == 1 ? " is" : "s are") already in the spool (\(record.id))")
        }
        let names = missing.map { ($0.0.path as NSString).lastPathComponent }.joined(separator: ", ")
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would put back \(missing.count) at job file(s): \(names)") }
        for (file, contents) in missing {
            try system.files.write(file.path, FileSnapshot(contents: contents, uid: file.uid, gid: file.gid, mode: file.mode))
            guard try system.files.read(file.path)?.contents == contents else { throw ActionFailure("\(file.path) does not hold the job after the write") }
        }
        system.scheduler.notifyAtDaemon()
        return ActionResult(action: action, outcome: .changed, detail: "put back \(missing.count) at job file(s) with their owner and mode: \(names)")
    }

    private func restoreUnit(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        guard let unit = record.unit, let before = record.unitState else { throw ActionFailure("backup \(record.id) is incomplete") }
        var rewrite: [(BackupRecord.FileEntry, Data)] = []
        for file in record.files where try system.files.read(file.path) == nil {
            rewrite.append((file, try backups.contents(of: file, in: record.id)))
        }
        let now = try system.services.state(of: unit)
        // Only what the action changed: a stop's backup starts the unit again, a disable's
        // enables it again, a timer's (disable --now) does both.
        var restoresEnabled = true, restoresRunning = true
        switch record.action {
        case .stopService?: restoresEnabled = false
        case .disableService?: restoresRunning = false
        default: break
        }
        var verbs: [UnitVerb] = []
        if restoresEnabled && before.isEnabled && !now.isEnabled { verbs.append(.enable) }
        if restoresRunning && before.isRunning && !now.isRunning { verbs.append(.start) }
        guard !verbs.isEmpty || !rewrite.isEmpty else {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(unit) is already as backed up (\(now.activeState), \(now.unitFileState))")
        }
        let plan = (rewrite.map { "write \($0.0.path)" } + verbs.map { "\($0.rawValue) \(unit)" }).joined(separator: ", then ")
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would \(plan)") }
        var mine = BackupRecord(kind: record.kind, taskID: context.taskID, action: action, summary: "\(unit) before restoring \(record.id): \(now.activeState), \(now.unitFileState)")
        mine.unit = unit
        mine.unitState = now
        let saved = try backups.save(mine, fileContents: [], now: self.now())
        do {
            for (file, contents) in rewrite {
                try system.files.write(file.path, FileSnapshot(contents: contents, uid: file.uid, gid: file.gid, mode: file.mode))
            }
            for verb in verbs { try system.services.perform(verb, unit: unit) }
        } catch {
            throw ActionFailure("\(error)", backupID: saved.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "restored \(unit): \(plan)", backupID: saved.id)
    }

    private func restoreFirewall(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        let current = try system.firewall.read()
        let target = record.firewallTablePresent == true ? (record.firewall ?? .empty) : .empty
        let targetPresent = record.firewallTablePresent == true && !target.isEmpty
        if (current != nil) == targetPresent && (current?.sets ?? .empty) == target {
            return ActionResult(action: action, outcome: .unchanged, detail: "inet cordon is already as backed up: \(target.summary)")
        }
        let afterText = targetPresent ? "inet cordon: \(target.summary)" : "no table inet cordon"
        if context.dryRun { return ActionResult(action: action, outcome: .wouldChange, detail: "would restore \(afterText)") }
        let saved = try saveFirewallBackup(current, action: action, context: context)
        do {
            try system.firewall.apply(target)
            let after = try system.firewall.read()
            guard (after != nil) == targetPresent, (after?.sets ?? .empty) == target else {
                throw ActionFailure("read back, inet cordon holds \(after?.sets.summary ?? "nothing (no table)"), not \(target.summary)", backupID: saved.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: saved.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "restored \(afterText)", backupID: saved.id)
    }

    /// The backed-up line of `name` (`shadow-entry`, `passwd-entry`) without its newline.
    private func backedUpLine(_ name: String, of record: BackupRecord, user: String) throws -> String? {
        guard let data = try? backups.extra(name, in: record.id) else { return nil }
        let line = String(decoding: data, as: UTF8.self)
        let trimmed = line.hasSuffix("\n") ? String(line.dropLast()) : line
        guard trimmed.hasPrefix(user + ":"), !trimmed.contains("\n") else { throw ActionFailure("backup \(record.id) holds no line of \(user)") }
        return trimmed
    }

    /// Puts the shadow line back byte for byte (the last-change day and the ageing fields too:
    /// chpasswd -e would date the old password today, hiding its age).
    private func restorePassword(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        guard let user = record.user, let line = try backedUpLine("shadow-entry", of: record, user: user),
              let old = LiveAccountSystem.entry(user: user, in: Data(line.utf8))
        else { throw ActionFailure("backup \(record.id) is incomplete") }
        guard let current = try system.accounts.shadowEntry(user: user) else { throw ActionFailure("there is no account \(user) any more") }
        if current.line == old.line {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(user) already has the backed-up shadow entry")
        }
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange, detail: "would put back the previous shadow entry of \(user) (\(Self.scheme(old.hash)))")
        }
        var mine = BackupRecord(kind: .password, taskID: context.taskID, action: action, summary: "shadow entry of \(user) before restoring \(record.id)")
        mine.user = user
        let saved = try backups.save(mine, fileContents: [], extra: ["shadow-entry": Data((current.line + "\n").utf8)], now: now())
        do {
            try system.accounts.replaceEntries(user: user, shadowLine: old.line, passwdLine: nil)
            guard try system.accounts.shadowEntry(user: user)?.line == old.line else {
                throw ActionFailure("the shadow entry of \(user) is not the backed-up one after the restore", backupID: saved.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: saved.id)
        }
        return ActionResult(action: action, outcome: .changed,
                            detail: "put back the previous shadow entry of \(user), byte for byte; the password escrowed by the rotation no longer works", backupID: saved.id)
    }

    /// Puts back the shadow and passwd lines that lock-account changed, byte for byte.
    private func restoreAccount(_ action: TaskAction, _ record: BackupRecord, context: Context) throws -> ActionResult {
        guard let user = record.user, let shadowLine = try backedUpLine("shadow-entry", of: record, user: user),
              let passwdLine = try backedUpLine("passwd-entry", of: record, user: user)
        else { throw ActionFailure("backup \(record.id) is incomplete") }
        guard let shadow = try system.accounts.shadowEntry(user: user), let passwd = try system.accounts.passwdEntry(user: user) else {
            throw ActionFailure("there is no account \(user) any more")
        }
        if shadow.line == shadowLine && passwd.line == passwdLine {
            return ActionResult(action: action, outcome: .unchanged, detail: "\(user) already has the backed-up shadow and passwd entries")
        }
        if context.dryRun {
            return ActionResult(action: action, outcome: .wouldChange, detail: "would put back the shadow and passwd entries of \(user) (unlocking it)")
        }
        var mine = BackupRecord(kind: .account, taskID: context.taskID, action: action, summary: "shadow and passwd entries of \(user) before restoring \(record.id)")
        mine.user = user
        let saved = try backups.save(mine, fileContents: [], extra: ["shadow-entry": Data((shadow.line + "\n").utf8),
                                                                      "passwd-entry": Data((passwd.line + "\n").utf8)], now: now())
        do {
            try system.accounts.replaceEntries(user: user, shadowLine: shadowLine, passwdLine: passwdLine)
            guard try system.accounts.shadowEntry(user: user)?.line == shadowLine, try system.accounts.passwdEntry(user: user)?.line == passwdLine else {
                throw ActionFailure("the entries of \(user) are not the backed-up ones after the restore", backupID: saved.id)
            }
        } catch let failure as ActionFailure {
            throw failure
        } catch {
            throw ActionFailure("\(error)", backupID: saved.id)
        }
        return ActionResult(action: action, outcome: .changed, detail: "put back the shadow and passwd entries of \(user), byte for byte (it can log in as before)",
                            backupID: saved.id)
    }
}
