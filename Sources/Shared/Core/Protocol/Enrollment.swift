import Foundation

/// `GET /v1/enroll/ca`: the coordinator's CA certificate, which the agent accepts only when its
/// SHA-256 fingerprint matches the one the operator gave it.
public struct CAResponse: Codable, Sendable, Equatable {
    public var caCertificatePEM: String
    public var fingerprint: String

    public init(caCertificatePEM: String, fingerprint: String) {
        self.caCertificatePEM = caCertificatePEM
        self.fingerprint = fingerprint
    }
}

/// `POST /v1/enroll`: a one-time token and a CSR for a key that never leaves the agent.
public struct EnrollRequest: Codable, Sendable, Equatable {
    public var protocolVersion: ProtocolVersion
    public var token: String
    public var csrPEM: String
    public var hostname: String
    public var agentVersion: String

    public init(protocolVersion: ProtocolVersion = .current, token: String, csrPEM: String, hostname: String, agentVersion: String) {
        self.protocolVersion = protocolVersion
        self.token = token
        self.csrPEM = csrPEM
        self.hostname = hostname
        self.agentVersion = agentVersion
    }
}

/// The answer to enrollment and renewal: the signed certificate, with the agent's identity.
public struct CertificateResponse: Codable, Sendable, Equatable {
    public var agentID: String
    public var segment: String
    public var certificatePEM: String
    public var caCertificatePEM: String
    public var notAfter: Date
    /// The coordinator's Ed25519 key that signs task lists (PEM): the agent pins it.
    public var taskSigningPublicKeyPEM: String
    /// The coordinator's X25519 escrow key (PEM): rotated passwords are sealed to it.
    public var escrowPublicKeyPEM: String

    public init(agentID: String, segment: String, certificatePEM: String, caCertificatePEM: String, notAfter: Date,
                taskSigningPublicKeyPEM: String, escrowPublicKeyPEM: String) {
        self.agentID = agentID
        self.segment = segment
        self.certificatePEM = certificatePEM
        self.caCertificatePEM = caCertificatePEM
        self.notAfter = notAfter
        self.taskSigningPublicKeyPEM = taskSigningPublicKeyPEM
        self.escrowPublicKeyPEM = escrowPublicKeyPEM
    }
}

/// `POST /v1/renew`: a CSR for a fresh key, over the agent's current mTLS identity.
public struct RenewRequest: Codable, Sendable, Equatable {
    public var csrPEM: String
    public init(csrPEM: String) { self.csrPEM = csrPEM }
}
