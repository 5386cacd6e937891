/// Scheduled tasks: cron tables, at jobs and systemd timers.
public struct ScheduledTaskInventory: Codable, Sendable, Equatable {
    public var entries: [ScheduledTaskEntry]
    /// The files and directories read (relative to the collection root).
    public var sources: [String]
    /// Sources that exist but could not be read, with the reason.
    public var unreadable: [String]
    /// `true` when the entry count limit cut the list short.
    public var truncated: Bool
    /// Malformed or over-long lines skipped.
    public var skippedLines: Int
    public var notes: [String]

    public init(
        entries: [ScheduledTaskEntry], sources: [String], unreadable: [String],
        truncated: Bool, skippedLines: Int, notes: [String]
    ) {
        self.entries = entries
        self.sources = sources
        self.unreadable = unreadable
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
