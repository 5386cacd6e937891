import CordonShared
import Foundation
import Logging

/// Adds the jump host's inventory to a report when it is due (at most every
/// `inventory.interval`). Collection reads files and runs bounded subprocesses, so it runs on
/// a thread of its own rather than on the cooperative pool.
public final class InventoryComposer: ReportComposer, @unchecked Sendable {
    let config: InventoryConfig
    let logger: Logger
    private let lock = NSLock()
    private var lastCollected: Date?

    public init(config: InventoryConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func compose(into report: inout AgentReport) async {
        guard config.enabled else { return }
        let due: Bool = lock.withLock {
            guard let last = lastCollected else { return true }
            return report.createdAt.timeIntervalSince(last) >= config.interval.seconds
        }
        guard due else { return }
        let context = CollectionContext(root: config.root, now: report.createdAt, failedLogonWindow: config.failedLogonWindow.seconds)
        report.inventory = await Self.collect(context)
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
