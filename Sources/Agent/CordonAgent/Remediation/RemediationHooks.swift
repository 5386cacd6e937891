/// What `rescan` and `refresh-inventory` ask of the rest of the agent. The owner of the agent
/// service wires these to the scanner and the inventory composer; the actions never change the
/// host, so they report `unchanged` with the returned line as their detail.
public protocol RemediationHooks: Sendable {
    /// Asks for a scan of the segment now. Returns a line for the result (`scan started`);
    /// throws when it cannot be asked (the action then fails).
    func requestRescan() async throws -> String
    /// Asks for the inventory to be collected and reported now.
    func requestInventoryRefresh() async throws -> String
}

/// For `cordon-agent apply`: no scanner runs in that process, so nothing is requested; the
/// running agent's own schedule will scan and collect.
public struct OfflineRemediationHooks: RemediationHooks {
    public init() {}

    public func requestRescan() async throws -> String {
        "not requested: no agent service in this process (cordon-agent apply); the running agent scans on its own schedule"
    }

    public func requestInventoryRefresh() async throws -> String {
        "not requested: no agent service in this process (cordon-agent apply); run `cordon-agent inventory` to see it now"
    }
}

/// The running agent's hooks, as closures so that remediation does not depend on the scanner:
/// `rescan` is `ScanService.requestRescan` (nil when the agent has no `scan:` section),
/// `refreshInventory` is `InventoryComposer.requestRefresh`.
public struct AgentRemediationHooks: RemediationHooks {
    let rescan: (@Sendable () -> Void)?
    let refreshInventory: @Sendable () -> Void

    public init(rescan: (@Sendable () -> Void)?, refreshInventory: @escaping @Sendable () -> Void) {
        self.rescan = rescan
        self.refreshInventory = refreshInventory
    }

    public func requestRescan() async throws -> String {
        guard let rescan else { return "not requested: this agent does not scan (no scan: section in its config)" }
        rescan()
        return "scan requested; its results come with the next report"
    }

    public func requestInventoryRefresh() async throws -> String {
        refreshInventory()
        return "inventory collection requested; it comes with the next report"
    }
}
