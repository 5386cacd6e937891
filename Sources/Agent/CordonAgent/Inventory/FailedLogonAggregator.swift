import CordonShared
import Foundation

/// Aggregates failed-logon events per (source, account) within a window.
///
/// The same attempt is usually logged several times (sshd's `Failed password`, PAM's
/// `authentication failure`, a btmp record), so the aggregate's `count` is the largest count of
/// any single kind of evidence, not their sum: a lower bound that never double counts.
struct FailedLogonAggregator {
    private struct Key: Hashable {
        var source: String
        var account: String
    }

    private struct Bucket {
        var first: Date
        var last: Date
        var counts: [FailedLogonAggregate.Evidence: Int] = [:]
    }

    let windowStart: Date
    let windowEnd: Date
    private var buckets: [Key: Bucket] = [:]
    private(set) var outsideWindow = 0

    init(windowStart: Date, windowEnd: Date) {
        self.windowStart = windowStart
        self.windowEnd = windowEnd
    }

    mutating func add(_ event: FailedLogonEvent) {
        guard event.date >= windowStart, event.date <= windowEnd else {
            outsideWindow += 1
            return
        }
        let key = Key(source: event.source, account: event.account)
        var bucket = buckets[key] ?? Bucket(first: event.date, last: event.date)
        bucket.first = min(bucket.first, event.date)
        bucket.last = max(bucket.last, event.date)
        bucket.counts[event.evidence, default: 0] += event.count
        buckets[key] = bucket
    }

    /// Highest count first, then by source and account, at most `limit`.
    func aggregates(limit: Int) -> (aggregates: [FailedLogonAggregate], truncated: Bool) {
        let all = buckets.map { key, bucket in
            FailedLogonAggregate(
                source: key.source, account: key.account, count: bucket.counts.values.max() ?? 0,
                first: bucket.first, last: bucket.last,
                countsByEvidence: Dictionary(uniqueKeysWithValues: bucket.counts.map { ($0.key.rawValue, $0.value) }),
                evidence: bucket.counts.keys.sorted { $0.rawValue < $1.rawValue }
            )
        }
        .sorted { ($0.count, $1.source, $1.account) > ($1.count, $0.source, $0.account) }
        return (Array(all.prefix(limit)), all.count > limit)
    }
}
