import Foundation

/// The task-list sequence numbers an agent has accepted, as sorted, disjoint, non-adjacent
/// closed ranges. A list is a replay exactly when its number is in the set: a number the agent
/// never accepted (a list queued while a later one ran first, or one exported and applied out
/// of order) is not a replay, whatever the highest number seen.
///
/// Gaps come only from lists that never reached the agent (cancelled, expired, superseded
/// elsewhere), so the set stays a few ranges long. It is still bounded: past `maxRanges` the
/// lowest gaps are closed (counted as seen), which can only refuse an old list, never run one
/// twice.
public struct SequenceSet: Codable, Sendable, Equatable {
    public static let maxRanges = 4096

    /// `[low, high]` pairs, sorted, with at least one unseen number between neighbours.
    public private(set) var ranges: [[Int64]]

    public init() { ranges = [] }

    /// Every number from 1 to `last`: what an agent that kept only its highest number knew.
    public init(through last: Int64) { ranges = last >= 1 ? [[1, last]] : [] }

    /// Checks a decoded set: pairs of low <= high, sorted and not touching; else nil.
    public init?(ranges: [[Int64]]) {
        var previous: Int64? = nil
        for pair in ranges {
            guard pair.count == 2, pair[0] >= 1, pair[0] <= pair[1] else { return nil }
            if let previous, pair[0] <= previous &+ 1 { return nil }
            previous = pair[1]
        }
        self.ranges = ranges
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let valid = SequenceSet(ranges: try container.decode([[Int64]].self)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "sequence ranges are not sorted, disjoint [low, high] pairs"))
        }
        self = valid
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ranges)
    }

    /// The highest number accepted; 0 when none.
    public var highest: Int64 { ranges.last?[1] ?? 0 }

    public func contains(_ n: Int64) -> Bool {
        // Binary search for the last range starting at or below n.
        var low = 0, high = ranges.count - 1, found = -1
        while low <= high {
            let mid = (low + high) / 2
            if ranges[mid][0] <= n { found = mid; low = mid + 1 } else { high = mid - 1 }
        }
        return found >= 0 && n <= ranges[found][1]
    }

    /// Adds `n` (a no-op when present), merging with touching ranges.
    public mutating func insert(_ n: Int64) {
        guard n >= 1, !contains(n) else { return }
        let index = ranges.firstIndex { $0[0] > n } ?? ranges.count
        let joinsPrevious = index > 0 && ranges[index - 1][1] == n - 1
        let joinsNext = index < ranges.count && ranges[index][0] == n + 1
        switch (joinsPrevious, joinsNext) {
        case (true, true):
            ranges[index - 1][1] = ranges[index][1]
            ranges.remove(at: index)
        case (true, false): ranges[index - 1][1] = n
        case (false, true): ranges[index][0] = n
        case (false, false): ranges.insert([n, n], at: index)
        }
        while ranges.count > Self.maxRanges {
            // Close the lowest gap: the oldest unseen numbers become "seen" (refused if they come).
            ranges[0][1] = ranges[1][1]
            ranges.remove(at: 1)
        }
    }

    /// For messages: `1-7, 9, 12-14`.
    public var summary: String {
        ranges.isEmpty ? "none" : ranges.map { $0[0] == $0[1] ? "\($0[0])" : "\($0[0])-\($0[1])" }.joined(separator: ", ")
    }
}
