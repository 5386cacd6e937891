import CordonShared
import CordonTransport
import Crypto
import Foundation
import Logging
import X509

/// Enrollment: pin the coordinator's CA by fingerprint, make a key here, send only a CSR,
/// and store the certificate the coordinator signs.
///
/// There is no trust on first use. The CA certificate is fetched over a TLS connection that
/// verifies nothing, and trusted only if its SHA-256 fingerprint equals the operator's pin;
/// the enrollment request itself then runs over TLS verified against that CA, so a
/// man-in-the-middle who replays the real CA certificate still cannot answer it.
public struct Enroller: Sendable {
    public let stateDir: AgentStateDir
    public let logger: Logger

    public init(stateDir: AgentStateDir, logger: Logger) {
        self.stateDir = stateDir
        self.logger = logger
    }

    public func enroll(coordinator: String, token: String, caFingerprint: String, hostname: String) async throws -> EnrollmentRecord {
        guard coordinator.hasPrefix("https://") else { throw AgentError.config("--coordinator must be an https:// URL, got \(coordinator.prefix(100))") }
        guard let pin = Fingerprint.normalize(caFingerprint) else {
            throw AgentError.config("--ca-fingerprint must be SHA256: followed by 64 hex digits (as `cordon init` printed it)")
        }
        guard !stateDir.isEnrolled else {
            throw AgentError.alreadyEnrolled("\(stateDir.path) already holds an enrollment; remove it to enroll again")
        }
        try SecureFile.makeDirectory(stateDir.path, mode: 0o700)

        // 1. The CA, trusted only by its fingerprint.
        let fetchClient = CordonHTTPClient(baseURL: coordinator, tls: TLSMaterial.unverified(), requestTimeout: .seconds(30))
        let caResponse: CAResponse
        do {
            caResponse = try await fetchClient.get(APIPath.enrollCA)
            await fetchClient.shutdown()
        } catch {
            await fetchClient.shutdown()
            throw error
        }
        let ca: Certificate
        do { ca = try Certificate(pemEncoded: caResponse.caCertificatePEM) } catch {
            throw AgentError.enrollment("the coordinator sent a CA certificate that does not parse")
        }
        let presented = try Fingerprint.sha256(ca)
        guard presented == pin else {
            throw AgentError.fingerprintMismatch(
                "the coordinator's CA fingerprint is \(presented), not the pinned \(pin); enrollment aborted, nothing was sent")
        }

        // 2. A key that never leaves this host, and a CSR for it, over TLS verified against the CA.
        let key = P256.Signing.PrivateKey()
        let csr = try CSRBuilder.make(key: key, commonName: hostname)
        let request = EnrollRequest(token: token, csrPEM: try csr.serializeAsPEM().pemString, hostname: hostname, agentVersion: CordonVersion.current)
        let client = CordonHTTPClient(baseURL: coordinator, tls: try TLSMaterial.client(certificatePEM: nil, keyPEM: nil, caPEM: caResponse.caCertificatePEM))
        let response: CertificateResponse
        do {
            response = try await client.post(APIPath.enroll, body: request)
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }

        // 3. Check what came back before keeping it.
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: response.certificatePEM) } catch {
            throw AgentError.enrollment("the coordinator returned a certificate that does not parse")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw AgentError.enrollment("the coordinator returned a certificate for another key")
        }
        guard certificate.issuer == ca.subject, ca.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw AgentError.enrollment("the returned certificate was not issued by the pinned CA")
        }
        guard let identity = CordonIdentity(certificate: certificate), identity.role == .agent, identity.id == response.agentID else {
            throw AgentError.enrollment("the returned certificate does not name agent \(response.agentID)")
        }

        do {
            _ = try Curve25519PEM.signingPublicKey(pem: response.taskSigningPublicKeyPEM)
            _ = try Curve25519PEM.agreementPublicKey(pem: response.escrowPublicKeyPEM)
        } catch {
            throw AgentError.enrollment("the coordinator sent unusable task-signing or escrow keys: \(error)")
        }

        try SecureFile.create(stateDir.key, contents: Data(key.pemRepresentation.utf8), mode: 0o600)
        try SecureFile.replace(stateDir.taskSigningKey, contents: Data(response.taskSigningPublicKeyPEM.utf8), mode: 0o644)
        try SecureFile.replace(stateDir.escrowKey, contents: Data(response.escrowPublicKeyPEM.utf8), mode: 0o644)
        try SecureFile.replace(stateDir.certificate, contents: Data(response.certificatePEM.utf8), mode: 0o644)
        try SecureFile.replace(stateDir.ca, contents: Data(caResponse.caCertificatePEM.utf8), mode: 0o644)
        let record = EnrollmentRecord(agentID: response.agentID, segment: response.segment, coordinator: coordinator, caFingerprint: pin,
                                      enrolledAt: Date(), certificateNotBefore: certificate.notValidBefore,
                                      certificateNotAfter: certificate.notValidAfter)
        try stateDir.saveEnrollment(record)
        logger.notice("enrolled", metadata: ["agent.id": "\(record.agentID)", "segment": "\(record.segment)"])
        return record
    }
}
