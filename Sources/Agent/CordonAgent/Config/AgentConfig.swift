import CordonShared
import Foundation

/// `agent.yaml`: where the agent keeps its state, and how often it talks to the coordinator.
///
/// ```yaml
/// stateDir: /var/lib/cordon-agent
/// heartbeatInterval: 30s
/// reportInterval: 5m
/// jitter: 0.1
/// maxBackoff: 5m
/// spool:
///   maxSize: 64MiB
/// ```
/// The coordinator's URL and CA come from enrollment (stored in the state directory);
/// `coordinator:` here overrides the URL, for a coordinator that moved.
public struct AgentConfig: Codable, Sendable, Equatable {
    public struct Spool: Codable, Sendable, Equatable {
        public var maxSize: ConfigByteSize
        public init(maxSize: ConfigByteSize = .init(bytes: 64 << 20)) { self.maxSize = maxSize }
    }

    public var stateDir: String
    public var coordinator: String?
    public var heartbeatInterval: ConfigDuration
    public var reportInterval: ConfigDuration
    /// Fraction of an interval by which each wait is randomly lengthened or shortened.
    public var jitter: Double
    /// The longest wait between retries while the coordinator is unreachable.
    public var maxBackoff: ConfigDuration
    /// Renew the certificate when less than this fraction of its lifetime is left.
    public var renewAtFraction: Double
    public var spool: Spool
    /// The segment scan; none when the config has no `scan:` section.
    public var scan: ScanConfig?
    /// The jump host's inventory; collected by default.
    public var inventory: InventoryConfig
    /// The local remediation policy: which actions may run, which accounts and units are protected.
    public var policyFile: String

    public init(stateDir: String = "/var/lib/cordon-agent", coordinator: String? = nil,
                heartbeatInterval: ConfigDuration = .init(seconds: 30), reportInterval: ConfigDuration = .init(seconds: 300),
                jitter: Double = 0.1, maxBackoff: ConfigDuration = .init(seconds: 300), renewAtFraction: Double = 1.0 / 3.0,
                spool: Spool = .init(), scan: ScanConfig? = nil, inventory: InventoryConfig = .init(),
                policyFile: String = "/etc/cordon/policy.yaml") {
        self.stateDir = stateDir
        self.coordinator = coordinator
        self.heartbeatInterval = heartbeatInterval
        self.reportInterval = reportInterval
        self.jitter = jitter
        self.maxBackoff = maxBackoff
        self.renewAtFraction = renewAtFraction
        self.spool = spool
        self.scan = scan
        self.inventory = inventory
        self.policyFile = policyFile
    }

    enum CodingKeys: String, CodingKey {
        case stateDir, coordinator, heartbeatInterval, reportInterval, jitter, maxBackoff, renewAtFraction, spool, scan, inventory, policyFile
    }

    public init(from decoder: any Decoder) throws {
        let d = AgentConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stateDir = try c.decodeIfPresent(String.self, forKey: .stateDir) ?? d.stateDir
        coordinator = try c.decodeIfPresent(String.self, forKey: .coordinator)
        heartbeatInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .heartbeatInterval) ?? d.heartbeatInterval
        reportInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .reportInterval) ?? d.reportInterval
        jitter = try c.decodeIfPresent(Double.self, forKey: .jitter) ?? d.jitter
        maxBackoff = try c.decodeIfPresent(ConfigDuration.self, forKey: .maxBackoff) ?? d.maxBackoff
        renewAtFraction = try c.decodeIfPresent(Double.self, forKey: .renewAtFraction) ?? d.renewAtFraction
        spool = try c.decodeIfPresent(Spool.self, forKey: .spool) ?? d.spool
        scan = try c.decodeIfPresent(ScanConfig.self, forKey: .scan)
        inventory = try c.decodeIfPresent(InventoryConfig.self, forKey: .inventory) ?? d.inventory
        policyFile = try c.decodeIfPresent(String.self, forKey: .policyFile) ?? d.policyFile
    }

    static var schema: ConfigSchema {
        .mapping([
            "stateDir": .scalar, "coordinator": .scalar, "heartbeatInterval": .scalar, "reportInterval": .scalar,
            "jitter": .scalar, "maxBackoff": .scalar, "renewAtFraction": .scalar,
            "spool": .mapping(["maxSize": .scalar]),
            "scan": ScanConfig.schema,
            "inventory": InventoryConfig.schema,
            "policyFile": .scalar,
        ])
    }

    /// The default config file location.
    public static let defaultPath = "/etc/cordon/agent.yaml"

    public static func load(path: String) throws -> AgentConfig {
        let config = try ConfigFile.load(AgentConfig.self, path: path, schema: schema)
        try config.validate(origin: path)
        return config
    }

    public func validate(origin: String) throws {
        func fail(_ message: String) -> CordonError { CordonError.invalidArgument("\(origin): \(message)") }
        guard !stateDir.isEmpty else { throw fail("stateDir must not be empty") }
        guard heartbeatInterval.seconds >= 0.05, heartbeatInterval.seconds <= 86400 else { throw fail("heartbeatInterval must be between 50ms and 1d") }
        guard reportInterval.seconds >= 0.05, reportInterval.seconds <= 7 * 86400 else { throw fail("reportInterval must be between 50ms and 7d") }
        guard (0...0.5).contains(jitter) else { throw fail("jitter must be between 0 and 0.5") }
        guard maxBackoff.seconds >= 0.1, maxBackoff.seconds <= 86400 else { throw fail("maxBackoff must be between 100ms and 1d") }
        guard renewAtFraction > 0, renewAtFraction < 1 else { throw fail("renewAtFraction must be between 0 and 1") }
        guard spool.maxSize.bytes >= 64 * 1024 else { throw fail("spool.maxSize must be at least 64KiB") }
        if let coordinator, !coordinator.hasPrefix("https://") { throw fail("coordinator must be an https:// URL") }
        try scan?.validate(origin: origin)
        try inventory.validate(origin: origin)
    }
}
