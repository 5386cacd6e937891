import CordonShared
import CordonTransport
import Crypto
import Foundation
import Logging
import X509

/// The agent's connection to its coordinator: mutual TLS with the enrolled identity.
///
/// It rebuilds its HTTP client after a certificate renewal.
public actor Uplink {
    public let stateDir: AgentStateDir
    private let coordinatorOverride: String?
    private let logger: Logger
    private var client: CordonHTTPClient?
    public private(set) var enrollment: EnrollmentRecord
    /// Whether the coordinator said (in its last heartbeat answer) that it takes gzip bodies.
    public private(set) var coordinatorAcceptsGzip = false

    public init(stateDir: AgentStateDir, coordinatorOverride: String? = nil, logger: Logger) throws {
        self.stateDir = stateDir
        self.coordinatorOverride = coordinatorOverride
        self.logger = logger
        self.enrollment = try stateDir.loadEnrollment()
        try stateDir.completeInterruptedRenewal()
    }

    public var coordinatorURL: String { coordinatorOverride ?? enrollment.coordinator }

    private func http() throws -> CordonHTTPClient {
        if let client { return client }
        let tls = try TLSMaterial.client(certificatePath: stateDir.certificate, keyPath: stateDir.key, caPath: stateDir.ca)
        let made = CordonHTTPClient(baseURL: coordinatorURL, tls: tls, requestTimeout: .seconds(60), connectTimeout: .seconds(10))
        client = made
        return made
    }

    public func shutdown() async {
        await client?.shutdown()
        client = nil
    }

    public func heartbeat(_ heartbeat: Heartbeat) async throws -> HeartbeatResponse {
        let response: HeartbeatResponse = try await http().post(APIPath.heartbeat, body: heartbeat)
        coordinatorAcceptsGzip = response.acceptsEncodings?.contains(BodyEncoding.gzip) == true
        return response
    }

    public func remoteConfig(timeout: Double = 60) async throws -> AgentRemoteConfig {
        try await http().get(APIPath.agentConfig, timeout: .milliseconds(Int64(timeout * 1000)))
    }

    /// For tests: as if the last heartbeat answer had said the coordinator takes gzip.
    func assumeCoordinatorAcceptsGzip() { coordinatorAcceptsGzip = true }

    /// Sends a spooled report exactly as it was spooled: gzip-compressed when the coordinator
    /// said it takes that. A compressed report refused as malformed (400: a coordinator rolled
    /// back to a version without gzip since its last heartbeat) is sent once more uncompressed
    /// before the refusal counts, so that it is never discarded for its encoding.
    public func send(reportJSON: Data) async throws -> ReportAck {
        if coordinatorAcceptsGzip, reportJSON.count >= BodyEncoding.minimumToCompress, let compressed = try? BodyEncoding.compress(reportJSON) {
            do {
                return try await http().postRaw(APIPath.reports, json: compressed, contentEncoding: BodyEncoding.gzip)
            } catch let error as TransportError where error.status == 400 || error.status == 415 {
                coordinatorAcceptsGzip = false
                logger.warning("the coordinator refused a gzip report; sending it uncompressed", metadata: ["error": "\(error.reason)"])
            }
        }
        return try await http().postRaw(APIPath.reports, json: reportJSON)
    }

    /// Long-polls for the next task list: nil when none arrived within `wait` seconds.
    public func nextTask(wait: Double) async throws -> SignedTaskList? {
        let seconds = max(1, min(Int(wait), 300))
        let data = try await http().getRaw(APIPath.nextTask + "?wait=\(seconds)", timeout: .seconds(Int64(seconds + 15)))
        guard let data, !data.isEmpty else { return nil }
        do { return try CordonJSON.decode(SignedTaskList.self, from: data) } catch {
            throw TransportError.badResponse("the coordinator's task list did not decode: \(CordonJSON.describe(error))")
        }
    }

    /// Reports where a task stands. Throws `TransportError.refused` with status 409 when the
    /// coordinator cancelled the task (it must then not run).
    public func postTaskStatus(taskID: String, _ update: TaskStatusUpdate) async throws {
        let _: TaskStatusAck = try await http().post(APIPath.taskStatus(taskID), body: update)
    }

    /// Reports a list refused before it could be trusted (see `LocalRefusal`).
    public func postLocalRefusal(_ refusal: LocalRefusal) async throws {
        let _: LocalRefusalAck = try await http().post(APIPath.taskRefusals, body: refusal)
    }

    /// True when the certificate has less than `fraction` of its lifetime left.
    public func renewalDue(now: Date, fraction: Double) -> Bool {
        let lifetime = enrollment.certificateNotAfter.timeIntervalSince(enrollment.certificateNotBefore)
        return enrollment.certificateNotAfter.timeIntervalSince(now) < lifetime * fraction
    }

    /// Renews the certificate with a fresh key over the current mTLS identity: no token.
    /// The new key and certificate replace the old ones only once the new certificate checks out.
    public func renew() async throws {
        let key = P256.Signing.PrivateKey()
        let csr = try CSRBuilder.make(key: key, commonName: enrollment.agentID)
        let response: CertificateResponse = try await http().post(APIPath.renew, body: RenewRequest(csrPEM: try csr.serializeAsPEM().pemString))
        let certificate = try Certificate(pemEncoded: response.certificatePEM)
        let ca = try Certificate(pemEncoded: try SecureFile.readString(stateDir.ca))
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey),
              ca.publicKey.isValidSignature(certificate.signature, for: certificate),
              CordonIdentity(certificate: certificate)?.id == enrollment.agentID else {
            throw AgentError.enrollment("the renewed certificate does not match this agent's new key, CA or ID")
        }
        // Both new files first, then the key, then the certificate. A crash between the two
        // renames is completed at the next start by `AgentStateDir.completeInterruptedRenewal()`.
        try SecureFile.replace(stateDir.key + ".new", contents: Data(key.pemRepresentation.utf8), mode: 0o600)
        try SecureFile.replace(stateDir.certificate + ".new", contents: Data(response.certificatePEM.utf8), mode: 0o644)
        guard rename(stateDir.key + ".new", stateDir.key) == 0, rename(stateDir.certificate + ".new", stateDir.certificate) == 0 else {
            throw AgentError.state("cannot install the renewed certificate in \(stateDir.path)")
        }
        enrollment.certificateNotBefore = certificate.notValidBefore
        enrollment.certificateNotAfter = certificate.notValidAfter
        try stateDir.saveEnrollment(enrollment)
        await client?.shutdown()
        client = nil
        logger.notice("certificate renewed", metadata: ["agent.id": "\(enrollment.agentID)", "notAfter": "\(CordonTime.format(certificate.notValidAfter))"])
    }
}
