/// The bounds every simulated host keeps, whatever its clients do.
public struct WormHostLimits: Equatable, Sendable {
    /// Open TCP connections across the whole fleet; more are accepted and closed at once.
    public var maxConnections: Int
    /// A connection with nothing received for this long is closed.
    public var idleTimeout: Duration
    /// A connection is closed after this long, busy or not (slow-drip clients).
    public var maxConnectionLifetime: Duration
    /// A connection that sends more than this many bytes is closed.
    public var maxBytesPerConnection: Int
    /// UDP answers per second per listening socket; datagrams beyond are dropped unanswered.
    public var maxDatagramRepliesPerSecond: Int
    /// When set, the fleet stops by itself after this long.
    public var lifetime: Duration?
    /// How often the Conficker hosts check whether the week (and so their second pair of ports)
    /// changed.
    public var confickerRecheckInterval: Duration

    public init(maxConnections: Int = 256, idleTimeout: Duration = .seconds(15), maxConnectionLifetime: Duration = .seconds(120),
                maxBytesPerConnection: Int = 256 * 1024, maxDatagramRepliesPerSecond: Int = 200, lifetime: Duration? = nil,
                confickerRecheckInterval: Duration = .seconds(60)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxConnectionLifetime = maxConnectionLifetime
        self.maxBytesPerConnection = maxBytesPerConnection
        self.maxDatagramRepliesPerSecond = maxDatagramRepliesPerSecond
        self.lifetime = lifetime
        self.confickerRecheckInterval = confickerRecheckInterval
    }

    /// The defaults.
    public static let standard = WormHostLimits()
}
