import CordonShared
import Crypto
import Foundation
import X509

/// What enrollment established: who the agent is and whom it trusts.
public struct EnrollmentRecord: Codable, Sendable, Equatable {
    public var agentID: String
    public var segment: String
    public var coordinator: String
    public var caFingerprint: String
    public var enrolledAt: Date
    public var certificateNotBefore: Date
    public var certificateNotAfter: Date
}

/// What the agent last knew of its coordinator, for `cordon-agent status`.
public struct UplinkStatus: Codable, Sendable, Equatable {
    public var lastContactAt: Date?
    public var lastReportAt: Date?
    public var lastReportID: String?
    public var lastErrorAt: Date?
    public var lastError: String?
    public var consecutiveFailures: Int
    /// This host's clock minus the coordinator's, from the last heartbeat answer (seconds;
    /// positive: this host is ahead). Task expiry and certificate checks use this host's clock.
    public var clockSkewSeconds: Double?

    public init() {
        consecutiveFailures = 0
    }
}

/// The agent's state directory.
///
/// ```
/// agent.key        P-256 private key, 0600, generated here, never sent anywhere
/// agent.crt        the certificate the coordinator issued (agent ID and segment in it)
/// ca.crt           the coordinator's CA, pinned by fingerprint at enrollment
/// enrollment.json  agent ID, segment, coordinator URL, CA fingerprint
/// status.json      last contact, last report, last error
/// spool/           reports waiting for delivery
/// ```
public struct AgentStateDir: Sendable {
    public let path: String

    public init(_ path: String) {
        self.path = path
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public var key: String { file("agent.key") }
    public var certificate: String { file("agent.crt") }
    public var ca: String { file("ca.crt") }
    public var enrollmentFile: String { file("enrollment.json") }
    public var statusFile: String { file("status.json") }
    public var spoolDirectory: String { file("spool") }
    /// The coordinator's task-signing public key, pinned at enrollment.
    public var taskSigningKey: String { file("task-signing.pub") }
    /// The coordinator's escrow public key, pinned at enrollment.
    public var escrowKey: String { file("escrow.pub") }
    /// Task sequence, journal of running tasks, finished task IDs.
    public var tasksDirectory: String { file("tasks") }
    /// Backups of everything remediation changed.
    public var backupsDirectory: String { file("backups") }

    public func loadTaskSigningKey() throws -> Curve25519.Signing.PublicKey {
        do { return try Curve25519PEM.signingPublicKey(pem: try SecureFile.readString(taskSigningKey)) } catch {
            throw AgentError.state("cannot load the coordinator's task-signing key \(taskSigningKey): \(error)")
        }
    }

    public func loadEscrowKey() throws -> Curve25519.KeyAgreement.PublicKey {
        do { return try Curve25519PEM.agreementPublicKey(pem: try SecureFile.readString(escrowKey)) } catch {
            throw AgentError.state("cannot load the coordinator's escrow key \(escrowKey): \(error)")
        }
    }

    public var isEnrolled: Bool { FileManager.default.fileExists(atPath: enrollmentFile) }

    public func loadEnrollment() throws -> EnrollmentRecord {
        guard isEnrolled else {
            throw AgentError.notEnrolled("the agent is not enrolled (no \(enrollmentFile)); run `cordon-agent enroll --coordinator URL --token T --ca-fingerprint SHA256:...`")
        }
        do {
            return try CordonJSON.decode(EnrollmentRecord.self, from: try SecureFile.read(enrollmentFile, limit: 1 << 20))
        } catch {
            throw AgentError.state("\(enrollmentFile) is unreadable: \(error)")
        }
    }

    public func saveEnrollment(_ record: EnrollmentRecord) throws {
        try SecureFile.replace(enrollmentFile, contents: try CordonJSON.encode(record, pretty: true), mode: 0o600)
    }

    /// Finishes a renewal that stopped between installing the new key and the new certificate:
    /// installs `agent.crt.new` when it matches the key in place, and discards leftovers.
    public func completeInterruptedRenewal() throws {
        let newCertificate = certificate + ".new", newKey = key + ".new"
        let fm = FileManager.default
        if fm.fileExists(atPath: newKey) {
            // The key was not installed yet: the old pair is still consistent.
            unlink(newKey)
            unlink(newCertificate)
            return
        }
        guard fm.fileExists(atPath: newCertificate) else { return }
        let matches: Bool = {
            guard let keyPEM = try? SecureFile.readString(key), let k = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM),
                  let certPEM = try? SecureFile.readString(newCertificate), let c = try? Certificate(pemEncoded: certPEM) else { return false }
            return c.publicKey == Certificate.PublicKey(k.publicKey)
        }()
        if matches {
            guard rename(newCertificate, certificate) == 0 else { throw AgentError.state("cannot install \(newCertificate)") }
            if var record = try? loadEnrollment(), let c = try? Certificate(pemEncoded: SecureFile.readString(certificate)) {
                record.certificateNotBefore = c.notValidBefore
                record.certificateNotAfter = c.notValidAfter
                try saveEnrollment(record)
            }
        } else {
            unlink(newCertificate)
        }
    }

    public func loadStatus() -> UplinkStatus {
        guard let data = try? SecureFile.read(statusFile, limit: 1 << 20),
              let status = try? CordonJSON.decode(UplinkStatus.self, from: data) else { return UplinkStatus() }
        return status
    }

    public func saveStatus(_ status: UplinkStatus) {
        // Best effort: a status file that cannot be written must not stop reporting.
        try? SecureFile.replace(statusFile, contents: (try? CordonJSON.encode(status, pretty: true)) ?? Data(), mode: 0o600)
    }
}
