import CordonShared
import CordonTransport
import Foundation
import Logging
import Hummingbird

extension CoordinatorAPI {
    func addAgentRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.post(RouterPath(APIPath.renew)) { request, context in
            let agent = try agentIdentity(context)
            var request = request
            let (body, _) = try await request.decodeJSON(RenewRequest.self, limit: 64 * 1024)
            let csr = try parseCSR(body.csrPEM)
            let asOf = now()
            guard let detail = try await database.offload({ try database.agentDetail(id: agent.id, now: asOf) }) else { throw APIError.notFound("no agent \(agent.id)") }
            let certificate = try issue(csr: csr, identity: CordonIdentity(role: .agent, id: agent.id, segment: detail.agent.segment),
                                        lifetime: config.agentCertificateLifetime.seconds)
            let renewedAt = now()
            try await database.offload { try database.recordRenewal(agentID: agent.id, certificate: certificate, now: renewedAt) }
            context.logger.info("agent certificate renewed", metadata: ["agent.id": "\(agent.id)"])
            return try Response.json(CertificateResponse(agentID: agent.id, segment: detail.agent.segment, certificatePEM: certificate.pem,
                                                         caCertificatePEM: try ca.certificatePEM, notAfter: certificate.notAfter,
                                                         taskSigningPublicKeyPEM: keys.taskSigningPublicKeyPEM, escrowPublicKeyPEM: keys.escrowPublicKeyPEM))
        }

        group.post(RouterPath(APIPath.heartbeat)) { request, context in
            let agent = try agentIdentity(context)
            var request = request
            let (body, _) = try await request.decodeJSON(Heartbeat.self, limit: 64 * 1024)
            guard body.sentAt >= CordonJSON.protocolDateFloor else {
                throw APIError.badRequest("'sentAt' \(CordonTime.format(body.sentAt)) is before 2000: check the agent's clock")
            }
            let skew = body.sentAt.timeIntervalSince(now())
            let off = abs(skew) > ClockSkew.warningSeconds
            if skewedClocks.update(agent.id, off: off) {
                let metadata: Logger.Metadata = ["agent.id": "\(agent.id)", "skew": "\(skew > 0 ? "ahead" : "behind") by \(HumanDuration.format(abs(skew)))"]
                if off {
                    context.logger.warning("an agent's clock is off from the coordinator's: its task lists may be refused as expired", metadata: metadata)
                } else {
                    context.logger.notice("an agent's clock agrees with the coordinator's again", metadata: metadata)
                }
            }
            let receivedAt = now()
            let scope = try await database.offload {
                try database.recordHeartbeat(agentID: agent.id, heartbeat: body, now: receivedAt)
                return try database.segmentScope(name: agent.segment ?? "")
            }
            return try Response.json(HeartbeatResponse(serverTime: now(), allowedScope: scope, acceptsEncodings: [BodyEncoding.gzip]))
        }

        group.get(RouterPath(APIPath.agentConfig)) { _, context in
            let agent = try agentIdentity(context)
            let segment = agent.segment ?? ""
            return try Response.json(AgentRemoteConfig(agentID: agent.id, segment: segment, serverTime: now(),
                                                        allowedScope: try await database.offload { try database.segmentScope(name: segment) }))
        }

        group.post(RouterPath(APIPath.reports)) { request, context in
            let agent = try agentIdentity(context)
            guard await ingestSlots.acquire() else {
                context.logger.notice("report deferred: too many being stored at once", metadata: ["agent.id": "\(agent.id)"])
                throw APIError(.serviceUnavailable, code: APIErrorCode.busy,
                               "the coordinator is storing \(ingestSlots.limit) reports already and this one waited \(ingestSlots.maxWait); nothing was read, send it again later",
                               retryAfter: 10)
            }
            do {
                let response = try await storeReport(request, agent: agent, context: context)
                await ingestSlots.release()
                return response
            } catch {
                await ingestSlots.release()
                throw error
            }
        }
    }

    /// The body of POST /v1/reports, holding an ingest slot.
    private func storeReport(_ request: Request, agent: CordonIdentity, context: CordonRequestContext) async throws -> Response {
        var request = request
        let (report, body) = try await request.decodeJSON(AgentReport.self, limit: maxBody)
        guard AgentReport.isValidID(report.id) else { throw APIError.badRequest("'id' must be 8-64 letters, digits or '-'") }
        guard report.protocolVersion.isSpoken else {
            throw APIError(.badRequest, code: APIErrorCode.unsupportedProtocol,
                           "report protocol version \(report.protocolVersion) is not spoken here; this coordinator speaks \(ProtocolVersion.spokenDescription)")
        }
        guard (0...Int(Int32.max)).contains(report.spoolDropped) else {
            throw APIError.badRequest("'spoolDropped' must be between 0 and \(Int32.max), got \(report.spoolDropped)")
        }
        if let violation = ReportLimits.violation(report) {
            throw APIError(.contentTooLarge, code: APIErrorCode.reportTooLarge, violation)
        }
        // Dates a later read must be able to order and compare: not more than a day ahead.
        guard report.createdAt >= CordonJSON.protocolDateFloor else {
            throw APIError.badRequest("'createdAt' \(CordonTime.format(report.createdAt)) is before 2000: check the agent's clock")
        }
        guard report.createdAt <= now().addingTimeInterval(86_400) else {
            throw APIError.badRequest("'createdAt' \(CordonTime.format(report.createdAt)) is more than a day ahead of the coordinator's clock (\(CordonTime.format(now()))): check the agent's clock")
        }
        // Acknowledged only after the transaction commits: `ingest` returns after commit.
        let started = ContinuousClock.now
        let receivedAt = now()
        let (ack, transactions) = try await database.offloadIngest {
            try database.ingestCountingTransactions(report: report, body: body, agentID: agent.id, policy: config.inventoryPolicy,
                                                    now: receivedAt, retention: config.reportRetention)
        }
        metrics.ingested(duration: ContinuousClock.now - started, hosts: report.scan?.hosts.count ?? 0, transactions: transactions)
        context.logger.debug("report stored", metadata: ["agent.id": "\(agent.id)", "report.id": "\(report.id)", "duplicate": "\(ack.duplicate)"])
        return try Response.json(ack, status: ack.duplicate ? .ok : .created)
    }

    func agentIdentity(_ context: CordonRequestContext) throws -> CordonIdentity {
        guard let identity = context.identity, identity.role == .agent else {
            throw APIError.forbidden("this route is for agent certificates only")
        }
        return identity
    }
}
