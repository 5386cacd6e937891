/// What the nftables ruleset does to the worm ports.
public struct FirewallInventory: Codable, Sendable, Equatable {
    /// Every table in the ruleset.
    public var tables: [FirewallTableSummary]
    /// Whether Cordon's own table `inet cordon` exists.
    public var cordonTablePresent: Bool
    /// One entry per worm port (TCP 135, 139, 445, 593; UDP 135, 137, 138, 445).
    public var wormPorts: [WormPortFilter]
    /// Ruleset objects that could not be interpreted.
    public var skippedObjects: Int
    public var notes: [String]

    public init(
        tables: [FirewallTableSummary], cordonTablePresent: Bool, wormPorts: [WormPortFilter],
        skippedObjects: Int, notes: [String]
    ) {
        self.tables = tables
        self.cordonTablePresent = cordonTablePresent
        self.wormPorts = wormPorts
        self.skippedObjects = skippedObjects
        self.notes = notes
    }
}
