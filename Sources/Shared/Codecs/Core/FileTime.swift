/// Windows FILETIME helpers (100 ns ticks since 1601-01-01 UTC).
public enum FileTime {
    /// Seconds between 1601-01-01 and 1970-01-01.
    public static let unixEpochOffsetSeconds: Int64 = 11_644_473_600

    /// Unix seconds for a FILETIME value (floor).
    public static func unixSeconds(_ fileTime: UInt64) -> Int64 {
        Int64(fileTime / 10_000_000) - unixEpochOffsetSeconds
    }

    /// FILETIME for unix seconds; clamps times before 1601 to 0.
    public static func fileTime(unixSeconds: Int64) -> UInt64 {
        let shifted = unixSeconds.addingReportingOverflow(unixEpochOffsetSeconds)
        guard !shifted.overflow, shifted.partialValue > 0 else { return 0 }
        let (ticks, overflow) = UInt64(shifted.partialValue).multipliedReportingOverflow(by: 10_000_000)
        return overflow ? UInt64.max : ticks
    }
}
