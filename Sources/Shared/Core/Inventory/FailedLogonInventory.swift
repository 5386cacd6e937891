import Foundation

/// Failed logons over a window before `now`, aggregated per (source address, account).
public struct FailedLogonInventory: Codable, Sendable, Equatable {
    public var windowStart: Date
    public var windowEnd: Date
    /// Sorted by count, highest first.
    public var aggregates: [FailedLogonAggregate]
    /// The logs read: `/var/log/auth.log`, `journal`, `/var/log/btmp`.
    public var sources: [String]
    /// Sources that were tried and could not be read, with the reason.
    public var unavailableSources: [String]
    /// `true` when a log was larger than the byte limit and only its tail was read.
    public var truncated: Bool
    /// Unparseable lines or records skipped.
    public var skippedLines: Int
    public var notes: [String]

    public init(
        windowStart: Date, windowEnd: Date, aggregates: [FailedLogonAggregate], sources: [String],
        unavailableSources: [String], truncated: Bool, skippedLines: Int, notes: [String]
    ) {
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.aggregates = aggregates
        self.sources = sources
        self.unavailableSources = unavailableSources
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
