import CordonShared
import Foundation

/// What a backup holds, and how `restore` puts it back. One backup per changing action.
public struct BackupRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A crontab before one line was removed (the whole file is kept).
        case cronLine = "cron-line"
        /// At job spool files (one for remove-scheduled-task, all of them for purge-at-jobs).
        case atJobs = "at-jobs"
        /// A systemd timer's unit file and its enabled/active state before `disable --now`.
        case systemdTimer = "systemd-timer"
        /// The `inet cordon` table before a change (or its absence).
        case firewall
        /// An account's shadow entry before a rotation (the old hash stays on the host, 0600).
        case password
        /// A service's active and enabled state before stop/disable.
        case service
        /// An account's shadow and passwd lines before lock-account (both put back exactly).
        case account
    }

    /// A file as it was: where, owner, group, mode; its bytes are `payload` in the backup.
    public struct FileEntry: Codable, Sendable, Equatable {
        public var path: String
        public var uid: UInt32
        public var gid: UInt32
        public var mode: UInt32
        /// The name of the file in the backup directory that holds the bytes.
        public var payload: String
        public var sha256: String
    }

    public var id: String
    public var kind: Kind
    public var createdAt: Date
    /// The task (or `local` for the CLI) and the action that made it.
    public var taskID: String?
    public var action: TaskAction?
    /// One line for people: what was there before.
    public var summary: String
    public var files: [FileEntry]
    /// cron-line: the 1-based number and text of the removed line.
    public var lineNumber: Int?
    public var lineText: String?
    /// systemd-timer, service: the unit and its state before.
    public var unit: String?
    public var unitState: UnitState?
    /// firewall: the ports before (nil: there was no table).
    public var firewall: CordonPortSets?
    public var firewallTablePresent: Bool?
    /// password, account: whose.
    public var user: String?

    init(kind: Kind, taskID: String?, action: TaskAction?, summary: String, files: [FileEntry] = []) {
        self.id = ""
        self.kind = kind
        self.createdAt = Date(timeIntervalSince1970: 0)
        self.taskID = taskID
        self.action = action
        self.summary = summary
        self.files = files
    }
}

extension BackupRecord.FileEntry {
    init(path: String, snapshot: FileSnapshot) {
        self.init(path: path, uid: snapshot.uid, gid: snapshot.gid, mode: snapshot.mode, payload: "", sha256: "")
    }
}

/// Backups in `<state>/backups/<id>/`: `backup.json` plus payload files, the directory 0700
/// and every file 0600. A backup is written under a temporary name and renamed into place, so
/// that a listed backup is always complete.
public struct BackupStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// A new ID: `bk-YYYYMMDD-HHMMSS-` + 8 random hex digits.
    static func makeID(now: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: now)
        func two(_ v: Int?) -> String { String(format: "%02d", v ?? 0) }
        let random = String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        return "bk-\(String(format: "%04d", c.year ?? 0))\(two(c.month))\(two(c.day))-\(two(c.hour))\(two(c.minute))\(two(c.second))-\(random)"
    }

    func path(_ id: String) -> String { directory + "/" + id }

    /// Writes a backup: `record` (its `id` and `files[].payload` are filled in here) and the
    /// payload bytes in the order of `record.files`, plus extra named payloads.
    public func save(_ record: BackupRecord, fileContents: [Data], extra: [String: Data] = [:], now: Date) throws -> BackupRecord {
        precondition(record.files.count == fileContents.count)
        try SecureFile.makeDirectory(directory, mode: 0o700)
        var record = record
        record.id = Self.makeID(now: now)
        record.createdAt = now
        let temporary = directory + "/.tmp-" + record.id
        try SecureFile.makeDirectory(temporary, mode: 0o700)
        do {
            for index in record.files.indices {
                record.files[index].payload = "file-\(index)"
                record.files[index].sha256 = ScheduledTaskID.hexDigest(fileContents[index])
                try SecureFile.create(temporary + "/file-\(index)", contents: fileContents[index], mode: 0o600)
            }
            for (name, data) in extra {
                try SecureFile.create(temporary + "/" + name, contents: data, mode: 0o600)
            }
            try SecureFile.create(temporary + "/backup.json", contents: try CordonJSON.encode(record, pretty: true), mode: 0o600)
            guard rename(temporary, path(record.id)) == 0 else {
                throw AgentError.state("cannot store backup \(record.id): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        return record
    }

    public func load(_ id: String) throws -> BackupRecord {
        guard TaskAction.isBackupID(id) else { throw AgentError.state("\(id.prefix(80).debugDescription) is not a backup ID (bk-...)") }
        let file = path(id) + "/backup.json"
        guard FileManager.default.fileExists(atPath: file) else { throw AgentError.state("no backup \(id) in \(directory)") }
        do { return try CordonJSON.decode(BackupRecord.self, from: try SecureFile.read(file, limit: 1 << 20)) } catch {
            throw AgentError.state("backup \(id) is unreadable: \(error)")
        }
    }

    /// The bytes of a payload, checked against the digest recorded for it.
    public func contents(of entry: BackupRecord.FileEntry, in id: String) throws -> Data {
        let data = try SecureFile.read(path(id) + "/" + entry.payload, limit: 64 << 20)
        guard ScheduledTaskID.hexDigest(data) == entry.sha256 else {
            throw AgentError.state("backup \(id): \(entry.payload) does not match its recorded digest")
        }
        return data
    }

    public func extra(_ name: String, in id: String) throws -> Data {
        try SecureFile.read(path(id) + "/" + name, limit: 1 << 20)
    }

    /// Every backup, newest first; unreadable ones are skipped.
    public func list() -> [BackupRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { TaskAction.isBackupID($0) }.compactMap { try? load($0) }.sorted { $0.createdAt > $1.createdAt }
    }
}
