import CordonShared
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A coordinator running inside this process, for `cordon demo` and the live tests: the same
/// application `cordon serve` runs, with real TLS and SQLite, started and stopped on demand.
public final class EmbeddedCoordinator: Sendable {
    public let port: Int
    /// The plain-HTTP metrics listener's port, when `config.metricsListen` asked for one.
    public let metricsPort: Int?
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
        var services: [any Service] = [app, ReportRetentionService(database: database, retention: config.reportRetention, now: now, logger: logger)]
        let (metricsPorts, metricsContinuation) = AsyncStream.makeStream(of: Int.self)
        if let metrics = config.metricsListen {
            services.append(api.makeMetricsApplication(host: metrics.host, port: metrics.port, logger: logger) { port in
                metricsContinuation.yield(port)
                metricsContinuation.finish()
            })
        } else {
            metricsContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        // Unstructured on purpose: the caller owns the coordinator's lifetime through `stop()`,
        // which may come from another task (tests stop and restart it mid-run).
        let task = Task {
            // A group that fails before it listens (the port taken) ends the waits below.
            defer {
                continuation.finish()
                metricsContinuation.finish()
            }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        var metricsIterator = metricsPorts.makeAsyncIterator()
        guard let port = await iterator.next() else {
            task.cancel()
            let reason: String
            do { try await task.value; reason = "it stopped" } catch { reason = "\(error)" }
            throw CoordinatorError.config("the coordinator did not start listening: \(reason)")
        }
        let metricsPort = await metricsIterator.next()
        if config.metricsListen != nil && metricsPort == nil {
            await group.triggerGracefulShutdown()
            let reason: String
            do { try await task.value; reason = "it stopped" } catch { reason = "\(error)" }
            throw CoordinatorError.config("the metrics listener did not start: \(reason)")
        }
        return EmbeddedCoordinator(port: port, metricsPort: metricsPort, api: api, group: group, task: task)
    }

    private init(port: Int, metricsPort: Int?, api: CoordinatorAPI, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.metricsPort = metricsPort
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
