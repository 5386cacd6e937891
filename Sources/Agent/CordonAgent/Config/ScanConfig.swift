import CordonShared
import Foundation

/// `scan:` in agent.yaml: what the agent scans in its segment, and how hard.
///
/// ```yaml
/// scan:
///   scope: [198.18.1.0/24]
///   exclude: [198.18.1.1]
///   profile: worms
///   interval: 1h
///   rate: 2000            # new connects per second, at most
///   concurrency: 2048     # connects in flight, at most
///   timeout: 1s           # initial per-probe timeout (adapts to measured RTT)
///   retries: 1            # extra tries for a probe that timed out
///   maxScopeSize: 65536   # addresses; a larger scope is refused...
///   allowLargeScope: false  # ...unless this is true
///   skipNetworkAndBroadcast: false  # true: each scope CIDR is a whole subnet; leave out its
///                                   # first and last address (listed in the scan's stats)
///   icmpEcho: true        # ping addresses whose probed ports all stayed silent (needs
///                         # CAP_NET_RAW or ping_group_range; the stats say when it could not)
///   sensor:               # the passive sensor: who tries the jump host's 135/139/445
///     enabled: false
///     threshold: 3        # attempts from one address within the window: general.worm-spreading
///     window: 10m
/// ```
public struct ScanConfig: Codable, Sendable, Equatable {
    public var scope: [String]
    public var exclude: [String]
    public var profile: String
    public var interval: ConfigDuration
    public var rate: Int
    public var concurrency: Int
    public var timeout: ConfigDuration
    public var retries: Int
    public var maxScopeSize: Int
    public var allowLargeScope: Bool
    /// Each scope entry shorter than /31 is a whole subnet: leave out its network and
    /// broadcast addresses. Off by default, as in nmap: a CIDR is often a slice of a subnet.
    public var skipNetworkAndBroadcast: Bool
    /// ICMP echo discovery of addresses whose probed ports all stayed silent: such a host is
    /// listed up, with every probed port filtered (reason `echo-reply`), instead of down.
    public var icmpEcho: Bool
    /// The passive worm sensor (``WormSpreadSensor``); its findings go into each scan report.
    public var sensor: SensorConfig

    public init(scope: [String] = [], exclude: [String] = [], profile: String = "worms", interval: ConfigDuration = .init(seconds: 3600),
                rate: Int = 2000, concurrency: Int = 2048, timeout: ConfigDuration = .init(seconds: 1), retries: Int = 1,
                maxScopeSize: Int = 65536, allowLargeScope: Bool = false, skipNetworkAndBroadcast: Bool = false,
                icmpEcho: Bool = true, sensor: SensorConfig = .init()) {
        self.scope = scope
        self.exclude = exclude
        self.profile = profile
        self.interval = interval
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.maxScopeSize = maxScopeSize
        self.allowLargeScope = allowLargeScope
        self.skipNetworkAndBroadcast = skipNetworkAndBroadcast
        self.icmpEcho = icmpEcho
        self.sensor = sensor
    }

    enum CodingKeys: String, CodingKey {
        case scope, exclude, profile, interval, rate, concurrency, timeout, retries, maxScopeSize, allowLargeScope, skipNetworkAndBroadcast, icmpEcho, sensor
    }

    public init(from decoder: any Decoder) throws {
        let d = ScanConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scope = try c.decodeIfPresent([String].self, forKey: .scope) ?? d.scope
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        profile = try c.decodeIfPresent(String.self, forKey: .profile) ?? d.profile
        interval = try c.decodeIfPresent(ConfigDuration.self, forKey: .interval) ?? d.interval
        rate = try c.decodeIfPresent(Int.self, forKey: .rate) ?? d.rate
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? d.concurrency
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? d.timeout
        retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? d.retries
        maxScopeSize = try c.decodeIfPresent(Int.self, forKey: .maxScopeSize) ?? d.maxScopeSize
        allowLargeScope = try c.decodeIfPresent(Bool.self, forKey: .allowLargeScope) ?? d.allowLargeScope
        skipNetworkAndBroadcast = try c.decodeIfPresent(Bool.self, forKey: .skipNetworkAndBroadcast) ?? d.skipNetworkAndBroadcast
        icmpEcho = try c.decodeIfPresent(Bool.self, forKey: .icmpEcho) ?? d.icmpEcho
        sensor = try c.decodeIfPresent(SensorConfig.self, forKey: .sensor) ?? d.sensor
    }

    static var schema: ConfigSchema {
        .mapping([
            "scope": .list(.scalar), "exclude": .list(.scalar), "profile": .scalar, "interval": .scalar, "rate": .scalar,
            "concurrency": .scalar, "timeout": .scalar, "retries": .scalar, "maxScopeSize": .scalar, "allowLargeScope": .scalar,
            "skipNetworkAndBroadcast": .scalar, "icmpEcho": .scalar, "sensor": SensorConfig.schema,
        ])
    }

    public func validate(origin: String) throws {
        func fail(_ message: String) -> CordonError { CordonError.invalidArgument("\(origin): scan.\(message)") }
        guard interval.seconds >= 1 else { throw fail("interval must be at least 1s") }
        guard (1...100_000).contains(rate) else { throw fail("rate must be 1-100000 connects per second") }
        guard (1...16384).contains(concurrency) else { throw fail("concurrency must be 1-16384") }
        guard timeout.seconds >= 0.01, timeout.seconds <= 60 else { throw fail("timeout must be between 10ms and 60s") }
        guard (0...10).contains(retries) else { throw fail("retries must be 0-10") }
        guard maxScopeSize >= 1 else { throw fail("maxScopeSize must be at least 1") }
        try sensor.validate(origin: origin)
    }
}
