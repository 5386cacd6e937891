/// An nftables table and its chains.
public struct FirewallTableSummary: Codable, Sendable, Equatable {
    /// `ip`, `ip6`, `inet`, `arp`, `bridge`, `netdev`.
    public var family: String
    public var name: String
    /// Chain names; base chains as `name (hook input, priority 0, policy drop)`.
    public var chains: [String]

    public init(family: String, name: String, chains: [String]) {
        self.family = family
        self.name = name
        self.chains = chains
    }
}
