/// How many probes may be in flight, modelled on nmap's ultra_scan timing: a congestion window
/// that starts at `initialWindow`, grows by one per answer in slow start (doubling per round
/// trip), by 1/cwnd per answer in congestion avoidance (about one per round trip), and halves on
/// a drop, setting the slow-start threshold to the halved window.
///
/// What is a drop follows nmap (`ultrascan_adjust_timing`): an answer to a *retransmitted* probe,
/// i.e. the first try was lost on the way although the port answers. A probe that times out on
/// every try is a filtered port or a dead host, which says nothing about congestion; counting it
/// would collapse the window on every firewalled segment (see ``PortScanEngine``). On a host that
/// has never answered, such a timeout opens the window (``silent()``): dead space is not
/// congestion.
///
/// A burst of drops from one window cuts it once: a drop only counts when its probe was sent
/// after the previous cut (nmap's "sent after last drop" rule).
///
/// Pure: callers pass the times (durations since the scan started).
public struct CongestionController: Sendable, Equatable {
    public struct Parameters: Sendable, Equatable {
        public var initialWindow: Double = 10
        /// The window never shrinks below this (progress is guaranteed).
        public var minimumWindow: Double = 10
        /// The cap: the scan's concurrency.
        public var maximumWindow: Double = 2048
        /// The first slow-start threshold (nmap's group default is 75; a connect scan with
        /// thousands of sockets starts higher).
        public var initialThreshold: Double = 512
        public init(initialWindow: Double = 10, minimumWindow: Double = 10, maximumWindow: Double = 2048,
                    initialThreshold: Double = 512) {
            self.maximumWindow = max(1, maximumWindow)
            self.minimumWindow = max(1, min(minimumWindow, self.maximumWindow))
            self.initialWindow = min(max(initialWindow, self.minimumWindow), self.maximumWindow)
            self.initialThreshold = max(initialThreshold, self.minimumWindow)
        }
    }

    public enum Phase: Sendable, Equatable { case slowStart, congestionAvoidance }

    public let parameters: Parameters
    public private(set) var window: Double
    public private(set) var threshold: Double
    /// When the window was last cut; drops of probes sent before it are not counted again.
    public private(set) var lastCut: Duration?
    public private(set) var drops = 0
    public private(set) var cuts = 0

    public init(parameters: Parameters = .init()) {
        self.parameters = parameters
        window = parameters.initialWindow
        threshold = parameters.initialThreshold
    }

    public var phase: Phase { window < threshold ? .slowStart : .congestionAvoidance }

    /// Probes allowed in flight now.
    public var allowed: Int { max(1, Int(window.rounded(.down))) }

    /// Probe tries that ended (answered or timed out) and those answered: nmap's
    /// num_replies_expected / num_replies_received.
    public private(set) var expected = 0
    public private(set) var received = 0

    /// The most an answer's growth is scaled (nmap's cc_scale_max).
    public static let maximumScale = 50.0

    /// nmap's cc_scale: when many probes get no answer at all (filtered ports, dead hosts), each
    /// answer counts for the silent ones too, so that the window regrows after a cut.
    public var scale: Double {
        guard received > 0 else { return 1 }
        return min(max(1, Double(expected) / Double(received)), Self.maximumScale)
    }

    /// A probe got an answer to its first try (open or closed): the window grows.
    public mutating func answered() {
        expected += 1
        received += 1
        grow(by: scale)
    }

    /// Slow start: `by` per event up to the threshold; congestion avoidance: `by`/window.
    private mutating func grow(by amount: Double) {
        if window < threshold {
            window = min(window + amount, max(threshold, window))
        } else {
            window += amount / window
        }
        window = min(window, parameters.maximumWindow)
    }

    /// A try timed out: no growth, but it weighs on ``scale``.
    public mutating func timedOut() {
        expected += 1
    }

    /// A probe to a target that has never answered anything timed out on its last try: a dead
    /// address or a host that drops everything. That silence is not congestion (nothing that
    /// answers lost a packet), so the window opens by one as on an answer; without this a scan
    /// of dead space never left the initial window (an all-dead /26 took 95 s). A loss seen
    /// later (a retry answered) still cuts the window, and the rate limit still holds.
    public mutating func silent() {
        expected += 1
        grow(by: 1)
    }

    /// A probe sent at `sentAt` timed out at `now`. Returns true when this cut the window.
    @discardableResult
    public mutating func dropped(sentAt: Duration, now: Duration) -> Bool {
        drops += 1
        expected += 1
        received += 1
        if let lastCut, sentAt < lastCut { return false }
        threshold = max(window / 2, parameters.minimumWindow)
        window = max(window / 2, parameters.minimumWindow)
        lastCut = now
        cuts += 1
        return true
    }

    /// The local host ran out of something (file descriptors, ephemeral ports): cut the window
    /// now, whatever the last cut was.
    public mutating func localPressure(now: Duration) {
        threshold = max(window / 2, parameters.minimumWindow)
        window = max(window / 2, parameters.minimumWindow)
        lastCut = now
        cuts += 1
    }
}
