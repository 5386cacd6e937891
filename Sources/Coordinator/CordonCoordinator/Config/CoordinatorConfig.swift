import CordonShared
import Foundation

/// `coordinator.yaml`: where the coordinator keeps its state, where it listens, its limits.
///
/// ```yaml
/// stateDir: /var/lib/cordon
/// listen:
///   host: 0.0.0.0
///   port: 8443
/// maxBodySize: 16MiB
/// agentCertificateLifetime: 30d
/// operatorCertificateLifetime: 365d
/// handshakeTimeout: 10s
/// idleTimeout: 35s
/// maxConnections: 0          # 0: from the open-files limit
/// maxHandshakesPerAddress: 64
/// reportRetention:
///   keepPerAgent: 20
///   bodyMaxAge: 7d
/// reportIngest:
///   maxConcurrent: 16        # reports read and stored at once
///   maxWait: 15s             # then 503 busy; the agent sends it again later
/// metricsListen:             # absent: no plain-HTTP metrics listener
///   host: 127.0.0.1
///   port: 9469
/// ```
public struct CoordinatorConfig: Codable, Sendable, Equatable {
    public struct Listen: Codable, Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String = "0.0.0.0", port: Int = 8443) {
            self.host = host
            self.port = port
        }
    }

    public var stateDir: String
    public var listen: Listen
    public var maxBodySize: ConfigByteSize
    public var agentCertificateLifetime: ConfigDuration
    public var operatorCertificateLifetime: ConfigDuration
    /// How long a task long-poll is held open before it answers "nothing yet".
    public var longPollTimeout: ConfigDuration
    /// Thresholds for the findings derived from jump-host inventories.
    public var inventoryPolicy: InventoryPolicy
    /// A connection whose TLS handshake has not finished this long after it opened is closed.
    public var handshakeTimeout: ConfigDuration
    /// A connection with no request in progress for this long is closed: idle keep-alive, and a
    /// client that drips a request head. Longer than the agents' own pool idle time (20 s).
    public var idleTimeout: ConfigDuration
    /// Open connections at most; 0 means the open-files limit less a reserve of 256.
    public var maxConnections: Int
    /// Connections one address may have in the TLS handshake at once.
    public var maxHandshakesPerAddress: Int
    /// Where the plain-HTTP `/metrics` listener binds (host 127.0.0.1 unless given); nil: none,
    /// and `/metrics` is only on the mTLS API for operator certificates.
    public var metricsListen: Listen?
    /// How many raw reports are kept per agent, and how long their bodies.
    public var reportRetention: ReportRetention
    /// How many reports are read and stored at once, and how long one waits for its turn.
    public var reportIngest: ReportIngest

    public struct ReportIngest: Codable, Sendable, Equatable {
        public var maxConcurrent: Int
        public var maxWait: ConfigDuration
        public init(maxConcurrent: Int = 16, maxWait: ConfigDuration = .init(seconds: 15)) {
            self.maxConcurrent = maxConcurrent
            self.maxWait = maxWait
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = ReportIngest()
            maxConcurrent = try c.decodeIfPresent(Int.self, forKey: .maxConcurrent) ?? defaults.maxConcurrent
            maxWait = try c.decodeIfPresent(ConfigDuration.self, forKey: .maxWait) ?? defaults.maxWait
        }
    }

    public init(stateDir: String = "/var/lib/cordon", listen: Listen = .init(), maxBodySize: ConfigByteSize = .init(bytes: 16 << 20),
                agentCertificateLifetime: ConfigDuration = .init(seconds: 30 * 86400),
                operatorCertificateLifetime: ConfigDuration = .init(seconds: 365 * 86400),
                longPollTimeout: ConfigDuration = .init(seconds: 25), inventoryPolicy: InventoryPolicy = .init(),
                handshakeTimeout: ConfigDuration = .init(seconds: 10), idleTimeout: ConfigDuration = .init(seconds: 35),
                maxConnections: Int = 0, maxHandshakesPerAddress: Int = 64, metricsListen: Listen? = nil,
                reportRetention: ReportRetention = .init(), reportIngest: ReportIngest = .init()) {
        self.stateDir = stateDir
        self.listen = listen
        self.maxBodySize = maxBodySize
        self.agentCertificateLifetime = agentCertificateLifetime
        self.operatorCertificateLifetime = operatorCertificateLifetime
        self.longPollTimeout = longPollTimeout
        self.inventoryPolicy = inventoryPolicy
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxHandshakesPerAddress = maxHandshakesPerAddress
        self.metricsListen = metricsListen
        self.reportRetention = reportRetention
        self.reportIngest = reportIngest
    }

    enum CodingKeys: String, CodingKey {
        case stateDir, listen, maxBodySize, agentCertificateLifetime, operatorCertificateLifetime, longPollTimeout, inventoryPolicy
        case handshakeTimeout, idleTimeout, maxConnections, maxHandshakesPerAddress, metricsListen, reportRetention, reportIngest
    }

    public init(from decoder: any Decoder) throws {
        let defaults = CoordinatorConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stateDir = try c.decodeIfPresent(String.self, forKey: .stateDir) ?? defaults.stateDir
        if let listen = try c.decodeIfPresent(PartialListen.self, forKey: .listen) {
            self.listen = Listen(host: listen.host ?? defaults.listen.host, port: listen.port ?? defaults.listen.port)
        } else {
            self.listen = defaults.listen
        }
        maxBodySize = try c.decodeIfPresent(ConfigByteSize.self, forKey: .maxBodySize) ?? defaults.maxBodySize
        agentCertificateLifetime = try c.decodeIfPresent(ConfigDuration.self, forKey: .agentCertificateLifetime) ?? defaults.agentCertificateLifetime
        operatorCertificateLifetime = try c.decodeIfPresent(ConfigDuration.self, forKey: .operatorCertificateLifetime) ?? defaults.operatorCertificateLifetime
        longPollTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .longPollTimeout) ?? defaults.longPollTimeout
        inventoryPolicy = try c.decodeIfPresent(InventoryPolicy.self, forKey: .inventoryPolicy) ?? defaults.inventoryPolicy
        handshakeTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .handshakeTimeout) ?? defaults.handshakeTimeout
        idleTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .idleTimeout) ?? defaults.idleTimeout
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? defaults.maxConnections
        maxHandshakesPerAddress = try c.decodeIfPresent(Int.self, forKey: .maxHandshakesPerAddress) ?? defaults.maxHandshakesPerAddress
        if let metrics = try c.decodeIfPresent(PartialListen.self, forKey: .metricsListen) {
            // A missing port is left out of range, for `validate` to name.
            metricsListen = Listen(host: metrics.host ?? Self.metricsHost, port: metrics.port ?? -1)
        }
        reportRetention = try c.decodeIfPresent(ReportRetention.self, forKey: .reportRetention) ?? defaults.reportRetention
        reportIngest = try c.decodeIfPresent(ReportIngest.self, forKey: .reportIngest) ?? defaults.reportIngest
    }

    /// Where the metrics listener binds when only its port is given.
    public static let metricsHost = "127.0.0.1"

    private struct PartialListen: Codable {
        var host: String?
        var port: Int?
    }

    static let schema = ConfigSchema.mapping([
        "stateDir": .scalar,
        "listen": .mapping(["host": .scalar, "port": .scalar]),
        "maxBodySize": .scalar,
        "agentCertificateLifetime": .scalar,
        "operatorCertificateLifetime": .scalar,
        "longPollTimeout": .scalar,
        "inventoryPolicy": InventoryPolicy.schema,
        "handshakeTimeout": .scalar,
        "idleTimeout": .scalar,
        "maxConnections": .scalar,
        "maxHandshakesPerAddress": .scalar,
        "metricsListen": .mapping(["host": .scalar, "port": .scalar]),
        "reportRetention": ReportRetention.schema,
        "reportIngest": .mapping(["maxConcurrent": .scalar, "maxWait": .scalar]),
    ])

    public static func load(path: String) throws -> CoordinatorConfig {
        let config = try ConfigFile.load(CoordinatorConfig.self, path: path, schema: schema)
        try config.validate(origin: path)
        return config
    }

    public func validate(origin: String) throws {
        guard (0...65535).contains(listen.port) else { throw CordonError.invalidArgument("\(origin): listen.port must be 0-65535") }
        guard maxBodySize.bytes >= 1024 else { throw CordonError.invalidArgument("\(origin): maxBodySize must be at least 1KiB") }
        guard agentCertificateLifetime.seconds >= 60 else { throw CordonError.invalidArgument("\(origin): agentCertificateLifetime must be at least 60s") }
        guard operatorCertificateLifetime.seconds >= 60 else { throw CordonError.invalidArgument("\(origin): operatorCertificateLifetime must be at least 60s") }
        guard (1...300).contains(longPollTimeout.seconds) else { throw CordonError.invalidArgument("\(origin): longPollTimeout must be 1s-300s") }
        guard inventoryPolicy.passwordMaxAge.seconds >= 86400 else { throw CordonError.invalidArgument("\(origin): inventoryPolicy.passwordMaxAge must be at least 1d") }
        guard (1...120).contains(handshakeTimeout.seconds) else { throw CordonError.invalidArgument("\(origin): handshakeTimeout must be 1s-120s") }
        guard (2...3600).contains(idleTimeout.seconds) else { throw CordonError.invalidArgument("\(origin): idleTimeout must be 2s-1h") }
        guard maxConnections == 0 || (16...10_000_000).contains(maxConnections) else {
            throw CordonError.invalidArgument("\(origin): maxConnections must be 0 (from the open-files limit) or 16-10000000")
        }
        if let metricsListen {
            guard (0...65535).contains(metricsListen.port) else { throw CordonError.invalidArgument("\(origin): metricsListen.port must be given, 0-65535 (0 picks a free one)") }
            guard metricsListen.port == 0 || metricsListen.port != listen.port || metricsListen.host != listen.host else {
                throw CordonError.invalidArgument("\(origin): metricsListen must differ from listen (\(listen.host):\(listen.port))")
            }
        }
        try reportRetention.validate(origin: origin)
        guard (1...10_000).contains(reportIngest.maxConcurrent) else { throw CordonError.invalidArgument("\(origin): reportIngest.maxConcurrent must be 1-10000") }
        guard (0...300).contains(reportIngest.maxWait.seconds) else { throw CordonError.invalidArgument("\(origin): reportIngest.maxWait must be 0s-300s") }
        guard (1...100_000).contains(maxHandshakesPerAddress) else { throw CordonError.invalidArgument("\(origin): maxHandshakesPerAddress must be 1-100000") }
        guard inventoryPolicy.failedLogonBurst >= 1 else { throw CordonError.invalidArgument("\(origin): inventoryPolicy.failedLogonBurst must be at least 1") }
    }
}
