@testable import CordonCoordinator
import Foundation
import Testing

/// At most `limit` reports are read and stored at once; the others wait their turn, bounded.
@Suite struct IngestSlotsTests {
    @Test func slotsAreHandedOverInOrderAndAWaitIsBounded() async throws {
        let slots = IngestSlots(limit: 2, maxWait: .seconds(5))
        #expect(await slots.acquire())
        #expect(await slots.acquire())
        // Two more wait; the first to come gets the first slot returned.
        let third = Task { await slots.acquire() }
        try await waitUntil { await slots.queued == 1 }
        let fourth = Task { await slots.acquire() }
        try await waitUntil { await slots.queued == 2 }
        await slots.release()
        #expect(await third.value)
        #expect(await slots.queued == 1, "the fourth still waits")
        await slots.release()
        #expect(await fourth.value)

        // A full pool and a short wait: false after it, holding nothing.
        let short = IngestSlots(limit: 1, maxWait: .milliseconds(200))
        #expect(await short.acquire())
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await short.acquire() == false)
        #expect(clock.now - start >= .milliseconds(200) && clock.now - start < .seconds(3))
        #expect(await short.queued == 0)
        await short.release()
        #expect(await short.acquire(), "the slot came back once released")
    }

    @Test func aCancelledWaitGivesUpItsPlace() async throws {
        let slots = IngestSlots(limit: 1, maxWait: .seconds(30))
        #expect(await slots.acquire())
        let waiter = Task { await slots.acquire() }
        try await waitUntil { await slots.queued == 1 }
        waiter.cancel()
        #expect(await waiter.value == false)
        #expect(await slots.queued == 0)
        await slots.release()
        #expect(await slots.acquire(), "a cancelled waiter took no slot")
    }

    @Test func theIngestSettingsAreReadAndChecked() throws {
        let path = NSTemporaryDirectory() + "coord-\(UUID().uuidString).yaml"
        defer { unlink(path) }
        try "reportIngest:\n  maxConcurrent: 4\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CoordinatorConfig.load(path: path).reportIngest == .init(maxConcurrent: 4, maxWait: .init(seconds: 15)))
        try "reportIngest:\n  maxWait: 2s\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CoordinatorConfig.load(path: path).reportIngest == .init(maxConcurrent: 16, maxWait: .init(seconds: 2)))
        for (yaml, message) in [("reportIngest:\n  maxConcurrent: 0\n", "maxConcurrent must be 1-10000"),
                                ("reportIngest:\n  maxWait: 1h\n", "maxWait must be 0s-300s"),
                                ("reportIngest:\n  slots: 3\n", "slots")] {
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try CoordinatorConfig.load(path: path)
                Issue.record("accepted \(yaml)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    private func waitUntil(_ condition: @Sendable () async -> Bool) async throws {
        for _ in 0..<500 where !(await condition()) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await condition())
    }
}
