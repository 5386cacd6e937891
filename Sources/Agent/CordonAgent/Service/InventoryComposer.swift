import CordonShared
import Foundation
import Logging

/// Adds the jump host's inventory to a report when it is due (at most every
/// `inventory.interval`). Collection reads files and runs bounded subprocesses, so it runs on
/// a thread of its own rather than on the cooperative pool.
public final class InventoryComposer: ReportComposer, @unchecked Sendable {
    let config: InventoryConfig
    let logger: Logger
    /// Builds the collection context for a report's time (the demo points it at a crafted tree).
    let makeContext: @Sendable (Date) -> CollectionContext
    private let lock = NSLock()
    private var lastCollected: Date?

    public init(config: InventoryConfig, logger: Logger, makeContext: (@Sendable (Date) -> CollectionContext)? = nil) {
        self.config = config
        self.logger = logger
        self.makeContext = makeContext ?? { now in
            CollectionContext(root: config.root, now: now, failedLogonWindow: config.failedLogonWindow.seconds)
        }
    }

    /// Collects at the next report even if the interval has not passed (a refresh-inventory task).
    public func requestRefresh() {
        lock.withLock { lastCollected = nil }
    }

    public func compose(into report: inout AgentReport) async {
        guard config.enabled else { return }
        let due: Bool = lock.withLock {
            guard let last = lastCollected else { return true }
            return report.createdAt.timeIntervalSince(last) >= config.interval.seconds
        }
        guard due else { return }
        report.inventory = await Self.collect(makeContext(report.createdAt))
        lock.withLock { lastCollected = report.createdAt }
    }

    /// Runs the blocking collectors off the cooperative thread pool.
    static func collect(_ context: CollectionContext) async -> InventoryReport {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: InventoryCollector.collectAll(context))
            }
        }
    }
}
