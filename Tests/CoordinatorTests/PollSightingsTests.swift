@testable import CordonCoordinator
import Testing

/// A long-poll records its agent as seen at most once per interval (each recording is a write).
@Suite struct PollSightingsTests {
    @Test func anAgentIsRecordedOncePerInterval() {
        let sightings = PollSightings(interval: .seconds(30))
        let t0 = ContinuousClock.now
        #expect(sightings.due("agt-a", now: t0), "the first poll records the agent")
        #expect(!sightings.due("agt-a", now: t0 + .seconds(1)), "a poll within the interval does not")
        #expect(!sightings.due("agt-a", now: t0 + .seconds(29)))
        #expect(sightings.due("agt-b", now: t0 + .seconds(29)), "each agent on its own")
        #expect(sightings.due("agt-a", now: t0 + .seconds(30)), "once the interval has passed it records again")
        #expect(!sightings.due("agt-a", now: t0 + .seconds(31)), "counted from the last recording")
    }
}
