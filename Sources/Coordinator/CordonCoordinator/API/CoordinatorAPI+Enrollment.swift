import CordonShared
import Foundation
import Hummingbird

extension CoordinatorAPI {
    /// The only routes that answer without a client certificate.
    func addEnrollmentRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.enrollCA)) { _, _ in
            try Response.json(CAResponse(caCertificatePEM: try ca.certificatePEM, fingerprint: try ca.fingerprint))
        }

        group.post(RouterPath(APIPath.enroll)) { request, context in
            var request = request
            let (body, _) = try await request.decodeJSON(EnrollRequest.self, limit: min(maxBody, 64 * 1024))
            guard body.protocolVersion.isSpoken else {
                throw APIError(.badRequest, code: APIErrorCode.unsupportedProtocol,
                               "protocol version \(body.protocolVersion) is not spoken here; this coordinator speaks \(ProtocolVersion.spokenDescription)")
            }
            guard !body.token.isEmpty, body.token.utf8.count <= 256 else { throw APIError.badRequest("'token' must be 1-256 characters") }
            guard !body.hostname.isEmpty, body.hostname.utf8.count <= 255 else { throw APIError.badRequest("'hostname' must be 1-255 characters") }
            let csr = try parseCSR(body.csrPEM)
            guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
                throw APIError.badRequest("the CSR's signature does not verify with its own public key")
            }
            let enrolledAt = now()
            let outcome = try await database.offload {
                try database.enroll(token: body.token, hostname: body.hostname, agentVersion: body.agentVersion, now: enrolledAt) { agentID, segment in
                    try issue(csr: csr, identity: CordonIdentity(role: .agent, id: agentID, segment: segment),
                              lifetime: config.agentCertificateLifetime.seconds)
                }
            }
            switch outcome {
            case .refused(let refusal):
                context.logger.notice("enrollment refused", metadata: ["reason": "\(refusal.rawValue)", "host": "\(body.hostname.prefix(80))"])
                throw APIError(.forbidden, code: APIErrorCode.invalidToken, refusal.message)
            case .enrolled(let agentID, let segment, let certificate):
                context.logger.info("agent enrolled", metadata: ["agent.id": "\(agentID)", "segment": "\(segment)"])
                return try Response.json(CertificateResponse(agentID: agentID, segment: segment, certificatePEM: certificate.pem,
                                                             caCertificatePEM: try ca.certificatePEM, notAfter: certificate.notAfter,
                                                         taskSigningPublicKeyPEM: keys.taskSigningPublicKeyPEM, escrowPublicKeyPEM: keys.escrowPublicKeyPEM),
                                         status: .created)
            }
        }
    }
}
