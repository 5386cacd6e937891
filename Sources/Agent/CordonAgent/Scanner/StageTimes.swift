import CordonShared
import Synchronization

/// Where one scan's time went, stage by stage (``ScanStageTiming``): each stage's count, summed
/// and longest duration, and for `wall:` stages the span from the first start to the last end.
final class StageTimes: Sendable {
    private struct Entry {
        var count = 0
        var total: Duration = .zero
        var longest: Duration = .zero
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// One run of `stage` from `start` to `end`; it also stretches the `wall` stage, if given.
    func record(_ stage: String, from start: ContinuousClock.Instant, to end: ContinuousClock.Instant, wall: String? = nil) {
        let duration = end - start
        entries.withLock { entries in
            var entry = entries[stage] ?? Entry()
            entry.count += 1
            entry.total += duration
            entry.longest = max(entry.longest, duration)
            entries[stage] = entry
            if let wall {
                var span = entries[wall] ?? Entry()
                span.count += 1
                span.first = min(span.first ?? start, start)
                span.last = max(span.last ?? end, end)
                entries[wall] = span
            }
        }
    }

    /// Times `body` as one run of `stage`.
    func measure<T: Sendable>(_ stage: String, wall: String? = nil, _ body: () async -> T) async -> T {
        let start = ContinuousClock.now
        let result = await body()
        record(stage, from: start, to: .now, wall: wall)
        return result
    }

    /// Every stage, the most time first.
    var timings: [ScanStageTiming] {
        entries.withLock { $0 }.map { name, entry in
            if let first = entry.first, let last = entry.last {
                let span = last - first
                return ScanStageTiming(name: name, count: entry.count, totalSeconds: Self.seconds(span), maxSeconds: Self.seconds(span))
            }
            return ScanStageTiming(name: name, count: entry.count, totalSeconds: Self.seconds(entry.total), maxSeconds: Self.seconds(entry.longest))
        }.sorted { ($0.totalSeconds, $1.name) > ($1.totalSeconds, $0.name) }
    }

    /// Seconds to the millisecond.
    static func seconds(_ d: Duration) -> Double {
        let (s, attoseconds) = d.components
        return ((Double(s) + Double(attoseconds) / 1e18) * 1000).rounded() / 1000
    }
}
