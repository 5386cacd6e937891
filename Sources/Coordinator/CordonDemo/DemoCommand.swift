import ArgumentParser
import CordonAgent
import CordonCoordinator
import CordonShared
import CordonTransport
import Foundation
import Logging

public struct DemoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a whole Cordon fleet on loopback: a coordinator, agents in two segments, then the fleet's status.",
        discussion: """
            Everything is real: the coordinator's CA and mutual TLS on 127.0.0.1, SQLite in WAL mode, \
            enrollment with one-time tokens and a pinned CA, agents reporting through their spools. \
            State goes to a temporary directory that is removed at the end, unless --keep (then the \
            coordinator and agents keep running until Ctrl-C, and you can use the printed profile with \
            `cordon status`).
            """)

    @Flag(name: .long, help: "Keep the coordinator and agents running until Ctrl-C.")
    public var keep = false

    @Option(name: .long, help: ArgumentHelp("Use this directory for the demo's state instead of a temporary one.", valueName: "dir"))
    public var stateDir: String?

    @Flag(name: .long, help: "Print the fleet status as JSON.")
    public var json = false

    public init() {}

    public func run() async throws {
        try await runReportingErrors {
            let demo = try Demo(root: stateDir, logger: agentLogger(level: "warning"))
            try await demo.run(keep: keep, json: json)
        }
    }
}

/// The demo fleet.
public struct Demo: Sendable {
    public let root: String
    let removeAtEnd: Bool
    let logger: Logger
    public static let segments = ["dmz", "office"]

    public init(root: String?, logger: Logger) throws {
        if let root {
            self.root = root
            removeAtEnd = false
        } else {
            self.root = NSTemporaryDirectory() + "cordon-demo-\(UUID().uuidString.prefix(8))"
            removeAtEnd = true
        }
        self.logger = logger
    }

    public func run(keep: Bool, json: Bool) async throws {
        defer { if removeAtEnd && !keep { try? FileManager.default.removeItem(atPath: root) } }
        let fleet = try await start()
        do {
            let status: FleetStatus = try await fleet.operatorClient.get(APIPath.status)
            if json {
                try printJSON(status)
            } else {
                print("Cordon demo: coordinator at \(fleet.coordinator.url) (CA \(fleet.caFingerprint.prefix(23))…), state in \(root)\n")
                print(FleetViews.status(status))
            }
            if keep {
                print("\nRunning until Ctrl-C. Try: cordon status --profile \(fleet.profilePath)")
                try await fleet.runUntilSignal(logger: logger)
            }
        } catch {
            await fleet.stop()
            throw error
        }
        await fleet.stop()
    }

    /// Starts the coordinator, enrolls one agent per segment and runs one report cycle each.
    public func start() async throws -> DemoFleet {
        let stateDir = CoordinatorStateDir(root + "/coordinator")
        let initResult = try stateDir.initialize(name: "127.0.0.1", extraNames: ["localhost"])
        let database = try CoordinatorDatabase.open(path: stateDir.database)
        var config = CoordinatorConfig(stateDir: stateDir.path)
        config.listen = .init(host: "127.0.0.1", port: 0)
        let coordinator = try await EmbeddedCoordinator.start(stateDir: stateDir, config: config, database: database, logger: logger)
        do {
            let issued = try OperatorIssuer(stateDir: stateDir).add(name: "demo", coordinator: coordinator.url, outDirectory: root + "/operator",
                                                                    csrPath: nil, lifetime: 86400, actor: "local:demo")
            let operatorClient = try issued.profile.makeClient()
            var agents: [DemoAgent] = []
            for segment in Self.segments {
                let token: TokenCreateResponse = try await operatorClient.post(APIPath.tokens, body: TokenCreateRequest(segment: segment, ttlSeconds: 600, uses: 1))
                let agentState = AgentStateDir(root + "/agents/" + segment)
                _ = try await Enroller(stateDir: agentState, logger: logger)
                    .enroll(coordinator: coordinator.url, token: token.token, caFingerprint: initResult.caFingerprint, hostname: "jump-\(segment)")
                var agentConfig = AgentConfig(stateDir: agentState.path)
                agentConfig.heartbeatInterval = .init(seconds: 5)
                agentConfig.reportInterval = .init(seconds: 30)
                let uplink = try Uplink(stateDir: agentState, logger: logger)
                let spool = try Spool(directory: agentState.spoolDirectory, maxBytes: agentConfig.spool.maxSize.bytes)
                let service = AgentService(config: agentConfig, uplink: uplink, spool: spool, logger: logger)
                guard await service.runOnce() else {
                    throw CordonError.io("the \(segment) agent could not report: \(agentState.loadStatus().lastError ?? "unknown error")")
                }
                agents.append(DemoAgent(segment: segment, service: service))
            }
            return DemoFleet(coordinator: coordinator, operatorClient: operatorClient, agents: agents,
                             caFingerprint: initResult.caFingerprint, profilePath: issued.profilePath)
        } catch {
            await coordinator.stop()
            throw error
        }
    }
}

public struct DemoAgent: Sendable {
    public let segment: String
    public let service: AgentService
}

/// A running demo fleet.
public struct DemoFleet: Sendable {
    public let coordinator: EmbeddedCoordinator
    public let operatorClient: CordonHTTPClient
    public let agents: [DemoAgent]
    public let caFingerprint: String
    public let profilePath: String

    public func stop() async {
        for agent in agents { await agent.service.uplink.shutdown() }
        await operatorClient.shutdown()
        await coordinator.stop()
    }

    /// Runs the agents' services until SIGINT/SIGTERM.
    func runUntilSignal(logger: Logger) async throws {
        let group = ServiceGroupBuilder.group(services: agents.map(\.service), logger: logger)
        try await group.run()
    }
}
