/// One scheduled task, with an ID that stays the same across collections while the entry does.
public struct ScheduledTaskEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case cron
        case at
        case systemdTimer = "systemd-timer"
    }

    /// Stable ID: `<kind>:` + the first 16 hex digits of a SHA-256 over the source path, the
    /// normalised content and the occurrence index among identical entries of the same source.
    /// A cleanup task names an entry by this ID.
    public var id: String
    public var kind: Kind
    /// The file that defines the entry, relative to the collection root (`/etc/cron.d/backup`).
    public var source: String
    /// 1-based line number for cron entries.
    public var line: Int?
    /// The user the command runs as, `nil` when unknown.
    public var user: String?
    /// `*/5 * * * *`, `@reboot`, an at job's run time (ISO 8601), `OnCalendar=daily`, ...
    public var schedule: String
    /// The command (cron), the script body (at) or the service's `ExecStart` (timer).
    public var command: String
    /// Whether the scheduler will run it (cron ignores some `cron.d` names; a timer must be
    /// linked in a `.wants` directory; an at job must be executable in the spool).
    public var enabled: Bool
    /// Paths in the command under /tmp, /var/tmp, /dev/shm or that are world-writable.
    public var suspiciousPaths: [String]
    /// at jobs: queue letter and job number.
    public var atQueue: String?
    public var atJobNumber: Int?

    public init(
        id: String, kind: Kind, source: String, line: Int?, user: String?, schedule: String,
        command: String, enabled: Bool, suspiciousPaths: [String], atQueue: String? = nil, atJobNumber: Int? = nil
    ) {
        self.id = id
        self.kind = kind
        self.source = source
        self.line = line
        self.user = user
        self.schedule = schedule
        self.command = command
        self.enabled = enabled
        self.suspiciousPaths = suspiciousPaths
        self.atQueue = atQueue
        self.atJobNumber = atJobNumber
    }
}
