/// The adaptive probe timeout, as nmap computes it (RFC 6298 style): a smoothed RTT and its
/// variance from answered probes, timeout = srtt + 4·rttvar clamped to [minimum, maximum].
///
/// Pure: times are passed in. Until the first sample the timeout is the configured initial one.
public struct RTTEstimator: Sendable, Equatable {
    public let initial: Duration
    public let minimum: Duration
    public let maximum: Duration
    /// Smoothed RTT and variance, in nanoseconds; nil before the first sample.
    public private(set) var srtt: Double?
    public private(set) var rttvar: Double = 0
    public private(set) var samples = 0

    /// The floor of rttvar (nmap: 5 ms), so that a run of identical loopback samples does not
    /// shrink the timeout to the sample itself.
    public static let minimumVariance: Duration = .milliseconds(5)

    public init(initial: Duration, minimum: Duration, maximum: Duration) {
        self.minimum = min(minimum, maximum)
        self.maximum = max(minimum, maximum)
        self.initial = Swift.min(Swift.max(initial, self.minimum), self.maximum)
    }

    /// Records the round trip of an answered probe (connect succeeded or was refused).
    public mutating func record(_ rtt: Duration) {
        let r = max(0, Self.nanos(rtt))
        samples += 1
        guard let s = srtt else {
            srtt = r
            rttvar = max(Self.nanos(Self.minimumVariance), min(r, 2e9))
            return
        }
        let delta = r - s
        srtt = s + delta / 8
        rttvar += (abs(delta) - rttvar) / 4
        rttvar = max(rttvar, Self.nanos(Self.minimumVariance))
    }

    /// How long to wait for a probe before calling it timed out.
    public var timeout: Duration {
        guard let s = srtt else { return initial }
        let t = Duration.nanoseconds(Int64(min(s + 4 * rttvar, 3.6e12)))
        return Swift.min(Swift.max(t, minimum), maximum)
    }

    static func nanos(_ d: Duration) -> Double {
        let (seconds, attos) = d.components
        return Double(seconds) * 1e9 + Double(attos) / 1e9
    }
}
