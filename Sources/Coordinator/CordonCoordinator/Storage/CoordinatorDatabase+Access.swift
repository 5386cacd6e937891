import CordonShared
import Foundation
import GRDB

/// Whether a presented client certificate may make a request.
public enum AccessDecision: Sendable, Equatable {
    case allowed
    /// The CA signed it but the coordinator has no record of it (for example a certificate
    /// from a state directory that was re-initialized).
    case unknownCertificate
    case revoked
}

extension CoordinatorDatabase {
    /// Checks a certificate by serial against what the CA issued and what was revoked.
    public func access(serial: String, identity: CordonIdentity) throws -> AccessDecision {
        try read { db in
            guard let cert = try IssuedCertificateRecord.cachedFetchOne(db, where: "serial", is: serial),
                  cert.role == identity.role.rawValue, cert.subject == identity.id else { return .unknownCertificate }
            if cert.revokedAt != nil { return .revoked }
            switch identity.role {
            case .agent:
                guard let agent = try AgentRecord.cachedFetchOne(db, where: "id", is: identity.id) else { return .unknownCertificate }
                return agent.revokedAt == nil ? .allowed : .revoked
            case .operator:
                guard let op = try OperatorRecord.cachedFetchOne(db, where: "name", is: identity.id) else { return .unknownCertificate }
                return op.revokedAt == nil ? .allowed : .revoked
            case .coordinator:
                return .unknownCertificate
            }
        }
    }
}
