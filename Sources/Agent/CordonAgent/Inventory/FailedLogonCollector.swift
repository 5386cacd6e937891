import CordonShared
import Foundation

/// Collects failed logons of the last `failedLogonWindow` before `now`, aggregated per
/// (source address, account), from `<root>/var/log/auth.log` (+ `auth.log.1`) or, when there is
/// no auth.log, the systemd journal; plus `<root>/var/log/btmp`. See `AuthMessageClassifier`
/// for the messages recognised, and `FailedLogonAggregator` for how counts are combined.
///
/// Every log is read from its tail, at most `limits.maxLogBytes`. Unprivileged: auth.log
/// (root:adm 0640) and btmp (root:utmp 0660) are unreadable and journalctl shows only the
/// caller's own entries; the sources that failed are listed in `unavailableSources`.
public enum FailedLogonCollector {
    static let authLogs = ["/var/log/auth.log.1", "/var/log/auth.log"]
    static let btmpPath = "/var/log/btmp"

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<FailedLogonInventory> {
        let fileSystem = context.fileSystem
        let limits = context.limits
        let windowStart = context.now.addingTimeInterval(-context.failedLogonWindow)
        var aggregator = FailedLogonAggregator(windowStart: windowStart, windowEnd: context.now.addingTimeInterval(60))
        var sources: [String] = []
        var failed: [String] = []
        var notes: [String] = []
        var skipped = 0
        var truncated = false
        let syslog = SyslogLineParser(now: context.now, timeZone: context.timeZone)

        // 1. auth.log, oldest first.
        var authLogPresent = false
        for path in authLogs {
            switch fileSystem.read(path, maxBytes: limits.maxLogBytes, tail: true) {
            case .success(let contents):
                authLogPresent = true
                sources.append(path)
                if contents.truncated {
                    truncated = true
                    notes.append("\(path): only the last \(limits.maxLogBytes) bytes read")
                }
                let lines = TextLines(contents.data, maxLineLength: limits.maxLineLength, dropFirstPartial: contents.truncated, lossy: true)
                skipped += lines.skipped
                for line in lines.lines {
                    guard let parsed = syslog.parse(line.text) else {
                        if !line.text.trimmingCharacters(in: .whitespaces).isEmpty { skipped += 1 }
                        continue
                    }
                    if let event = AuthMessageClassifier.classify(program: parsed.program, message: parsed.message, date: parsed.date) {
                        aggregator.add(event)
                    }
                }
            case .failure(.missing):
                continue
            case .failure(let error):
                authLogPresent = true
                failed.append("\(path): \(error)")
            }
        }

        // 2. The journal, when there is no auth.log.
        if !authLogPresent {
            switch journalLines(context, windowStart: windowStart) {
            case .success(let journal):
                sources.append(journal.source)
                if journal.truncated {
                    truncated = true
                    notes.append("\(journal.source): output cut at the byte limit")
                }
                if let note = journal.note { notes.append(note) }
                let parsed = JournalParser.parse(journal.lines, classify: AuthMessageClassifier.classify)
                skipped += parsed.skipped
                parsed.events.forEach { aggregator.add($0) }
            case .failure(let reason):
                failed.append(reason.text)
            }
        }

        // 3. btmp.
        switch fileSystem.read(btmpPath, maxBytes: limits.maxLogBytes, tail: true, tailAlignment: BtmpParser.recordSize) {
        case .success(let contents):
            sources.append(btmpPath)
            if contents.truncated {
                truncated = true
                notes.append("\(btmpPath): only the last \(limits.maxLogBytes) bytes read")
            }
            let parsed = BtmpParser.parse(contents.data)
            skipped += parsed.skipped
            if parsed.trailingBytes > 0 {
                notes.append("\(btmpPath): truncated trailing record of \(parsed.trailingBytes) bytes ignored")
            }
            for record in parsed.records {
                aggregator.add(FailedLogonEvent(
                    date: record.date, source: record.address ?? record.host, account: record.user, evidence: .btmp
                ))
            }
        case .failure(.missing):
            break
        case .failure(let error):
            failed.append("\(btmpPath): \(error)")
        }

        if sources.isEmpty {
            let reason = failed.isEmpty ? "no auth.log, journal or btmp found" : failed.joined(separator: "; ")
            return .unavailable(reason: reason)
        }
        if !failed.isEmpty && !context.isRoot { notes.append("not root: some logs unreadable") }
        let result = aggregator.aggregates(limit: limits.maxEntries)
        return .ok(FailedLogonInventory(
            windowStart: windowStart, windowEnd: context.now, aggregates: result.aggregates,
            sources: sources, unavailableSources: failed, truncated: truncated || result.truncated,
            skippedLines: skipped, notes: notes
        ))
    }

    struct JournalLines {
        var source: String
        var lines: TextLines
        var truncated: Bool
        var note: String?
    }

    struct Failure: Error {
        var text: String
    }

    /// The journal's JSON lines: from a file (tests) or from `journalctl`, bounded in time and size.
    static func journalLines(_ context: CollectionContext, windowStart: Date) -> Result<JournalLines, Failure> {
        let limits = context.limits
        switch context.journal {
        case .none:
            return .failure(Failure(text: "journal: not configured"))
        case .file(let path):
            switch RootedFileSystem(root: "/").read(path, maxBytes: limits.maxLogBytes, tail: true) {
            case .success(let contents):
                let lines = TextLines(contents.data, maxLineLength: limits.maxLineLength, dropFirstPartial: contents.truncated, lossy: true)
                return .success(JournalLines(source: "journal (\(path))", lines: lines, truncated: contents.truncated))
            case .failure(let error):
                return .failure(Failure(text: "journal \(path): \(error)"))
            }
        case .journalctl:
            guard let journalctl = context.commandRunner.locate("journalctl") else {
                return .failure(Failure(text: "journal: journalctl not installed"))
            }
            var arguments = [
                "--no-pager", "--quiet", "--output=json",
                "--since=@\(Int(windowStart.timeIntervalSince1970))", "--until=@\(Int(context.now.timeIntervalSince1970) + 60)",
                "_COMM=sshd", "_COMM=sshd-session", "+", "SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10",
            ]
            if !context.isLiveRoot {
                arguments.insert("--directory=\(RootedFileSystem.normalizedRoot(context.root))/var/log/journal", at: 0)
            }
            let result = context.commandRunner.run(
                journalctl, arguments: arguments, timeout: limits.commandTimeout, outputLimit: limits.maxCommandOutputBytes
            )
            // A cut or timed-out run still gave us complete lines up to the cut: keep them.
            guard result.termination == .exited(0) || result.outputTruncated || result.termination == .timedOut else {
                return .failure(Failure(text: "journal: journalctl \(result.failureSummary)"))
            }
            let lines = TextLines(result.standardOutput, maxLineLength: limits.maxLineLength, lossy: true)
            var note: String?
            if result.termination == .timedOut { note = "journalctl timed out: partial output used" }
            if !context.isRoot { note = "not root: journalctl shows only entries this user may read" }
            return .success(JournalLines(source: "journal", lines: lines, truncated: result.outputTruncated, note: note))
        }
    }
}
