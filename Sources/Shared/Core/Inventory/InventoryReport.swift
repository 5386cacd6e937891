import Foundation

/// The jump host's own inventory, as collected by the agent's inventory collectors.
///
/// Every section is collected independently: one that fails is `unavailable` with a reason and
/// never stops the others. The System section (hostname, OS, kernel, addresses) lives elsewhere.
public struct InventoryReport: Codable, Sendable, Equatable {
    /// When the collection ran (the collectors' injected `now`).
    public var collectedAt: Date
    /// Installed packages (dpkg, rpm).
    public var packages: InventorySection<PackageInventory>
    /// TCP sockets in LISTEN and bound UDP sockets, with their owning processes.
    public var listeningSockets: InventorySection<SocketInventory>
    /// Local accounts, password state (never the hash), admin membership.
    public var accounts: InventorySection<AccountInventory>
    /// `authorized_keys` entries of every account (fingerprints, never the keys).
    public var sshKeys: InventorySection<SSHKeyInventory>
    /// cron, at and systemd timer entries with stable IDs.
    public var scheduledTasks: InventorySection<ScheduledTaskInventory>
    /// Failed logons aggregated per source address and account.
    public var failedLogons: InventorySection<FailedLogonInventory>
    /// Whether the worm ports are blocked by the nftables ruleset.
    public var firewall: InventorySection<FirewallInventory>

    public init(
        collectedAt: Date,
        packages: InventorySection<PackageInventory>,
        listeningSockets: InventorySection<SocketInventory>,
        accounts: InventorySection<AccountInventory>,
        sshKeys: InventorySection<SSHKeyInventory>,
        scheduledTasks: InventorySection<ScheduledTaskInventory>,
        failedLogons: InventorySection<FailedLogonInventory>,
        firewall: InventorySection<FirewallInventory>
    ) {
        self.collectedAt = collectedAt
        self.packages = packages
        self.listeningSockets = listeningSockets
        self.accounts = accounts
        self.sshKeys = sshKeys
        self.scheduledTasks = scheduledTasks
        self.failedLogons = failedLogons
        self.firewall = firewall
    }
}
