import CordonShared
import Crypto
import Foundation
import GRDB

/// A certificate the CA just signed, as storage needs to know it.
public struct IssuedCertificate: Sendable {
    public var serial: String
    public var notAfter: Date
    public var pem: String

    public init(serial: String, notAfter: Date, pem: String) {
        self.serial = serial
        self.notAfter = notAfter
        self.pem = pem
    }
}

/// Why a token did not enroll an agent.
public enum TokenRefusal: String, Sendable, Equatable {
    case unknown
    case expired
    case exhausted

    public var message: String {
        switch self {
        case .unknown: "the enrollment token is not known to this coordinator"
        case .expired: "the enrollment token has expired; create a new one with `cordon tokens create`"
        case .exhausted: "the enrollment token has already been used; create a new one with `cordon tokens create`"
        }
    }
}

public enum EnrollOutcome: Sendable {
    case enrolled(agentID: String, segment: String, certificate: IssuedCertificate)
    case refused(TokenRefusal)
}

public struct CreatedToken: Sendable {
    public var token: String
    public var id: String
    public var segment: String
    public var expiresAt: Date
    public var uses: Int
}

extension CoordinatorDatabase {
    /// Token secrets are stored only as their SHA-256.
    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let b = UInt8.random(in: 0...255, using: &generator)
            return (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }

    /// Creates a one-time (or N-time) enrollment token for `segment`. The secret is returned
    /// once and never stored.
    public func createToken(segment: String, ttl: TimeInterval, uses: Int, actor: String, now: Date = Date()) throws -> CreatedToken {
        try CordonName.validate(segment, as: "segment")
        guard ttl > 0, ttl <= 30 * 86400 else { throw CoordinatorError.token("a token's TTL must be between 1s and 30d") }
        guard (1...10_000).contains(uses) else { throw CoordinatorError.token("a token's uses must be between 1 and 10000") }
        let token = "ct_" + Self.randomHex(bytes: 20)
        let hash = Self.tokenHash(token)
        let record = EnrollmentTokenRecord(id: String(hash.prefix(12)), hash: hash, segment: segment, createdAt: now,
                                           expiresAt: now.addingTimeInterval(ttl), usesLeft: uses, createdBy: actor)
        try write { db in
            try record.insert(db)
            try Self.audit(db, at: now, actor: actor, action: "token.create", target: "segment:\(segment)",
                           detail: "token \(record.id), \(uses) use(s), expires \(CordonTime.format(record.expiresAt))")
        }
        return CreatedToken(token: token, id: record.id, segment: segment, expiresAt: record.expiresAt, uses: uses)
    }

    /// Redeems a token and records the new agent and its certificate, all in one transaction.
    /// `issue` signs the certificate for the new agent ID; if it throws, nothing is written and
    /// the token keeps its use.
    public func enroll(token: String, hostname: String, agentVersion: String, now: Date = Date(),
                       issue: (_ agentID: String, _ segment: String) throws -> IssuedCertificate) throws -> EnrollOutcome {
        let hash = Self.tokenHash(token)
        return try write { db -> EnrollOutcome in
            guard var record = try EnrollmentTokenRecord.filter(Column("hash") == hash).fetchOne(db) else { return .refused(.unknown) }
            guard record.expiresAt > now else { return .refused(.expired) }
            guard record.usesLeft > 0 else { return .refused(.exhausted) }
            record.usesLeft -= 1
            try record.update(db)

            let agentID = "agt-" + Self.randomHex(bytes: 8)
            let certificate = try issue(agentID, record.segment)
            try AgentRecord(id: agentID, segment: record.segment, hostname: String(hostname.prefix(255)),
                            agentVersion: String(agentVersion.prefix(64)), enrolledAt: now, tokenID: record.id,
                            certificateNotAfter: certificate.notAfter, lastSeenAt: now, lastReportAt: nil,
                            heartbeatInterval: 30, reportInterval: 300, spoolDepth: 0, spoolDroppedTotal: 0,
                            revokedAt: nil, factsJSON: nil).insert(db)
            try IssuedCertificateRecord(serial: certificate.serial, role: CordonIdentity.Role.agent.rawValue, subject: agentID,
                                        issuedAt: now, notAfter: certificate.notAfter, revokedAt: nil).insert(db)
            try Self.audit(db, at: now, actor: "agent:\(agentID)", action: "agent.enroll", target: "agent:\(agentID)",
                           detail: "segment \(record.segment), host \(hostname.prefix(80)), token \(record.id)")
            return .enrolled(agentID: agentID, segment: record.segment, certificate: certificate)
        }
    }

    /// Records a renewed agent certificate.
    public func recordRenewal(agentID: String, certificate: IssuedCertificate, now: Date = Date()) throws {
        try write { db in
            guard var agent = try AgentRecord.fetchOne(db, key: agentID) else { throw CoordinatorError.notFound("no agent \(agentID)") }
            agent.certificateNotAfter = certificate.notAfter
            agent.lastSeenAt = now
            try agent.update(db)
            try IssuedCertificateRecord(serial: certificate.serial, role: CordonIdentity.Role.agent.rawValue, subject: agentID,
                                        issuedAt: now, notAfter: certificate.notAfter, revokedAt: nil).insert(db)
            try Self.audit(db, at: now, actor: "agent:\(agentID)", action: "agent.renew", target: "agent:\(agentID)",
                           detail: "certificate \(certificate.serial.prefix(16)) valid until \(CordonTime.format(certificate.notAfter))")
        }
    }

    /// Records a new operator and its first certificate. Refuses an existing operator name.
    public func addOperator(name: String, certificate: IssuedCertificate, actor: String, now: Date = Date()) throws {
        try CordonName.validate(name, as: "operator name")
        try write { db in
            if try OperatorRecord.fetchOne(db, key: name) != nil {
                throw CoordinatorError.conflict("operator \(name) already exists")
            }
            try OperatorRecord(name: name, createdAt: now, revokedAt: nil).insert(db)
            try IssuedCertificateRecord(serial: certificate.serial, role: CordonIdentity.Role.operator.rawValue, subject: name,
                                        issuedAt: now, notAfter: certificate.notAfter, revokedAt: nil).insert(db)
            try Self.audit(db, at: now, actor: actor, action: "operator.add", target: "operator:\(name)",
                           detail: "certificate \(certificate.serial.prefix(16)) valid until \(CordonTime.format(certificate.notAfter))")
        }
    }

    public func revokeOperator(name: String, actor: String, now: Date = Date()) throws -> Bool {
        try write { db in
            guard var record = try OperatorRecord.fetchOne(db, key: name) else { throw CoordinatorError.notFound("no operator named \(name)") }
            if record.revokedAt != nil { return false }
            record.revokedAt = now
            try record.update(db)
            try db.execute(sql: "UPDATE issuedCertificate SET revokedAt = ? WHERE role = 'operator' AND subject = ? AND revokedAt IS NULL",
                           arguments: [now, name])
            try Self.audit(db, at: now, actor: actor, action: "operator.revoke", target: "operator:\(name)", detail: "")
            return true
        }
    }

    /// Runs a write transaction, turning SQLite errors into `CoordinatorError.storage`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        writersQueuedCount.add(1, ordering: .relaxed)
        defer { writersQueuedCount.subtract(1, ordering: .relaxed) }
        do {
            return try writer.write(body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR {
            throw CoordinatorError.storageFull("\(error.resultCode): \(error.message ?? error.description)")
        } catch let error as DatabaseError {
            throw CoordinatorError.storage("database write failed: \(error.message ?? error.description)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw CoordinatorError.storage("database read failed: \(error.message ?? error.description)")
        }
    }
}
