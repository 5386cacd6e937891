@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import NIOHTTP1
import Testing

@Suite struct ProtocolLiveTests {
    static func reportJSON(id: String = UUID().uuidString.lowercased(), padding: Int = 0) throws -> Data {
        var facts = AgentFacts(hostname: "h", osRelease: "o", kernel: "k", agentVersion: "v", uptimeSeconds: 1, addresses: [])
        if padding > 0 { facts.osRelease = String(repeating: "x", count: padding) }
        return try CordonJSON.encode(AgentReport(id: id, createdAt: Date(), facts: facts))
    }

    @Test func badBodiesGet400Or413AndNothingIsStored() async throws {
        let fleet = try await LiveFleet.start { $0.maxBodySize = .init(bytes: 64 * 1024) }
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)

        let tooLarge = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(padding: 100_000))
        #expect(tooLarge.status == 413)
        #expect(tooLarge.error?.error == APIErrorCode.tooLarge)

        let malformed = try await client.send(.POST, APIPath.reports, body: Data("{\"id\": ".utf8))
        #expect(malformed.status == 400)
        #expect(malformed.error?.message.contains("malformed JSON") == true)

        let missing = try await client.send(.POST, APIPath.reports, body: Data(#"{"id":"abcdefgh-1234"}"#.utf8))
        #expect(missing.status == 400)
        #expect(missing.error?.message.contains("missing field") == true)

        let good = String(decoding: try Self.reportJSON(), as: UTF8.self)
        let wrongType = try await client.send(.POST, APIPath.reports, body: Data(good.replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":[]"#).utf8))
        #expect(wrongType.status == 400)
        #expect(wrongType.error?.message.contains("'spoolDropped'") == true)

        let badID = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(id: "../../../x"))
        #expect(badID.status == 400)

        let notJSONAtAll = try await client.send(.POST, APIPath.heartbeat, body: Data([0xFF, 0x00, 0x12]))
        #expect(notJSONAtAll.status == 400)

        let enroll = try fleet.raw(certificatePEM: nil, keyPEM: nil)
        let badCSR = try await enroll.send(.POST, APIPath.enroll, body: try CordonJSON.encode(EnrollRequest(token: "ct_x", csrPEM: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", hostname: "h", agentVersion: "v")))
        #expect(badCSR.status == 400)

        #expect(try fleet.database.reportCount() == 0, "nothing was written for a rejected request")
        for reply in [tooLarge, malformed, missing, wrongType, badID, notJSONAtAll, badCSR] { #expect(reply.status < 500) }
        await enroll.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func anUnknownMajorVersionIsRefusedNamingTheSpokenOnes() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let v2 = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [(ProtocolVersion.headerName, "2.0")])
        #expect(v2.status == 400)
        #expect(v2.error?.error == APIErrorCode.unsupportedProtocol)
        #expect(v2.error?.message.contains("speaks 1.x") == true)
        let none = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [])
        #expect(none.status == 400)
        let minor = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [(ProtocolVersion.headerName, "1.9")])
        #expect(minor.status == 201, "any minor of a spoken major is accepted")

        let enroll = try fleet.raw(certificatePEM: nil, keyPEM: nil)
        var request = EnrollRequest(token: "ct_x", csrPEM: "x", hostname: "h", agentVersion: "v")
        request.protocolVersion = ProtocolVersion(major: 3, minor: 1)
        let enrollV3 = try await enroll.send(.POST, APIPath.enroll, body: try CordonJSON.encode(request))
        #expect(enrollV3.status == 400)
        #expect(enrollV3.error?.message.contains("3.1 is not spoken") == true)
        await enroll.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aReportSentTwiceIsStoredOnce() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let body = try Self.reportJSON()
        #expect(try await client.send(.POST, APIPath.reports, body: body).status == 201)
        let again = try await client.send(.POST, APIPath.reports, body: body)
        #expect(again.status == 200)
        #expect(try CordonJSON.decode(ReportAck.self, from: again.body).duplicate)
        #expect(try fleet.database.reportCount(agentID: agent.id) == 1)
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
