import ArgumentParser
import CordonShared
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the coordinator: the HTTPS API with mutual TLS, storage and task dispatch.",
        discussion: """
            Settings come from --config (YAML; see the README's config reference) and are overridden \
            by flags. SIGTERM or SIGINT stops it cleanly: in-flight requests finish, the database is closed.

            Examples:
              cordon serve --config /etc/cordon/coordinator.yaml
              cordon serve --state-dir /var/lib/cordon --port 8443
              cordon serve --config /etc/cordon/coordinator.yaml --metrics-port 9469
                (Prometheus scrapes http://127.0.0.1:9469/metrics; operators can also read
                 https://COORDINATOR:8443/metrics with their certificate)
            """)

    @Option(name: .long, help: ArgumentHelp("Coordinator config file (YAML).", valueName: "file"))
    public var config: String?

    @Option(name: .long, help: ArgumentHelp("State directory made by `cordon init` (overrides the config).", valueName: "dir"))
    public var stateDir: String?

    @Option(name: .long, help: ArgumentHelp("Address to listen on (default 0.0.0.0).", valueName: "address"))
    public var host: String?

    @Option(name: .long, help: ArgumentHelp("Port to listen on (default 8443; 0 picks a free one).", valueName: "port"))
    public var port: Int?

    @Option(name: .long, help: ArgumentHelp("Also serve /metrics over plain HTTP on this port (0 picks a free one), for Prometheus. Without it, /metrics is only on the mTLS API for operator certificates.", valueName: "port"))
    public var metricsPort: Int?

    @Option(name: .long, help: ArgumentHelp("Address of the plain-HTTP metrics listener (default 127.0.0.1).", valueName: "address"))
    public var metricsHost: String?

    @Option(name: .long, help: ArgumentHelp("Largest request body accepted, e.g. 16MiB; larger ones get 413.", valueName: "size"))
    public var maxBodySize: String?

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    public var logLevel: String = "info"

    public init() {}

    public func validate() throws {
        if config == nil && stateDir == nil { throw ValidationError("give --config FILE or --state-dir DIR") }
        if metricsHost != nil && metricsPort == nil && config == nil { throw ValidationError("--metrics-host needs --metrics-port (or metricsListen in --config)") }
        if let maxBodySize, ByteSize.parse(maxBodySize) == nil { throw ValidationError("--max-body-size \(maxBodySize) is not a size like 16MiB") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
    }

    public func resolvedConfig() throws -> CoordinatorConfig {
        var resolved = try config.map { try CoordinatorConfig.load(path: $0) } ?? CoordinatorConfig()
        if let stateDir { resolved.stateDir = stateDir }
        if let host { resolved.listen.host = host }
        if let port { resolved.listen.port = port }
        if let maxBodySize, let bytes = ByteSize.parse(maxBodySize) { resolved.maxBodySize = .init(bytes: bytes) }
        if let metricsPort { resolved.metricsListen = .init(host: resolved.metricsListen?.host ?? CoordinatorConfig.metricsHost, port: metricsPort) }
        if let metricsHost {
            guard resolved.metricsListen != nil else { throw CordonError.invalidArgument("--metrics-host needs --metrics-port or metricsListen in the config") }
            resolved.metricsListen?.host = metricsHost
        }
        try resolved.validate(origin: config ?? "flags")
        return resolved
    }

    public func run() async throws {
        try await runReportingErrors {
            let logger = {
                var logger = Logger(label: "cordon.coordinator")
                logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
                return logger
            }()
            let config = try resolvedConfig()
            let stateDir = CoordinatorStateDir(config.stateDir)
            let ca = try stateDir.loadCA()
            let database = try CoordinatorDatabase.open(path: stateDir.database)
            let api = CoordinatorAPI(database: database, ca: ca, keys: try stateDir.loadKeys(), config: config,
                                     secretsKey: { try stateDir.loadEscrowKey() })
            let app = try CoordinatorServer.makeApplication(api: api, stateDir: stateDir, logger: logger) { port in
                logger.notice("coordinator listening", metadata: ["address": "\(config.listen.host):\(port)", "ca.fingerprint": "\((try? ca.fingerprint) ?? "?")"])
            }
            var services: [any Service] = [app, ReportRetentionService(database: database, retention: config.reportRetention, logger: logger)]
            if let metrics = config.metricsListen {
                services.append(api.makeMetricsApplication(host: metrics.host, port: metrics.port, logger: logger) { port in
                    logger.notice("metrics listening", metadata: ["address": "http://\(metrics.host):\(port)\(APIPath.metrics)"])
                })
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            logger.notice("coordinator stopped")
        }
    }
}
