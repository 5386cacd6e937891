@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import CordonTransport
import NIOHTTP1
import Crypto
import Foundation
import Testing
import X509

@Suite struct AccessLiveTests {
    @Test func withoutACertificateOnlyEnrollmentAnswers() async throws {
        let fleet = try await LiveFleet.start()
        let anonymous = try fleet.raw(certificatePEM: nil, keyPEM: nil)
        for (method, path) in [(HTTPMethod.GET, APIPath.status), (.GET, APIPath.agents), (.POST, APIPath.reports), (.POST, APIPath.heartbeat),
                               (.POST, APIPath.tokens), (.GET, "/v1/no-such-route"), (.GET, "/")] {
            let reply = try await anonymous.send(method, path, body: Data("{}".utf8))
            #expect(reply.status == 401, "\(method) \(path)")
            #expect(reply.error?.error == APIErrorCode.certificateRequired)
        }
        let ca = try await anonymous.send(.GET, APIPath.enrollCA)
        #expect(ca.status == 200)
        #expect(try CordonJSON.decode(CAResponse.self, from: ca.body).fingerprint == fleet.caFingerprint)
        await anonymous.shutdown()
        await fleet.finish()
    }

    @Test func aCertificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        let fleet = try await LiveFleet.start()
        let rogue = try CertificateAuthority.create(commonName: "Rogue CA")
        let key = P256.Signing.PrivateKey()
        // Same identity as the real operator: only the issuer differs.
        let cert = try rogue.issueClientCertificate(publicKey: .init(key.publicKey), identity: .init(role: .operator, id: "alice"), lifetime: 600)
        let client = try fleet.raw(certificatePEM: try cert.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
        await #expect(throws: (any Error).self) { _ = try await client.send(.GET, APIPath.status) }
        await client.shutdown()
        await fleet.finish()
    }

    @Test func rolesCannotCrossAndTheServerCertificateIsNoClient() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let asAgent = try fleet.rawAsAgent(agent)
        let operatorRoute = try await asAgent.send(.GET, APIPath.status)
        #expect(operatorRoute.status == 403)
        let tokenRoute = try await asAgent.send(.POST, APIPath.tokens, body: try CordonJSON.encode(TokenCreateRequest(segment: "x", ttlSeconds: 60, uses: 1)))
        #expect(tokenRoute.status == 403)

        let asOperator = try fleet.rawAsOperator()
        let hb = Heartbeat(sentAt: Date(), agentVersion: "x", heartbeatInterval: 1, reportInterval: 1, spoolDepth: 0, spoolDropped: 0)
        let agentRoute = try await asOperator.send(.POST, APIPath.heartbeat, body: try CordonJSON.encode(hb))
        #expect(agentRoute.status == 403)
        #expect(agentRoute.error?.message.contains("agent certificates only") == true)

        let server = try fleet.raw(certificatePEM: try SecureFile.readString(fleet.stateDir.serverCertificate),
                                   keyPEM: try SecureFile.readString(fleet.stateDir.serverKey))
        if let reply = try? await server.send(.GET, APIPath.status) { #expect(reply.status == 403) }
        await server.shutdown()
        await asAgent.shutdown()
        await asOperator.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aRevokedAgentIsRefusedFromTheNextRequestOn() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let config = try await client.send(.GET, APIPath.agentConfig)
        #expect(config.status == 200)

        let result: RevokeResponse = try await fleet.withOperator { try await $0.post(APIPath.agents + "/\(agent.id)/revoke", body: [String: String]()) }
        #expect(!result.alreadyRevoked)
        // Same client, possibly the same kept-alive connection.
        let after = try await client.send(.GET, APIPath.agentConfig)
        #expect(after.status == 403)
        #expect(after.error?.error == APIErrorCode.revoked)
        #expect(await !agent.service.runOnce())
        #expect(agent.service.spool.depth == 1, "the refused report stays spooled")
        #expect(try fleet.database.reportCount(agentID: agent.id) == 0)
        let audit = try fleet.database.auditEntries()
        #expect(audit.contains { $0.action == "agent.revoke" && $0.actor == "operator:alice" && $0.target == "agent:\(agent.id)" })
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aRevokedOperatorIsRefused() async throws {
        let fleet = try await LiveFleet.start()
        _ = try await fleet.withOperator { client -> FleetStatus in try await client.get(APIPath.status) }
        #expect(try fleet.database.revokeOperator(name: "alice", actor: "local:test"))
        do {
            _ = try await fleet.withOperator { client -> FleetStatus in try await client.get(APIPath.status) }
            Issue.record("revoked operator still served")
        } catch let error as TransportError {
            #expect(error.status == 403)
        }
        await fleet.finish()
    }
}
