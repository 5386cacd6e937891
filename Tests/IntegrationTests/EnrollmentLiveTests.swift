@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import CordonTransport
import Crypto
import Foundation
import Testing
import X509

@Suite struct EnrollmentLiveTests {
    @Test func enrollReportAndStatusOverMutualTLS() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent(segment: "dmz", name: "jump-dmz")
        #expect(agent.record.segment == "dmz")
        #expect(SecureFile.mode(of: agent.stateDir.key) == 0o600)
        // The certificate names the agent and its segment.
        let cert = try Certificate(pemEncoded: try SecureFile.readString(agent.stateDir.certificate))
        #expect(CordonIdentity(certificate: cert) == CordonIdentity(role: .agent, id: agent.id, segment: "dmz"))

        #expect(await agent.service.runOnce())
        let status: FleetStatus = try await fleet.withOperator { try await $0.get(APIPath.status) }
        #expect(status.segments.map(\.name) == ["dmz"])
        #expect(status.agents.map(\.id) == [agent.id])
        #expect(status.agents[0].state == .online)
        #expect(status.agents[0].lastReportAt != nil)
        let detail: AgentDetail = try await fleet.withOperator { try await $0.get(APIPath.agents + "/" + agent.id) }
        #expect(detail.reportCount == 1)
        #expect(detail.facts?.kernel.isEmpty == false)
        #expect(agent.service.spool.depth == 0, "an acknowledged report leaves the spool")
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aWrongCAFingerprintAbortsEnrollmentAndWritesNothing() async throws {
        let fleet = try await LiveFleet.start()
        let token = try await fleet.token()
        let state = AgentStateDir(fleet.root + "/agents/mitm")
        let wrong = "SHA256:" + String(repeating: "ab", count: 32)
        await #expect(throws: AgentError.fingerprintMismatch) {
            _ = try await Enroller(stateDir: state, logger: fleet.logger).enroll(coordinator: fleet.url, token: token, caFingerprint: wrong, hostname: "h")
        }
        #expect(!FileManager.default.fileExists(atPath: state.key))
        #expect(!state.isEnrolled)
        // The token was not spent: nothing reached the enrollment route.
        let record = try await Enroller(stateDir: state, logger: fleet.logger).enroll(coordinator: fleet.url, token: token, caFingerprint: fleet.caFingerprint, hostname: "h")
        #expect(record.segment == "dmz")
        await fleet.finish()
    }

    @Test func expiredAndReusedTokensAreRefusedWithAClearError() async throws {
        let fleet = try await LiveFleet.start()
        let token = try await fleet.token()
        _ = try await Enroller(stateDir: AgentStateDir(fleet.root + "/a1"), logger: fleet.logger)
            .enroll(coordinator: fleet.url, token: token, caFingerprint: fleet.caFingerprint, hostname: "h1")
        do {
            _ = try await Enroller(stateDir: AgentStateDir(fleet.root + "/a2"), logger: fleet.logger)
                .enroll(coordinator: fleet.url, token: token, caFingerprint: fleet.caFingerprint, hostname: "h2")
            Issue.record("a used token enrolled a second agent")
        } catch let error as TransportError {
            #expect(error.status == 403)
            #expect(error.body?.error == APIErrorCode.invalidToken)
            #expect(error.reason.contains("already been used"))
        }
        #expect(!AgentStateDir(fleet.root + "/a2").isEnrolled)

        let shortLived = try await fleet.token(ttl: 1)
        try await Task.sleep(for: .milliseconds(1100))
        do {
            _ = try await Enroller(stateDir: AgentStateDir(fleet.root + "/a3"), logger: fleet.logger)
                .enroll(coordinator: fleet.url, token: shortLived, caFingerprint: fleet.caFingerprint, hostname: "h3")
            Issue.record("an expired token enrolled an agent")
        } catch let error as TransportError {
            #expect(error.reason.contains("expired"))
        }
        do {
            _ = try await Enroller(stateDir: AgentStateDir(fleet.root + "/a4"), logger: fleet.logger)
                .enroll(coordinator: fleet.url, token: "ct_0000", caFingerprint: fleet.caFingerprint, hostname: "h4")
            Issue.record("an unknown token enrolled an agent")
        } catch let error as TransportError {
            #expect(error.reason.contains("not known"))
        }
        #expect(try fleet.database.agentSummaries().count == 1)
        await fleet.finish()
    }

    @Test func theAgentRenewsItsCertificateWithoutAToken() async throws {
        let fleet = try await LiveFleet.start { $0.agentCertificateLifetime = .init(seconds: 3600) }
        // Renew as soon as less than 99.99% of the lifetime is left: i.e. right away.
        let agent = try await fleet.enrollAgent { $0.renewAtFraction = 0.9999 }
        let before = try Certificate(pemEncoded: try SecureFile.readString(agent.stateDir.certificate))
        let oldKey = try SecureFile.readString(agent.stateDir.key)
        #expect(await agent.service.runOnce())
        let after = try Certificate(pemEncoded: try SecureFile.readString(agent.stateDir.certificate))
        #expect(after.serialNumber != before.serialNumber)
        #expect(try SecureFile.readString(agent.stateDir.key) != oldKey, "renewal uses a fresh key")
        #expect(CordonIdentity(certificate: after) == CordonIdentity(certificate: before))
        #expect(try agent.stateDir.loadEnrollment().certificateNotAfter == after.notValidAfter)
        // The renewed identity works.
        let detail: AgentDetail = try await fleet.withOperator { try await $0.get(APIPath.agents + "/" + agent.id) }
        #expect(detail.reportCount == 1)
        #expect(try fleet.database.auditEntries().contains { $0.action == "agent.renew" })
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func anInterruptedRenewalIsCompletedAtTheNextStart() throws {
        let dir = NSTemporaryDirectory() + "cordon-renew-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = AgentStateDir(dir)
        try SecureFile.makeDirectory(dir)
        let ca = try CertificateAuthority.create(commonName: "CA")
        let oldKey = P256.Signing.PrivateKey(), newKey = P256.Signing.PrivateKey()
        let identity = CordonIdentity(role: .agent, id: "agt-1", segment: "s")
        let oldCert = try ca.issueClientCertificate(publicKey: .init(oldKey.publicKey), identity: identity, lifetime: 60)
        let newCert = try ca.issueClientCertificate(publicKey: .init(newKey.publicKey), identity: identity, lifetime: 3600)
        // Crash after the key was renamed into place, before the certificate was.
        try SecureFile.create(state.key, contents: Data(newKey.pemRepresentation.utf8))
        try SecureFile.create(state.certificate, contents: Data(try oldCert.serializeAsPEM().pemString.utf8))
        try SecureFile.create(state.certificate + ".new", contents: Data(try newCert.serializeAsPEM().pemString.utf8))
        try state.completeInterruptedRenewal()
        #expect(try Certificate(pemEncoded: SecureFile.readString(state.certificate)).serialNumber == newCert.serialNumber)
        #expect(!FileManager.default.fileExists(atPath: state.certificate + ".new"))
    }
}
