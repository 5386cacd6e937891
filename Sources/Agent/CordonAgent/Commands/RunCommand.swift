import ArgumentParser
import CordonShared
import Foundation
import Logging
import ServiceLifecycle

public struct RunCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent: heartbeats, reports, offline spool, certificate renewal.",
        discussion: """
            Runs until SIGTERM or SIGINT. Reports are spooled on disk first and deleted only once the \
            coordinator has acknowledged them, so an outage or a restart loses nothing (up to the \
            spool's size cap, beyond which the oldest are dropped and counted).

            Example:
              cordon-agent run --config /etc/cordon/agent.yaml
            """)

    @OptionGroup public var options: AgentConfigOptions

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    public var logLevel: String = "info"

    public init() {}

    public func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
    }

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let logger = agentLogger(level: logLevel)
            let stateDir = AgentStateDir(config.stateDir)
            let uplink = try Uplink(stateDir: stateDir, coordinatorOverride: config.coordinator, logger: logger)
            let spool = try Spool(directory: stateDir.spoolDirectory, maxBytes: config.spool.maxSize.bytes)
            var services: [any Service] = []
            let inventoryComposer = InventoryComposer(config: config.inventory, logger: logger)
            var composers: [any ReportComposer] = [inventoryComposer]
            var scanService: ScanService?
            if let scan = config.scan {
                var sensor: LiveWormSpreadSensor?
                if scan.sensor.enabled {
                    // Kept even when the table cannot be made now: each read tries again, and a
                    // failure shows in the scan report's stats.sensor, not only in this log.
                    let live = LiveWormSpreadSensor(config: scan.sensor)
                    sensor = live
                    do {
                        try live.install()
                        logger.notice("worm sensor counting attempts to TCP 135/139/445 (nftables table inet cordon_sensor)")
                    } catch {
                        logger.error("worm sensor not started; each scan tries again", metadata: ["error": "\(error)"])
                    }
                } else {
                    // Turned off: its table goes (nothing when it was never there).
                    LiveWormSpreadSensor.removeIfPresent(logger: logger)
                }
                let service = ScanService(config: scan, stateDir: stateDir, scanner: Scanner(logger: logger), sensor: sensor, logger: logger)
                // Refuse to start with a scope outside what the segment allows; when the
                // coordinator cannot be asked now, the last answer it gave is used.
                if let remote = try? await uplink.remoteConfig(timeout: 10) { service.recordAllowedScope(remote.allowedScope) }
                if let refusal = ScanService.scopeRefusal(config: scan, allowed: service.loadAllowedScope()) {
                    await uplink.shutdown()  // its HTTP client must be shut down before it goes
                    throw CordonError.invalidArgument("\(options.config): \(refusal); fix scan.scope or the segment's scope (`cordon segments set`)")
                }
                scanService = service
                composers.append(service)
                services.append(service)
            }
            let agent = AgentService(config: config, uplink: uplink, spool: spool, composers: composers,
                                     facts: HostFacts(policyFile: config.policyFile), scopeObserver: { [scanService] scope in scanService?.recordAllowedScope(scope) }, logger: logger)
            services.insert(agent, at: 0)
            // Remediation: signed task lists over the long-poll, checked against the local policy.
            var rescan: (@Sendable () -> Void)?
            if let scanService { rescan = { scanService.requestRescan() } }
            let hooks = AgentRemediationHooks(rescan: rescan, refreshInventory: { inventoryComposer.requestRefresh() })
            let processor = TaskProcessor.live(stateDir: stateDir, agentID: await uplink.enrollment.agentID, policyFile: config.policyFile,
                                               coordinatorURL: await uplink.coordinatorURL, hooks: hooks, logger: logger)
            services.append(TaskRunner(processor: processor, uplink: uplink, pollWait: 60, maxBackoff: config.maxBackoff.seconds, logger: logger))
            let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
