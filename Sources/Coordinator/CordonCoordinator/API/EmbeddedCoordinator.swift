import CordonShared
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A coordinator running inside this process, for `cordon demo` and the live tests: the same
/// application `cordon serve` runs, with real TLS and SQLite, started and stopped on demand.
public final class EmbeddedCoordinator: Sendable {
    public let port: Int
    public let api: CoordinatorAPI
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public var url: String { "https://127.0.0.1:\(port)" }

    /// Starts the coordinator and returns once it listens.
    public static func start(stateDir: CoordinatorStateDir, config: CoordinatorConfig, database: CoordinatorDatabase,
                             now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) async throws -> EmbeddedCoordinator {
        let api = CoordinatorAPI(database: database, ca: try stateDir.loadCA(), keys: try stateDir.loadKeys(), config: config,
                                 secretsKey: { try stateDir.loadEscrowKey() }, now: now)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try CoordinatorServer.makeApplication(api: api, stateDir: stateDir, logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        // Unstructured on purpose: the caller owns the coordinator's lifetime through `stop()`,
        // which may come from another task (tests stop and restart it mid-run).
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            task.cancel()
            _ = try? await task.value
            throw CoordinatorError.config("the coordinator did not start listening")
        }
        return EmbeddedCoordinator(port: port, api: api, group: group, task: task)
    }

    private init(port: Int, api: CoordinatorAPI, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.api = api
        self.group = group
        self.task = task
    }

    /// Stops it gracefully and waits until it has.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
