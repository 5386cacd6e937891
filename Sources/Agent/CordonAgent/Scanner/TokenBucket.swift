/// Paces new probes at `rate` per second with a burst of `burst` tokens. Pure: the caller passes
/// the time; ``take(now:)`` answers when the next probe may go.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    public private(set) var tokens: Double
    private var last: Duration?

    public init(rate: Int, burst: Int? = nil) {
        self.rate = Double(max(1, rate))
        // Default burst: a hundredth of a second's worth, at least one.
        self.burst = Double(max(1, burst ?? max(1, rate / 100)))
        tokens = self.burst
    }

    /// Takes one token. Returns nil when the probe may go now, else how long to wait first.
    public mutating func take(now: Duration) -> Duration? {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        let missing = 1 - tokens
        let nanos = max(1, Int64((missing / rate * 1e9).rounded(.up)))
        return .nanoseconds(nanos)
    }

    private mutating func refill(now: Duration) {
        if let last, now > last {
            tokens = min(burst, tokens + RTTEstimator.nanos(now - last) / 1e9 * rate)
        }
        if last == nil || now > last! { last = now }
    }
}
