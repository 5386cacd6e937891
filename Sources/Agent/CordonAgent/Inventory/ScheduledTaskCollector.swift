import CordonShared
import Foundation

/// Collects cron entries, at jobs and systemd timers below the root, each with a stable ID.
///
/// Unprivileged: `/var/spool/cron/crontabs` and the at spool are root-only; they are listed in
/// `unreadable` and a note says so, while `/etc/crontab`, `/etc/cron.d` and timers are still read.
public enum ScheduledTaskCollector {
    static let systemCrontab = "/etc/crontab"
    static let cronDirectory = "/etc/cron.d"
    static let userCrontabDirectory = "/var/spool/cron/crontabs"
    static let atSpoolDirectory = "/var/spool/cron/atjobs"
    /// In systemd's order of precedence: the first directory that has a unit name wins.
    static let unitDirectoriesList = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<ScheduledTaskInventory> {
        var state = State(context: context)
        state.collectCron()
        state.collectAt()
        state.collectTimers()
        guard !state.sources.isEmpty || !state.unreadable.isEmpty else {
            return .unavailable(reason: "no cron, at or systemd timer files found")
        }
        if !context.isRoot && !state.unreadable.isEmpty {
            state.notes.append("not root: \(state.unreadable.count) sources unreadable, their tasks are not listed")
        }
        return .ok(ScheduledTaskInventory(
            entries: state.entries, sources: state.sources, unreadable: state.unreadable,
            truncated: state.truncated, skippedLines: state.skipped, notes: state.notes
        ))
    }

    /// The collection in progress.
    struct State {
        let context: CollectionContext
        let fileSystem: RootedFileSystem
        let scanner: SuspiciousPathScanner
        var entries: [ScheduledTaskEntry] = []
        var sources: [String] = []
        var unreadable: [String] = []
        var notes: [String] = []
        var skipped = 0
        var truncated = false

        init(context: CollectionContext) {
            self.context = context
            self.fileSystem = context.fileSystem
            self.scanner = SuspiciousPathScanner(fileSystem: context.fileSystem)
        }

        var limits: InventoryLimits { context.limits }

        mutating func append(_ entry: ScheduledTaskEntry) {
            guard entries.count < limits.maxEntries else {
                truncated = true
                return
            }
            entries.append(entry)
        }

        /// Reads a file, recording it as a source or as unreadable; `nil` when missing or unreadable.
        mutating func readSource(_ path: String, reportMissing: Bool = false) -> TextLines? {
            switch fileSystem.read(path, maxBytes: limits.maxFileBytes) {
            case .success(let contents):
                sources.append(path)
                if contents.truncated { notes.append("\(path) cut at \(limits.maxFileBytes) bytes") }
                return TextLines(contents.data, maxLineLength: limits.maxLineLength)
            case .failure(.missing) where !reportMissing:
                return nil
            case .failure(let error):
                unreadable.append("\(path): \(error)")
                return nil
            }
        }

        /// Directory listing, recording failures other than "missing".
        mutating func listSource(_ path: String) -> [String]? {
            switch fileSystem.list(path, maxEntries: limits.maxDirectoryEntries) {
            case .success(let listing):
                if listing.truncated { notes.append("\(path): only the first \(limits.maxDirectoryEntries) names read") }
                return listing.names
            case .failure(.missing):
                return nil
            case .failure(let error):
                unreadable.append("\(path): \(error)")
                return nil
            }
        }

        // MARK: cron

        mutating func collectCron() {
            if let lines = readSource(systemCrontab) {
                addCron(lines, source: systemCrontab, hasUserField: true, fileUser: nil, enabled: cronFileEnabled(systemCrontab))
            }
            for name in listSource(cronDirectory) ?? [] {
                let path = cronDirectory + "/" + name
                guard case .success(let status) = fileSystem.status(path), status.isRegularFile else { continue }
                guard let lines = readSource(path) else { continue }
                // cron reads only run-parts style names and refuses group/other-writable files.
                let enabled = Self.isRunPartsName(name) && cronFileEnabled(path)
                addCron(lines, source: path, hasUserField: true, fileUser: nil, enabled: enabled)
            }
            for name in listSource(userCrontabDirectory) ?? [] where !name.hasPrefix(".") && !name.hasPrefix("tmp.") {
                let path = userCrontabDirectory + "/" + name
                guard let lines = readSource(path) else { continue }
                addCron(lines, source: path, hasUserField: false, fileUser: name, enabled: true)
            }
        }

        private func cronFileEnabled(_ path: String) -> Bool {
            guard case .success(let status) = fileSystem.status(path) else { return false }
            return status.mode & 0o022 == 0
        }

        static func isRunPartsName(_ name: String) -> Bool {
            !name.isEmpty && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
            }
        }

        private mutating func addCron(_ lines: TextLines, source: String, hasUserField: Bool, fileUser: String?, enabled: Bool) {
            let parsed = CrontabParser.parse(lines, hasUserField: hasUserField)
            skipped += parsed.skipped
            var seen: [String: Int] = [:]
            for entry in parsed.entries {
                let occurrence = seen[entry.normalized, default: 0]
                seen[entry.normalized] = occurrence + 1
                append(ScheduledTaskEntry(
                    id: ScheduledTaskID.make(kind: .cron, source: source, content: entry.normalized, occurrence: occurrence),
                    kind: .cron, source: source, line: entry.line, user: entry.user ?? fileUser,
                    schedule: entry.schedule, command: entry.command.bounded(limits.maxFieldLength),
                    enabled: enabled, suspiciousPaths: scanner.scan(entry.command)
                ))
            }
        }

        // MARK: at

        mutating func collectAt() {
            guard let names = listSource(atSpoolDirectory) else { return }
            sources.append(atSpoolDirectory)
            let users = userNames()
            for name in names where !name.hasPrefix(".") {
                let path = atSpoolDirectory + "/" + name
                guard let jobName = AtJobParser.parseName(name) else {
                    notes.append("\(path): not an at job file name")
                    continue
                }
                let contents: RootedFileSystem.Contents
                switch fileSystem.read(path, maxBytes: limits.maxFileBytes) {
                case .success(let value): contents = value
                case .failure(let error):
                    unreadable.append("\(path): \(error)")
                    continue
                }
                guard let job = AtJobParser.parseBody(TextLines(contents.data, maxLineLength: limits.maxLineLength, lossy: true)) else {
                    skipped += 1
                    notes.append("\(path): not an at job script")
                    continue
                }
                let executable = (try? fileSystem.status(path).get())?.isExecutableByOwner ?? false
                let runTime = jobName.runTime.formatted(.iso8601)
                append(ScheduledTaskEntry(
                    id: ScheduledTaskID.make(kind: .at, source: path, content: ScheduledTaskID.hexDigest(contents.data), occurrence: 0),
                    kind: .at, source: path, line: nil,
                    user: job.uid.map { users[$0] ?? "uid=\($0)" },
                    schedule: jobName.queue == "=" ? "running (since \(runTime))" : runTime,
                    command: job.command.bounded(limits.maxFieldLength),
                    // atd runs only spool files whose owner-execute bit is set.
                    enabled: executable && jobName.queue != "=",
                    suspiciousPaths: scanner.scan(job.command),
                    atQueue: String(jobName.queue), atJobNumber: jobName.jobNumber
                ))
            }
        }

        private func userNames() -> [UInt32: String] {
            guard case .success(let contents) = fileSystem.read("/etc/passwd", maxBytes: limits.maxFileBytes) else { return [:] }
            let records = AccountFileParser.passwd(TextLines(contents.data, maxLineLength: limits.maxLineLength)).records
            return Dictionary(records.map { ($0.uid, $0.name) }, uniquingKeysWith: { first, _ in first })
        }

        // MARK: systemd timers

        mutating func collectTimers() {
            var timerPaths: [(name: String, path: String)] = []
            var seenNames: Set<String> = []
            var seenHostDirectories: Set<String> = []
            for directory in ScheduledTaskCollector.unitDirectoriesList {
                // /lib is a link to /usr/lib on merged-/usr systems: read each directory once.
                guard case .success(let host) = fileSystem.resolve(directory), seenHostDirectories.insert(host).inserted,
                      let names = listSource(directory)
                else { continue }
                for name in names where name.hasSuffix(".timer") && seenNames.insert(name).inserted {
                    timerPaths.append((name, directory + "/" + name))
                }
            }
            let wanted = enabledUnitNames()
            for (name, path) in timerPaths {
                if case .success(let target) = fileSystem.readLink(path), target == "/dev/null" {
                    notes.append("\(path) is masked")
                    continue
                }
                guard let lines = readSource(path) else { continue }
                let timer = SystemdUnitParser.parse(lines)
                skipped += timer.skipped
                let triggers = ["OnCalendar", "OnBootSec", "OnStartupSec", "OnActiveSec", "OnUnitActiveSec", "OnUnitInactiveSec"]
                let schedule = triggers.flatMap { key in timer.values("Timer", key).map { "\(key)=\($0)" } }
                    .joined(separator: "; ")
                let baseName = String(name.dropLast(".timer".count))
                let serviceName = timer.values("Timer", "Unit").last ?? baseName + ".service"
                let service = readService(serviceName)
                let command = service?.values("Service", "ExecStart")
                    .map { String($0.drop(while: { "@-:+!|".contains($0) })) }
                    .joined(separator: "; ") ?? ""
                let user = service?.values("Service", "User").last ?? "root"
                let content = lines.lines.map { ScheduledTaskID.normalize($0.text) }.filter { !$0.isEmpty }.joined(separator: "\n")
                    + "\n" + command
                append(ScheduledTaskEntry(
                    id: ScheduledTaskID.make(kind: .systemdTimer, source: path, content: content, occurrence: 0),
                    kind: .systemdTimer, source: path, line: nil, user: user,
                    schedule: schedule, command: command.bounded(limits.maxFieldLength),
                    enabled: wanted.contains(name), suspiciousPaths: scanner.scan(command)
                ))
                if service == nil { notes.append("\(path): service \(serviceName) not found") }
            }
        }

        private mutating func readService(_ name: String) -> SystemdUnitParser.Unit? {
            for directory in ScheduledTaskCollector.unitDirectoriesList {
                let path = directory + "/" + name
                guard case .success(let contents) = fileSystem.read(path, maxBytes: limits.maxFileBytes) else { continue }
                let unit = SystemdUnitParser.parse(TextLines(contents.data, maxLineLength: limits.maxLineLength))
                skipped += unit.skipped
                return unit
            }
            return nil
        }

        /// Unit names linked in a `*.wants` or `*.requires` directory: enabled units.
        private func enabledUnitNames() -> Set<String> {
            var names: Set<String> = []
            for directory in ScheduledTaskCollector.unitDirectoriesList {
                guard case .success(let listing) = fileSystem.list(directory, maxEntries: limits.maxDirectoryEntries) else { continue }
                for sub in listing.names where sub.hasSuffix(".wants") || sub.hasSuffix(".requires") {
                    let path = directory + "/" + sub
                    guard case .success(let links) = fileSystem.list(path, maxEntries: limits.maxDirectoryEntries) else { continue }
                    for link in links.names {
                        if case .success(let target) = fileSystem.readLink(path + "/" + link), target == "/dev/null" { continue }
                        names.insert(link)
                    }
                }
            }
            return names
        }
    }
}
