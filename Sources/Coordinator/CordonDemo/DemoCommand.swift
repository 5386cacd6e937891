import ArgumentParser
import CordonAgent
import CordonCoordinator
import CordonShared
import CordonCodecs
import CordonTransport
import CordonWormHosts
import Foundation
import Logging
import ServiceLifecycle

public struct DemoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a whole Cordon fleet on loopback: a coordinator, agents in two segments, worm-era hosts, then the fleet's status and findings.",
        discussion: """
            Everything but the Windows hosts is real: the coordinator's CA and mutual TLS on 127.0.0.1, \
            SQLite in WAL mode, enrollment with one-time tokens and a pinned CA, agents reporting \
            through their spools, the scanner's safe probes. The worm-era hosts are simulated on \
            127.0.1.x (dmz: Code Red, Blaster, Zotob, patched) and 127.0.2.x (office: Conficker, \
            WannaCry, XP, patched); they listen on ports below 1024, so they need root (without it \
            the demo shows only the jump hosts' findings). Each agent reports twice: the first \
            inventory is the baseline; then the segment is scanned and the jump host gets what a \
            worm leaves behind (a cron job in /tmp, a UID 0 account, failed logons from the infected \
            host), which the second report carries.

            Then the remediation loop (skip it with --no-remediate): `cordon plan` for the infected \
            segment (office), the jump host's task list pushed, verified and run by its agent, a \
            rescan and a new inventory, and the status again with the jump host's findings resolved. \
            The agents remediate a sandbox: their jump hosts' files under the demo's directory, with \
            stand-ins for chpasswd, usermod and nft that write there; the machine's own accounts, \
            cron and firewall are never touched.

            State goes to a temporary directory that is removed at the end, unless --keep: then the \
            coordinator, agents and hosts keep running until Ctrl-C, the agents take tasks, and the \
            printed profile works with every operator command (`cordon hosts`, `cordon findings`, \
            `cordon plan`, `cordon tasks push`...).
            """)

    @Flag(name: .long, help: "Keep the coordinator and agents running until Ctrl-C.")
    public var keep = false

    @Option(name: .long, help: ArgumentHelp("Use this directory for the demo's state instead of a temporary one.", valueName: "dir"))
    public var stateDir: String?

    @Flag(name: .long, help: "Print the fleet status as JSON.")
    public var json = false

    @Flag(name: .long, help: "Stop after the findings: no plan, push and remediation of the infected segment.")
    public var noRemediate = false

    public init() {}

    public func run() async throws {
        try await runReportingErrors {
            let demo = try Demo(root: stateDir, logger: agentLogger(level: "error"))
            try await demo.run(keep: keep, json: json, remediate: !noRemediate)
        }
    }
}

/// The demo fleet: one coordinator, a jump-host agent per segment, worm-era hosts on loopback.
public struct Demo: Sendable {
    public let root: String
    let removeAtEnd: Bool
    let logger: Logger

    /// The segments, their loopback networks and the worm-era hosts in them.
    static let segments: [(name: String, network: IPv4Octets, hosts: [WormHostProfile], infectedSource: String?)] = [
        ("dmz", IPv4Octets(127, 0, 1, 0), [.codeRed, .blaster, .zotob, .patched], nil),
        ("office", IPv4Octets(127, 0, 2, 0), [.conficker, .wannaCry, .xp, .patched], "127.0.2.10"),
    ]

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

    /// The segment whose plan the demo pushes and runs.
    static let remediatedSegment = "office"

    public func run(keep: Bool, json: Bool, remediate: Bool = true) async throws {
        defer { if removeAtEnd && !keep { try? FileManager.default.removeItem(atPath: root) } }
        let quiet = json
        let fleet = try await start(progress: { line in
            if !quiet { StandardOutput.writeError(line + "\n") }
        })
        do {
            let status: FleetStatus = try await fleet.operatorClient.get(APIPath.status)
            let findings: [FindingView] = try await fleet.operatorClient.get(APIPath.findings)
            var loop: RemediationLoop?
            if remediate { loop = try await self.remediate(fleet, segment: Self.remediatedSegment) }
            if json {
                struct Output: Encodable { var status: FleetStatus; var findings: [FindingView]; var remediation: RemediationLoop? }
                try printJSON(Output(status: status, findings: findings, remediation: loop))
            } else {
                print("Cordon demo: coordinator at \(fleet.coordinator.url) (CA \(fleet.caFingerprint.prefix(23))…), state in \(root)\n")
                print(FleetViews.status(status))
                print("\nFindings (\(findings.count) open):")
                print(FindingViews.findingsTable(findings))
                if !fleet.wormHostsRunning {
                    print("\nNote: the worm-era hosts need root (they listen on ports below 1024); this run shows only the jump hosts' findings.")
                }
                if let loop { print("\n" + loop.render()) }
            }
            if keep {
                print("\nRunning until Ctrl-C. Try, in another shell:")
                print("  export CORDON_PROFILE=\(fleet.profilePath)")
                print("  cordon status; cordon hosts; cordon findings --worm conficker; cordon plan --segment office --out /tmp/plans")
                print("  cordon tasks push --agent AGENT /tmp/plans/plan-AGENT.yaml; cordon tasks wait TASK   # the demo agents run tasks")
                try await fleet.runUntilSignal(logger: logger)
            }
        } catch {
            await fleet.stop()
            throw error
        }
        await fleet.stop()
    }

    /// Starts everything and runs two report cycles per agent: the first sets the inventory
    /// baseline, then the segment is scanned, the jump hosts get what a worm leaves behind,
    /// and the second report carries the scan and the changed inventory.
    public func start(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> DemoFleet {
        var wormHosts: WormHostFleet?
        if geteuid() == 0 {
            let specs = Self.segments.flatMap { WormHostSpec.lineup(network: $0.network, profiles: $0.hosts) }
            wormHosts = try await WormHostFleet.start(specs, limits: .standard, logger: logger)
            progress("worm-era hosts listening: " + specs.map(\.description).joined(separator: ", "))
        } else {
            progress("not root: skipping the worm-era hosts (they need ports below 1024)")
        }
        do {
            return try await startFleet(wormHosts: wormHosts, progress: progress)
        } catch {
            await wormHosts?.stop()
            throw error
        }
    }

    func startFleet(wormHosts: WormHostFleet?, progress: @escaping @Sendable (String) -> Void) async throws -> DemoFleet {
        let stateDir = CoordinatorStateDir(root + "/coordinator")
        let initResult = try stateDir.initialize(name: "127.0.0.1", extraNames: ["localhost"])
        let database = try CoordinatorDatabase.open(path: stateDir.database)
        var config = CoordinatorConfig(stateDir: stateDir.path)
        config.listen = .init(host: "127.0.0.1", port: 0)
        let coordinator = try await EmbeddedCoordinator.start(stateDir: stateDir, config: config, database: database, logger: logger)
        progress("coordinator listening on \(coordinator.url) (mutual TLS, SQLite in \(stateDir.database))")
        do {
            let issued = try OperatorIssuer(stateDir: stateDir).add(name: "demo", coordinator: coordinator.url, outDirectory: root + "/operator",
                                                                    csrPath: nil, lifetime: 86400, actor: "local:demo")
            let operatorClient = try issued.profile.makeClient()
            var agents: [DemoAgent] = []
            for segment in Self.segments {
                let hostName = "jump-\(segment.name)"
                let specs = WormHostSpec.lineup(network: segment.network, profiles: segment.hosts)
                let scope = specs.map { "\($0.address)/32" }
                let _: SegmentView = try await operatorClient.put(APIPath.segments + "/" + segment.name,
                                                                  body: SegmentScopeRequest(scope: ["\(segment.network)/24"]))
                let token: TokenCreateResponse = try await operatorClient.post(APIPath.tokens, body: TokenCreateRequest(segment: segment.name, ttlSeconds: 600, uses: 1))
                let agentState = AgentStateDir(root + "/agents/" + segment.name)
                let record = try await Enroller(stateDir: agentState, logger: logger)
                    .enroll(coordinator: coordinator.url, token: token.token, caFingerprint: initResult.caFingerprint, hostname: hostName)
                progress("\(hostName) enrolled as \(record.agentID) in segment \(segment.name) (CA pinned by fingerprint)")

                let jump = DemoJumpHost(root: root + "/jumphosts/" + segment.name, hostName: hostName, infectedSource: segment.infectedSource)
                try jump.create(now: Date())
                var agentConfig = AgentConfig(stateDir: agentState.path)
                agentConfig.heartbeatInterval = .init(seconds: 5)
                agentConfig.reportInterval = .init(seconds: 30)
                agentConfig.scan = ScanConfig(scope: scope, interval: .init(seconds: 600), rate: 2000, concurrency: 256,
                                              timeout: .init(seconds: 0.5), retries: 1)
                let uplink = try Uplink(stateDir: agentState, logger: logger)
                let spool = try Spool(directory: agentState.spoolDirectory, maxBytes: agentConfig.spool.maxSize.bytes)
                let inventory = InventoryComposer(config: agentConfig.inventory, logger: logger, makeContext: { jump.context(now: $0) })
                let scanner = ScanService(config: agentConfig.scan!, stateDir: agentState, scanner: Scanner(logger: logger), logger: logger)
                let service = AgentService(config: agentConfig, uplink: uplink, spool: spool, composers: [inventory, scanner],
                                           facts: HostFacts(root: jump.root, policyFile: jump.policyFile), scopeObserver: { scanner.recordAllowedScope($0) },
                                           logger: logger)
                // Remediation runs the real executor, journal and backups on the sandboxed jump host.
                let hooks = AgentRemediationHooks(rescan: { scanner.requestRescan() }, refreshInventory: { inventory.requestRefresh() })
                let executor = RemediationExecutor(system: .sandbox(root: jump.root), backups: BackupStore(directory: agentState.backupsDirectory),
                                                   hooks: hooks, logger: logger)
                let processor = TaskProcessor(stateDir: agentState, agentID: record.agentID, policyFile: jump.policyFile, executor: executor, logger: logger)
                let runner = TaskRunner(processor: processor, uplink: uplink, pollWait: 30, maxBackoff: 10, logger: logger)
                guard await service.runOnce() else {
                    throw CordonError.io("the \(segment.name) agent could not report: \(agentState.loadStatus().lastError ?? "unknown error")")
                }
                if wormHosts != nil {
                    await scanner.scanOnce()
                    progress("\(hostName) scanned \(scope.joined(separator: " "))")
                }
                try jump.infect(now: Date())
                inventory.requestRefresh()
                guard await service.runOnce() else {
                    throw CordonError.io("the \(segment.name) agent could not report: \(agentState.loadStatus().lastError ?? "unknown error")")
                }
                agents.append(DemoAgent(segment: segment.name, agentID: record.agentID, hostName: hostName, service: service, scanner: scanner,
                                        inventory: inventory, runner: runner))
            }
            return DemoFleet(coordinator: coordinator, operatorClient: operatorClient, agents: agents, wormHosts: wormHosts,
                             caFingerprint: initResult.caFingerprint, profilePath: issued.profilePath)
        } catch {
            await coordinator.stop()
            throw error
        }
    }
}

public struct DemoAgent: Sendable {
    public let segment: String
    public let agentID: String
    public let hostName: String
    public let service: AgentService
    public let scanner: ScanService
    public let inventory: InventoryComposer
    public let runner: TaskRunner
}

/// A running demo fleet.
public struct DemoFleet: Sendable {
    public let coordinator: EmbeddedCoordinator
    public let operatorClient: CordonHTTPClient
    public let agents: [DemoAgent]
    public let wormHosts: WormHostFleet?
    public let caFingerprint: String
    public let profilePath: String

    public var wormHostsRunning: Bool { wormHosts != nil }

    public func stop() async {
        for agent in agents { await agent.service.uplink.shutdown() }
        await operatorClient.shutdown()
        await coordinator.stop()
        await wormHosts?.stop()
    }

    /// Runs the agents' services until SIGINT/SIGTERM.
    func runUntilSignal(logger: Logger) async throws {
        let services: [any Service] = agents.flatMap { [$0.service, $0.scanner, $0.runner] as [any Service] }
        let group = ServiceGroupBuilder.group(services: services, logger: logger)
        try await group.run()
    }
}

/// What the demo's remediation loop did, for people and for `--json`.
public struct RemediationLoop: Codable, Sendable {
    public var segment: String
    public var plan: AgentPlan
    public var task: TaskView
    /// The jump host's open findings before and after.
    public var before: [FindingView]
    public var after: [FindingView]
    public var status: FleetStatus

    func render() -> String {
        let resolved = before.filter { finding in !after.contains { $0.detectionID == finding.detectionID && $0.item == finding.item } }
        var lines = ["Remediation of segment \(segment): `cordon plan` proposed \(plan.actions.count) action(s) for \(plan.hostName); pushed as \(task.id), verified and run by the agent:"]
        lines.append(TaskText.render(task))
        lines.append("")
        lines.append("The jump host's open findings: \(before.count) before, \(after.count) after the rescan and the new inventory. Resolved:")
        for finding in resolved { lines.append("  - \(finding.detectionID) \(Terminal.sanitize(finding.item, limit: 80))") }
        if !after.isEmpty {
            lines.append("Still open (not for the jump host's agent to fix):")
            for finding in after { lines.append("  - \(finding.detectionID) \(Terminal.sanitize(finding.item, limit: 80))") }
        }
        lines.append("")
        lines.append(FleetViews.status(status))
        return lines.joined(separator: "\n")
    }
}

extension Demo {
    /// Plan, push, run, rescan, report: the loop an operator goes through, end to end over the
    /// real API and the agent's real task path (long-poll, signature, policy, journal, backups).
    func remediate(_ fleet: DemoFleet, segment: String) async throws -> RemediationLoop {
        guard let agent = fleet.agents.first(where: { $0.segment == segment }) else { throw CordonError.io("no demo agent in segment \(segment)") }
        let client = fleet.operatorClient
        func jumpFindings() async throws -> [FindingView] {
            let all: [FindingView] = try await client.get(APIPath.findings + "?segment=\(segment)")
            return all.filter { $0.source == .inventory && $0.agentID == agent.agentID && $0.status == .open }
        }
        let before = try await jumpFindings()
        let plan: SegmentPlan = try await client.get(APIPath.plan + "?segment=\(segment)")
        guard let mine = plan.agents.first(where: { $0.agentID == agent.agentID }), !mine.actions.isEmpty else {
            throw CordonError.io("cordon plan proposed nothing for \(agent.hostName)")
        }
        let file = try TaskFile.parse(yaml: mine.yaml, origin: "plan for \(agent.hostName)")
        let pushed: TaskView = try await client.post(APIPath.tasks, body: TaskPushRequest(target: .agent(agent.agentID), file: file, expiresIn: 600))
        // The agent's own task path: the long-poll hands it the signed list, it verifies and runs it.
        guard let signed = try await agent.service.uplink.nextTask(wait: 5) else { throw CordonError.io("the agent was not handed task \(pushed.id)") }
        await agent.runner.handle(signed)
        // What the list's rescan and refresh-inventory asked for, now rather than on schedule.
        if fleet.wormHostsRunning { await agent.scanner.scanOnce() }
        agent.inventory.requestRefresh()
        guard await agent.service.runOnce() else { throw CordonError.io("the \(segment) agent could not report after the remediation") }
        let task: TaskView = try await client.get(APIPath.tasks + "/" + pushed.id)
        return RemediationLoop(segment: segment, plan: mine, task: task, before: before, after: try await jumpFindings(),
                               status: try await client.get(APIPath.status))
    }
}

/// What the demo prints for people goes through ``StandardOutput`` (unbuffered, quiet on a
/// closed pipe): a script reading `cordon demo --keep` from a pipe sees each block at once.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    StandardOutput.write(items.map { "\($0)" }.joined(separator: separator) + terminator)
}
