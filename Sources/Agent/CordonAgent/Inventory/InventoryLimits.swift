/// Bounds on everything the inventory collectors read, so that a hostile or broken host cannot
/// make the agent read, allocate or wait without end.
public struct InventoryLimits: Sendable, Equatable {
    /// Largest prefix read from a configuration-style file (passwd, crontab, dpkg status, ...).
    public var maxFileBytes: Int
    /// Largest tail read from a log (auth.log, btmp); older content is skipped.
    public var maxLogBytes: Int
    /// Longest line considered; longer lines are skipped and counted.
    public var maxLineLength: Int
    /// Most entries kept per section (packages, sockets, accounts, keys, tasks, aggregates).
    public var maxEntries: Int
    /// Most files read from one directory (cron.d, sudoers.d, the at spool, /proc).
    public var maxDirectoryEntries: Int
    /// Longest text kept for one field (package version, command, comment).
    public var maxFieldLength: Int
    /// Longest a subprocess (rpm, journalctl, nft) may run.
    public var commandTimeout: Duration
    /// Most bytes kept from a subprocess's standard output.
    public var maxCommandOutputBytes: Int

    public init(
        maxFileBytes: Int = 16 << 20,
        maxLogBytes: Int = 32 << 20,
        maxLineLength: Int = 64 << 10,
        maxEntries: Int = 50_000,
        maxDirectoryEntries: Int = 10_000,
        maxFieldLength: Int = 4096,
        commandTimeout: Duration = .seconds(20),
        maxCommandOutputBytes: Int = 32 << 20
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxLogBytes = maxLogBytes
        self.maxLineLength = maxLineLength
        self.maxEntries = maxEntries
        self.maxDirectoryEntries = maxDirectoryEntries
        self.maxFieldLength = maxFieldLength
        self.commandTimeout = commandTimeout
        self.maxCommandOutputBytes = maxCommandOutputBytes
    }

    /// The defaults.
    public static let standard = InventoryLimits()
}
