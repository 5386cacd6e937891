import CordonShared
import Foundation

/// The entry point of the inventory: runs every collector on one context.
public enum InventoryCollector {
    /// Collects every section. Synchronous and blocking (it reads files and may run rpm,
    /// journalctl and nft, each bounded by `context.limits`): call it off the cooperative pool,
    /// or accept that it blocks one of its threads for at most a few command timeouts.
    /// A section that fails is `unavailable` and never stops the others.
    public static func collectAll(_ context: CollectionContext) -> InventoryReport {
        InventoryReport(
            collectedAt: context.now,
            packages: PackageCollector.collect(context),
            listeningSockets: SocketCollector.collect(context),
            accounts: AccountCollector.collect(context),
            sshKeys: SSHKeyCollector.collect(context),
            scheduledTasks: ScheduledTaskCollector.collect(context),
            failedLogons: FailedLogonCollector.collect(context),
            firewall: FirewallCollector.collect(context)
        )
    }
}
