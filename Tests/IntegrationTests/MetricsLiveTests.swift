@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import NIOHTTP1
import NIOSSL
import Testing

/// `/metrics`: what Prometheus reads, from the plain-HTTP listener and from the mTLS API.
@Suite struct MetricsLiveTests {
    /// The value of the sample `name{labels}` (labels in the order the text gives them), or nil.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            if line[..<space] == series { return Double(line[line.index(after: space)...]) }
        }
        return nil
    }

    @Test func prometheusSeesRequestsIngestsAgentsAndTheDatabase() async throws {
        let fleet = try await LiveFleet.start { $0.metricsListen = .init(host: "127.0.0.1", port: 0) }
        let metricsPort = try #require(fleet.coordinator.metricsPort)
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let stored = try await client.send(.POST, APIPath.reports, body: try ProtocolLiveTests.reportJSON())
        #expect(stored.status == 201)
        let refused = try await client.send(.POST, APIPath.reports, body: Data("{".utf8))
        #expect(refused.status == 400)

        let plain = RawClient(baseURL: "http://127.0.0.1:\(metricsPort)", tls: .makeClientConfiguration())
        let scrape = try await plain.send(.GET, APIPath.metrics, headers: [])
        #expect(scrape.status == 200)
        #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = String(decoding: scrape.body, as: UTF8.self)
        #expect(Self.sample(text, #"cordon_http_requests_total{route="/v1/reports",method="POST",status="201"}"#) == 1, "\(text)")
        #expect(Self.sample(text, #"cordon_http_requests_total{route="/v1/reports",method="POST",status="400"}"#) == 1)
        #expect(Self.sample(text, "cordon_report_ingest_duration_seconds_count") == 1, "a refused report is not an ingest")
        #expect(Self.sample(text, #"cordon_agents{state="online"}"#) == 1)
        #expect(Self.sample(text, #"cordon_agents{state="offline"}"#) == 0)
        #expect((Self.sample(text, #"cordon_database_bytes{file="main"}"#) ?? 0) > 0)
        #expect(Self.sample(text, #"cordon_task_runs{state="queued"}"#) == 0)
        #expect(Self.sample(text, "cordon_long_polls_held") == 0)
        #expect((Self.sample(text, "cordon_connections_open") ?? 0) >= 1, "the agent's connection is open")
        #expect(text.contains("# TYPE cordon_http_request_duration_seconds histogram"))

        // The plain listener serves /metrics and nothing else.
        #expect(try await plain.send(.GET, APIPath.status, headers: []).status == 404)
        #expect(try await plain.send(.POST, APIPath.reports, body: try ProtocolLiveTests.reportJSON(), headers: []).status == 404)
        #expect(try fleet.database.reportCount() == 1)

        // On the mTLS API: operators only. A made-up path counts under one label value.
        let op = try fleet.rawAsOperator()
        let viaTLS = try await op.send(.GET, APIPath.metrics)
        #expect(viaTLS.status == 200)
        #expect(try await client.send(.GET, APIPath.metrics).status == 403, "an agent certificate does not read metrics")
        #expect(try await op.send(.GET, "/v1/no-such-route-\(UUID().uuidString)").status == 404)
        let after = String(decoding: try await op.send(.GET, APIPath.metrics).body, as: UTF8.self)
        #expect(Self.sample(after, #"cordon_http_requests_total{route="/metrics",method="GET",status="403"}"#) == 1)
        #expect(Self.sample(after, #"cordon_http_requests_total{route="NotFound",method="GET",status="404"}"#) == 1, "\(after)")
        #expect(!after.contains("no-such-route"))
        // Methods the API does not use share one label value (the HTTP parser already refuses
        // made-up ones before any route sees them).
        for method in [HTTPMethod.PROPFIND, .TRACE, .MKCOL] { _ = try await op.send(method, APIPath.status) }
        let other = String(decoding: try await op.send(.GET, APIPath.metrics).body, as: UTF8.self)
        #expect(!other.contains("PROPFIND") && !other.contains("MKCOL"), "\(other)")
        #expect(other.contains(#"method="other""#), "\(other)")

        await plain.shutdown()
        await op.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    /// A port already taken (the API's or the metrics listener's) fails the start with the
    /// reason, within seconds; it used to wait forever for a listener that never came.
    @Test func aTakenPortFailsTheStartInsteadOfHanging() async throws {
        let fleet = try await LiveFleet.start { $0.metricsListen = .init(host: "127.0.0.1", port: 0) }
        let taken = [fleet.coordinator.port, try #require(fleet.coordinator.metricsPort)]
        for (index, port) in taken.enumerated() {
            var config = fleet.config
            config.listen.port = index == 0 ? port : 0
            config.metricsListen = .init(host: "127.0.0.1", port: index == 1 ? port : 0)
            let attempt = config, stateDir = fleet.stateDir, database = fleet.database, logger = fleet.logger
            let outcome = await withTaskGroup(of: String?.self) { group in
                group.addTask {
                    do {
                        let second = try await EmbeddedCoordinator.start(stateDir: stateDir, config: attempt, database: database, logger: logger)
                        await second.stop()
                        return "started"
                    } catch {
                        return "\(error)"
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(20))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            let message = try #require(outcome, "the start on a taken port \(port) did not end within 20 s")
            #expect(message.contains("in use"), "\(message)")
        }
        let op = try fleet.rawAsOperator()
        #expect(try await op.send(.GET, APIPath.status).status == 200, "the first coordinator still serves")
        await op.shutdown()
        await fleet.finish()
    }

    @Test func aHeldLongPollShowsInTheGauges() async throws {
        let fleet = try await LiveFleet.start { $0.metricsListen = .init(host: "127.0.0.1", port: 0) }
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let poll = Task { try await client.send(.GET, APIPath.nextTask + "?wait=5") }
        let plain = RawClient(baseURL: "http://127.0.0.1:\(try #require(fleet.coordinator.metricsPort))", tls: .makeClientConfiguration())
        var held: Double?
        for _ in 0..<50 {
            let text = String(decoding: try await plain.send(.GET, APIPath.metrics, headers: []).body, as: UTF8.self)
            held = Self.sample(text, "cordon_long_polls_held")
            if held == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(held == 1)
        poll.cancel()
        _ = try? await poll.value
        await plain.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
