/// Exponential backoff with a cap and jitter, as a pure value: the service asks it how long
/// to wait after each failure and resets it on success.
public struct Backoff: Sendable, Equatable {
    public let base: Double
    public let cap: Double
    public private(set) var failures: Int = 0

    public init(base: Double = 1, cap: Double) {
        self.base = max(0.001, base)
        self.cap = max(self.base, cap)
    }

    /// Records a failure and returns the wait before the next attempt: base·2^(n-1), capped,
    /// then scaled by a random factor in [0.5, 1] ("equal jitter") so that a fleet that lost
    /// its coordinator at once does not come back at once.
    public mutating func failure<R: RandomNumberGenerator>(using rng: inout R) -> Double {
        failures += 1
        let exponent = Double(min(failures - 1, 40))
        let raw = min(cap, base * pow2(exponent))
        return raw * Double.random(in: 0.5...1.0, using: &rng)
    }

    public mutating func failure() -> Double {
        var rng = SystemRandomNumberGenerator()
        return failure(using: &rng)
    }

    public mutating func success() { failures = 0 }

    private func pow2(_ e: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(e) { r *= 2 }
        return r
    }
}

/// An interval with jitter: each wait is the interval scaled by a random factor in
/// [1 - jitter, 1 + jitter].
public func jittered<R: RandomNumberGenerator>(_ interval: Double, jitter: Double, using rng: inout R) -> Double {
    guard jitter > 0 else { return interval }
    return interval * Double.random(in: (1 - jitter)...(1 + jitter), using: &rng)
}
