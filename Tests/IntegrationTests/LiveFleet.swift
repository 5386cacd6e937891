import AsyncHTTPClient
@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import CordonTransport
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOFoundationCompat
import NIOSSL
import Testing

/// A real coordinator on 127.0.0.1 (port 0) with a temporary state directory, an operator
/// and helpers to enroll agents: everything over real TLS and SQLite.
final class LiveFleet: @unchecked Sendable {
    let root: String
    let stateDir: CoordinatorStateDir
    let database: CoordinatorDatabase
    var config: CoordinatorConfig
    var coordinator: EmbeddedCoordinator
    let caFingerprint: String
    let operatorProfile: OperatorProfile
    let logger: Logger

    /// - Parameter root: where the state goes (default: a new directory under the temporary one).
    static func start(root: String? = nil, configure: (inout CoordinatorConfig) -> Void = { _ in }) async throws -> LiveFleet {
        let root = root ?? NSTemporaryDirectory() + "cordon-it-\(UUID().uuidString.prefix(8))"
        let stateDir = CoordinatorStateDir(root + "/coordinator")
        let result = try stateDir.initialize(name: "127.0.0.1", extraNames: ["localhost"])
        let database = try CoordinatorDatabase.open(path: stateDir.database)
        var config = CoordinatorConfig(stateDir: stateDir.path)
        config.listen = .init(host: "127.0.0.1", port: 0)
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let coordinator = try await EmbeddedCoordinator.start(stateDir: stateDir, config: config, database: database, logger: logger)
        let issued = try OperatorIssuer(stateDir: stateDir).add(name: "alice", coordinator: coordinator.url, outDirectory: root + "/operator",
                                                                csrPath: nil, lifetime: 3600, actor: "local:test")
        return LiveFleet(root: root, stateDir: stateDir, database: database, config: config, coordinator: coordinator,
                         caFingerprint: result.caFingerprint, operatorProfile: issued.profile, logger: logger)
    }

    private init(root: String, stateDir: CoordinatorStateDir, database: CoordinatorDatabase, config: CoordinatorConfig,
                 coordinator: EmbeddedCoordinator, caFingerprint: String, operatorProfile: OperatorProfile, logger: Logger) {
        self.root = root
        self.stateDir = stateDir
        self.database = database
        self.config = config
        self.coordinator = coordinator
        self.caFingerprint = caFingerprint
        self.operatorProfile = operatorProfile
        self.logger = logger
    }

    var url: String { coordinator.url }

    /// Stops the coordinator and removes the state.
    func finish() async {
        await coordinator.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Stops the coordinator (the port stays reserved in `config` for `restart`).
    func stopCoordinator() async {
        config.listen.port = coordinator.port
        await coordinator.stop()
    }

    func restartCoordinator() async throws {
        coordinator = try await EmbeddedCoordinator.start(stateDir: stateDir, config: config, database: database, logger: logger)
    }

    func withOperator<T>(_ body: (CordonHTTPClient) async throws -> T) async throws -> T {
        let client = try operatorProfile.makeClient(coordinatorOverride: url)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    func token(segment: String = "dmz", ttl: Double = 600, uses: Int = 1) async throws -> String {
        try await withOperator { client in
            let response: TokenCreateResponse = try await client.post(APIPath.tokens, body: TokenCreateRequest(segment: segment, ttlSeconds: ttl, uses: uses))
            return response.token
        }
    }

    /// Enrolls an agent with a fresh state directory and returns its service.
    func enrollAgent(segment: String = "dmz", name: String = "jump", configure: (inout AgentConfig) -> Void = { _ in }) async throws -> TestAgent {
        let token = try await token(segment: segment)
        let agentState = AgentStateDir(root + "/agents/\(name)-\(UUID().uuidString.prefix(4))")
        let record = try await Enroller(stateDir: agentState, logger: logger).enroll(coordinator: url, token: token, caFingerprint: caFingerprint, hostname: name)
        var config = AgentConfig(stateDir: agentState.path)
        config.heartbeatInterval = .init(seconds: 1)
        config.reportInterval = .init(seconds: 1)
        config.maxBackoff = .init(seconds: 0.5)
        configure(&config)
        let uplink = try Uplink(stateDir: agentState, logger: logger)
        let spool = try Spool(directory: agentState.spoolDirectory, maxBytes: config.spool.maxSize.bytes)
        return TestAgent(record: record, stateDir: agentState, config: config,
                         service: AgentService(config: config, uplink: uplink, spool: spool, logger: logger))
    }

    /// A raw HTTPS client with the given TLS identity, for requests the typed clients would
    /// never send (malformed bodies, wrong versions).
    func raw(certificatePEM: String?, keyPEM: String?) throws -> RawClient {
        RawClient(baseURL: url, tls: try TLSMaterial.client(certificatePEM: certificatePEM, keyPEM: keyPEM,
                                                            caPEM: try SecureFile.readString(stateDir.caCertificate)))
    }

    func rawAsAgent(_ agent: TestAgent) throws -> RawClient {
        try raw(certificatePEM: try SecureFile.readString(agent.stateDir.certificate), keyPEM: try SecureFile.readString(agent.stateDir.key))
    }

    func rawAsOperator() throws -> RawClient {
        try raw(certificatePEM: try SecureFile.readString(operatorProfile.certificate), keyPEM: try SecureFile.readString(operatorProfile.key))
    }
}

struct TestAgent: Sendable {
    let record: EnrollmentRecord
    let stateDir: AgentStateDir
    let config: AgentConfig
    let service: AgentService
    var id: String { record.agentID }
}

/// HTTPS requests with arbitrary bodies and headers.
struct RawClient: Sendable {
    let baseURL: String
    let client: HTTPClient

    init(baseURL: String, tls: TLSConfiguration) {
        self.baseURL = baseURL
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    struct Reply {
        var status: Int
        var body: Data
        var headers: [(String, String)] = []
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var error: APIErrorBody? { try? CordonJSON.decode(APIErrorBody.self, from: body) }
    }

    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [(String, String)] = [(ProtocolVersion.headerName, "1.0")]) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), body: Data(buffer: buffer), headers: response.headers.map { ($0.name, $0.value) })
    }

    func shutdown() async { try? await client.shutdown() }
}
