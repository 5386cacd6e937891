/// Listening TCP sockets and bound UDP sockets of the host, from `/proc/net/{tcp,tcp6,udp,udp6}`.
public struct SocketInventory: Codable, Sendable, Equatable {
    public var sockets: [ListeningSocket]
    /// `false` when some processes' file descriptors could not be read (not root), so some
    /// sockets have no known owner.
    public var ownersComplete: Bool
    /// The `/proc/net` tables that were read, relative to the collection root.
    public var sources: [String]
    /// `true` when the socket count limit cut the list short.
    public var truncated: Bool
    /// Malformed table lines that were skipped.
    public var skippedLines: Int
    public var notes: [String]

    public init(
        sockets: [ListeningSocket], ownersComplete: Bool, sources: [String],
        truncated: Bool, skippedLines: Int, notes: [String]
    ) {
        self.sockets = sockets
        self.ownersComplete = ownersComplete
        self.sources = sources
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
