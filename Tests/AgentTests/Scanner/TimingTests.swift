import Testing
@testable import CordonAgent

@Suite struct ScanCongestionTests {
    let parameters = CongestionController.Parameters(initialWindow: 10, minimumWindow: 2, maximumWindow: 1000, initialThreshold: 64)

    @Test func startsAtTenAndGrowsOnePerAnswerInSlowStart() {
        var c = CongestionController(parameters: parameters)
        #expect(c.allowed == 10)
        #expect(c.phase == .slowStart)
        for _ in 0..<10 { c.answered() }
        #expect(c.allowed == 20) // one round trip of answers doubles the window
        for _ in 0..<20 { c.answered() }
        #expect(c.allowed == 40)
    }

    @Test func congestionAvoidanceGrowsAboutOnePerWindow() {
        var c = CongestionController(parameters: parameters)
        while c.phase == .slowStart { c.answered() }
        let start = c.window
        #expect(start == 64)
        for _ in 0..<64 { c.answered() }
        #expect(c.window > start + 0.9 && c.window < start + 1.1)
    }

    @Test func aDropHalvesTheWindowAndSetsTheThreshold() {
        var c = CongestionController(parameters: parameters)
        for _ in 0..<30 { c.answered() }
        #expect(c.allowed == 40)
        do { let cut = c.dropped(sentAt: .milliseconds(10), now: .milliseconds(500)); #expect(cut) }
        #expect(c.allowed == 20)
        #expect(c.threshold == 20)
        #expect(c.phase == .congestionAvoidance)
        // Growth after the cut is linear (about one per window of answers), not exponential.
        for _ in 0..<22 { c.answered() }
        #expect(c.allowed == 21)
    }

    @Test func dropsFromBeforeTheLastCutDoNotCutAgain() {
        var c = CongestionController(parameters: parameters)
        for _ in 0..<30 { c.answered() }
        do { let cut = c.dropped(sentAt: .milliseconds(10), now: .milliseconds(500)); #expect(cut) }
        // The rest of the same window times out: probes sent before the cut.
        for i in 0..<30 { do { let cut = c.dropped(sentAt: .milliseconds(11 + i), now: .milliseconds(501 + i)); #expect(!cut) } }
        #expect(c.allowed == 20)
        #expect(c.drops == 31 && c.cuts == 1)
        // A probe sent after the cut that times out cuts again.
        do { let cut = c.dropped(sentAt: .milliseconds(600), now: .milliseconds(1100)); #expect(cut) }
        #expect(c.allowed == 10)
    }

    @Test func silentProbesScaleUpTheGrowthOfEachAnswer() {
        // nmap's cc_scale: 10 answers among 100 tries → each answer counts ten times.
        var c = CongestionController(parameters: .init(initialWindow: 10, minimumWindow: 2, maximumWindow: 1000, initialThreshold: 20))
        for _ in 0..<10 { c.answered() }
        #expect(c.allowed == 20 && c.phase == .congestionAvoidance)
        for _ in 0..<90 { c.timedOut() }
        #expect(c.scale == 10)
        c.answered()
        #expect(c.window > 20.45 && c.window < 20.55) // + 10·(1/20)·(100/101·…) ≈ + 0.5
        // Timeouts alone never move the window.
        let before = c.window
        for _ in 0..<1000 { c.timedOut() }
        #expect(c.window == before)
        #expect(c.scale == CongestionController.maximumScale)
    }

    @Test func silenceFromDeadSpaceOpensTheWindowAndALossStillCutsIt() {
        var c = CongestionController(parameters: .init(initialWindow: 10, minimumWindow: 10, maximumWindow: 100, initialThreshold: 40))
        // Slow start: one per silent probe up to the threshold, then about one per window.
        for _ in 0..<30 { c.silent() }
        #expect(c.allowed == 40 && c.phase == .congestionAvoidance)
        for _ in 0..<45 { c.silent() }
        #expect(c.allowed == 41)
        // Capped at the scan's concurrency.
        for _ in 0..<10_000 { c.silent() }
        #expect(c.allowed == 100)
        // A retry answered elsewhere (a loss) still halves it.
        let cut = c.dropped(sentAt: .seconds(1), now: .seconds(2))
        #expect(cut)
        #expect(c.allowed == 50)
        // Silence does not inflate the growth of later answers beyond what the timeouts weigh.
        #expect(c.scale >= 1)
    }

    @Test func floorAndCap() {
        var c = CongestionController(parameters: .init(initialWindow: 10, minimumWindow: 4, maximumWindow: 12, initialThreshold: 100))
        for _ in 0..<100 { c.answered() }
        #expect(c.allowed == 12)
        var t = Duration.zero
        for _ in 0..<10 {
            t += .seconds(1)
            c.dropped(sentAt: t, now: t + .milliseconds(1))
        }
        #expect(c.allowed == 4)
        c.localPressure(now: .seconds(100))
        #expect(c.allowed == 4)
    }
}

@Suite struct ScanRTTTests {
    @Test func initialTimeoutUntilTheFirstSample() {
        let e = RTTEstimator(initial: .milliseconds(500), minimum: .milliseconds(100), maximum: .milliseconds(1250))
        #expect(e.timeout == .milliseconds(500))
        #expect(RTTEstimator(initial: .seconds(5), minimum: .milliseconds(100), maximum: .seconds(2)).timeout == .seconds(2))
    }

    @Test func fastAnswersShrinkTheTimeoutToTheFloor() {
        var e = RTTEstimator(initial: .milliseconds(1000), minimum: .milliseconds(100), maximum: .milliseconds(1250))
        for _ in 0..<50 { e.record(.microseconds(40)) }
        #expect(e.timeout == .milliseconds(100))
    }

    @Test func timeoutIsSRTTPlusFourVariances() {
        var e = RTTEstimator(initial: .milliseconds(1000), minimum: .milliseconds(1), maximum: .seconds(10))
        e.record(.milliseconds(100))
        // First sample: srtt = 100 ms, rttvar = 100 ms → 500 ms.
        #expect(e.timeout == .milliseconds(500))
        e.record(.milliseconds(100))
        // delta 0: srtt 100, rttvar 75 → 400 ms.
        #expect(e.timeout == .milliseconds(400))
    }

    @Test func slowAndJitteryAnswersGrowItToTheCeiling() {
        var e = RTTEstimator(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .milliseconds(1250))
        for _ in 0..<10 { e.record(.milliseconds(20)) }
        let calm = e.timeout
        for i in 0..<20 { e.record(.milliseconds(i % 2 == 0 ? 20 : 600)) }
        #expect(e.timeout > calm)
        for _ in 0..<20 { e.record(.seconds(3)) }
        #expect(e.timeout == .milliseconds(1250))
    }
}

@Suite struct ScanTokenBucketTests {
    @Test func pacesAtTheRate() {
        var b = TokenBucket(rate: 1000, burst: 10)
        var t = Duration.zero
        for _ in 0..<10 {
            let taken = b.take(now: t)
            #expect(taken == nil)
        }
        let wait = b.take(now: t)
        #expect(wait != nil && wait! <= .milliseconds(1) && wait! > .zero)
        // Over one simulated second, about `rate` probes go.
        var sent = 10
        while t < .seconds(1) {
            if let w = b.take(now: t) { t += w } else { sent += 1 }
        }
        #expect((1000...1012).contains(sent))
    }

    @Test func burstIsCapped() {
        var b = TokenBucket(rate: 100, burst: 5)
        _ = b.take(now: .zero)
        // A long idle period refills only the burst.
        var allowed = 0
        while b.take(now: .seconds(60)) == nil { allowed += 1 }
        #expect(allowed == 5)
    }
}

@Suite struct ScanHeapTests {
    @Test func popsInOrder() {
        var heap = BinaryHeap<Int>()
        var rng = SystemRandomNumberGenerator()
        let values = (0..<500).map { _ in Int.random(in: 0...10_000, using: &rng) }
        for v in values { heap.push(v) }
        var out: [Int] = []
        while let v = heap.pop() { out.append(v) }
        #expect(out == values.sorted())
    }
}
