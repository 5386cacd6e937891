@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import NIOSSL
import Testing

/// Storage work runs on the coordinator's storage threads, not on Swift's cooperative pool
/// (one thread per core): requests waiting for the database writer do not stop the requests
/// that need no database.
@Suite(.serialized) struct StorageThreadsTests {
    @Test func requestsWaitingForTheWriterDoNotStopOthers() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent(name: "busy")
        let agentClient = try fleet.rawAsAgent(agent)
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none   // as `cordon-agent enroll` fetches the CA, before pinning it
        let open = RawClient(baseURL: fleet.url, tls: unverified)
        let heartbeat = try CordonJSON.encode(Heartbeat(sentAt: Date(), agentVersion: "v", heartbeatInterval: 30, reportInterval: 300,
                                                        spoolDepth: 0, spoolDropped: 0))
        // A writer held for 1.5 s (as a long transaction would), on a thread of its own.
        let held = Thread {
            try? fleet.database.writer.write { _ in Thread.sleep(forTimeInterval: 1.5) }
        }
        held.start()
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let start = clock.now
        // Sixteen heartbeats, each waiting for the writer: more than the cooperative pool's
        // threads on any machine with at most 16 cores.
        let beats = (0..<16).map { _ in Task { try await agentClient.send(.POST, APIPath.heartbeat, body: heartbeat) } }
        try await Task.sleep(for: .milliseconds(200))
        // A request that needs no database (the CA for enrollment) is answered meanwhile.
        let ca = try await open.send(.GET, APIPath.enrollCA, headers: [])
        let answeredIn = clock.now - start
        #expect(ca.status == 200)
        #expect(answeredIn < .milliseconds(1_100), "the CA was answered in \(answeredIn) while the writer was held for 1.5 s")
        for beat in beats {
            let reply = try await beat.value
            #expect(reply.status == 200, "every heartbeat is answered once the writer is free")
        }
        #expect(clock.now - start >= .milliseconds(1_200), "the heartbeats did wait for the writer")
        await open.shutdown()
        await agentClient.shutdown()
        await fleet.finish()
    }
}

/// Reports beyond `reportIngest.maxConcurrent` wait their turn, at most `maxWait`, then get
/// 503 `busy` with Retry-After and nothing stored; sent again, they are stored.
@Suite(.serialized) struct IngestSlotsLiveTests {
    @Test func aReportBeyondTheSlotsIsDeferredNotLost() async throws {
        let fleet = try await LiveFleet.start { $0.reportIngest = .init(maxConcurrent: 1, maxWait: .init(seconds: 0.3)) }
        let agent = try await fleet.enrollAgent(name: "busy")
        let client = try fleet.rawAsAgent(agent)
        func report(_ id: String) throws -> Data {
            try CordonJSON.encode(AgentReport(id: id, createdAt: Date(), facts: AgentFacts(hostname: "busy", osRelease: "o", kernel: "k", agentVersion: "v",
                                                                                          uptimeSeconds: 1, addresses: [])))
        }
        let held = Thread { try? fleet.database.writer.write { _ in Thread.sleep(forTimeInterval: 1.5) } }
        held.start()
        try await Task.sleep(for: .milliseconds(100))
        let first = Task { try await client.send(.POST, APIPath.reports, body: try report("report-first")) }
        try await Task.sleep(for: .milliseconds(200))   // the first holds the one slot, waiting for the writer
        let second = try await client.send(.POST, APIPath.reports, body: try report("report-second"))
        #expect(second.status == 503)
        #expect(second.error?.error == APIErrorCode.busy, "\(String(describing: second.error))")
        #expect(second.header("Retry-After") == "10")
        #expect(try await first.value.status == 201, "the report holding the slot is stored once the writer is free")
        #expect(try fleet.database.reportIDs(agentID: agent.id) == ["report-first"], "nothing of the deferred report was stored")
        #expect(try await client.send(.POST, APIPath.reports, body: try report("report-second")).status == 201, "sent again, it is stored")
        await client.shutdown()
        await fleet.finish()
    }
}

/// Reports waiting for the writer run on threads of their own: up to `reportIngest.maxConcurrent`
/// of them (more than the storage threads) do not stop an operator's read.
@Suite(.serialized) struct IngestThreadsLiveTests {
    @Test func reportsWaitingForTheWriterDoNotStopReads() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent(name: "busy")
        let client = try fleet.rawAsAgent(agent)
        let operatorClient = try fleet.rawAsOperator()
        func report(_ i: Int) throws -> Data {
            try CordonJSON.encode(AgentReport(id: "report-\(i)", createdAt: Date(), facts: AgentFacts(hostname: "busy", osRelease: "o", kernel: "k",
                                                                                                    agentVersion: "v", uptimeSeconds: 1, addresses: [])))
        }
        let held = Thread { try? fleet.database.writer.write { _ in Thread.sleep(forTimeInterval: 1.5) } }
        held.start()
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let start = clock.now
        // Twelve reports (within the 16 ingest slots), each waiting for the writer.
        let reports = try (0..<12).map { i in let body = try report(i); return Task { try await client.send(.POST, APIPath.reports, body: body) } }
        try await Task.sleep(for: .milliseconds(300))
        let segments = try await operatorClient.send(.GET, APIPath.segments)
        let answeredIn = clock.now - start
        #expect(segments.status == 200)
        #expect(answeredIn < .milliseconds(1_100), "a read was answered in \(answeredIn) while twelve reports waited for the writer held 1.5 s")
        for task in reports { #expect(try await task.value.status == 201, "every report is stored once the writer is free") }
        await operatorClient.shutdown()
        await client.shutdown()
        await fleet.finish()
    }
}
