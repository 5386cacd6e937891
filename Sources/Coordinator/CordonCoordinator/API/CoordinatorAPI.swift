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
    /// Long-polls record their agent as seen at most every 30 s.
    let pollSightings = PollSightings()
    /// Reports being read and stored at once (`reportIngest`).
    let ingestSlots: IngestSlots
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
        self.ingestSlots = IngestSlots(limit: config.reportIngest.maxConcurrent, maxWait: .seconds(config.reportIngest.maxWait.seconds))
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

/// When a long-poll last recorded each agent as seen. Agents re-poll every 25 s and after
/// each task list, and each recording is a write transaction; heartbeats record the agent too.
/// So a poll records it at most once per `interval`: `lastSeenAt` lags by at most that much,
/// far below the minutes it takes an agent to turn late.
final class PollSightings: Sendable {
    private let last = Mutex([String: ContinuousClock.Instant]())
    let interval: Duration

    init(interval: Duration = .seconds(30)) { self.interval = interval }

    /// True when this poll should record the agent (and notes that it does).
    func due(_ agentID: String, now: ContinuousClock.Instant = .now) -> Bool {
        last.withLock { seen in
            if let at = seen[agentID], now - at < interval { return false }
            // Bounded: an entry per agent that polled; a table past a million is started over.
            if seen.count >= 1_000_000 { seen.removeAll() }
            seen[agentID] = now
            return true
        }
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
