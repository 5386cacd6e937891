@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// An agent that believes its coordinator takes gzip, facing one that does not (rolled back
/// since its last heartbeat): the report is sent again uncompressed, not discarded.
@Suite struct GzipFallbackTests {
    @Test func aCoordinatorThatRefusesGzipGetsTheReportUncompressed() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        // A stand-in for an older coordinator, with the real one's TLS identity: 400 for a
        // gzip body (as an older JSON decoder would), 201 for plain JSON.
        let seen = Mutex<[String]>([])
        let router = Router()
        router.post(RouterPath(APIPath.reports)) { request, _ -> Response in
            let encoding = request.headers[.contentEncoding] ?? "identity"
            seen.withLock { $0.append(encoding) }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            if encoding == "gzip" {
                let body = try CordonJSON.encode(APIErrorBody(error: APIErrorCode.badRequest, message: "invalid request body: malformed JSON"))
                return Response(status: .badRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            let body = try CordonJSON.encode(ReportAck(reportID: "r", duplicate: false))
            return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let tls = try CoordinatorServer.tlsConfiguration(stateDir: fleet.stateDir)
        let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0); continuation.finish() }, logger: fleet.logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: fleet.logger))
        let serving = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let uplink = try Uplink(stateDir: agent.stateDir, coordinatorOverride: "https://127.0.0.1:\(port)", logger: fleet.logger)
        await uplink.assumeCoordinatorAcceptsGzip()
        let ack = try await uplink.send(reportJSON: try ProtocolLiveTests.reportJSON(padding: 4_000))
        #expect(ack.reportID == "r")
        #expect(seen.withLock { $0 } == ["gzip", "identity"], "compressed first, then the same report plain")
        #expect(await uplink.coordinatorAcceptsGzip == false, "and no more gzip until a heartbeat says so")
        _ = try await uplink.send(reportJSON: try ProtocolLiveTests.reportJSON(padding: 4_000))
        #expect(seen.withLock { $0 }.last == "identity")

        await uplink.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await serving.value
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
