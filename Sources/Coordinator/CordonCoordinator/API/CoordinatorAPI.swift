import CordonShared
import Crypto
import Foundation
import Hummingbird
import Logging
import Synchronization
import X509

/// The coordinator's routes and what they need: storage, the CA and the limits.
public struct CoordinatorAPI: Sendable {
    public let database: CoordinatorDatabase
    public let ca: CertificateAuthority
    public let config: CoordinatorConfig
    public let keys: CoordinatorKeys
    /// Wakes long-polling agents when a task is queued.
    public let dispatcher: TaskDispatcher
    /// Reads the escrow private key when an operator reads a secret (and only then).
    public let secretsKey: @Sendable () throws -> Curve25519.KeyAgreement.PrivateKey
    /// The clock routes judge expiry and liveness by (injected by tests).
    public let now: @Sendable () -> Date
    /// Agents whose clocks are off, so that the log says so when it starts and when it ends,
    /// not on every heartbeat.
    let skewedClocks = SkewedClocks()
    /// Requests answered, by status.
    public let requestStats = RequestStats()
    /// What `/metrics` shows.
    public let metrics = CoordinatorMetrics()

    public init(database: CoordinatorDatabase, ca: CertificateAuthority, keys: CoordinatorKeys, config: CoordinatorConfig,
                dispatcher: TaskDispatcher = TaskDispatcher(),
                secretsKey: @escaping @Sendable () throws -> Curve25519.KeyAgreement.PrivateKey,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.ca = ca
        self.keys = keys
        self.dispatcher = dispatcher
        self.secretsKey = secretsKey
        self.config = config
        self.now = now
    }

    var maxBody: Int { config.maxBodySize.bytes }

    /// A router with every route, behind the error, protocol and authentication middleware.
    public func makeRouter() -> Router<CordonRequestContext> {
        let router = Router(context: CordonRequestContext.self)
        router.add(middleware: RequestStatsMiddleware(stats: requestStats, metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(database: database))
        addEnrollmentRoutes(to: router.group())
        let agentRoutes = router.group().add(middleware: ProtocolVersionMiddleware(required: true)).add(middleware: RoleMiddleware(role: .agent))
        addAgentRoutes(to: agentRoutes)
        addAgentTaskRoutes(to: agentRoutes)
        let operatorRoutes = router.group().add(middleware: ProtocolVersionMiddleware(required: false)).add(middleware: RoleMiddleware(role: .operator))
        addOperatorRoutes(to: operatorRoutes)
        addFleetRoutes(to: operatorRoutes)
        addOperatorTaskRoutes(to: operatorRoutes)
        addPlanRoutes(to: operatorRoutes)
        addSegmentRoutes(to: operatorRoutes)
        addMetricsRoute(to: operatorRoutes)
        return router
    }

    /// Parses a PEM CSR from a request, bounded.
    func parseCSR(_ pem: String) throws -> CertificateSigningRequest {
        guard pem.utf8.count <= 16 * 1024 else { throw APIError.badRequest("the CSR is larger than 16 KiB") }
        do {
            return try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw APIError.badRequest("'csrPEM' is not a PEM certificate signing request")
        }
    }

    func issue(csr: CertificateSigningRequest, identity: CordonIdentity, lifetime: TimeInterval) throws -> IssuedCertificate {
        let certificate: Certificate
        do {
            certificate = try ca.issueClientCertificate(csr: csr, identity: identity, now: now(), lifetime: lifetime)
        } catch let error as CordonError where error == .invalidSignature || error == .invalidArgument {
            throw APIError.badRequest(error.reason)
        }
        return IssuedCertificate(serial: certificate.serialNumber.hex, notAfter: certificate.notValidAfter,
                                 pem: try certificate.serializeAsPEM().pemString)
    }
}

/// The agents whose clocks are off from the coordinator's (at most one entry per agent).
final class SkewedClocks: Sendable {
    private let agents = Mutex(Set<String>())

    /// Records whether the agent's clock is off; true when that changed.
    func update(_ agentID: String, off: Bool) -> Bool {
        agents.withLock { off ? $0.insert(agentID).inserted : $0.remove(agentID) != nil }
    }
}
