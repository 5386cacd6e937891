import CordonCodecs
import CordonShared
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Progress of a running scan, reported a few times per second.
public struct ScanProgress: Sendable, Equatable {
    public var addressesTotal: Int
    /// Addresses whose port scan finished.
    public var addressesDone: Int
    public var hostsUp: Int
    public var hostsDown: Int
    /// Live hosts whose safe probes finished.
    public var hostsProbed: Int
    public var probesSent: Int
    public var inFlight: Int
    public var window: Int
    public var findings: Int

    public init(addressesTotal: Int = 0, addressesDone: Int = 0, hostsUp: Int = 0, hostsDown: Int = 0, hostsProbed: Int = 0,
                probesSent: Int = 0, inFlight: Int = 0, window: Int = 0, findings: Int = 0) {
        self.addressesTotal = addressesTotal
        self.addressesDone = addressesDone
        self.hostsUp = hostsUp
        self.hostsDown = hostsDown
        self.hostsProbed = hostsProbed
        self.probesSent = probesSent
        self.inFlight = inFlight
        self.window = window
        self.findings = findings
    }

    /// Done fraction: port scans, and the safe probes of live hosts.
    public var fraction: Double {
        guard addressesTotal > 0 else { return 1 }
        let work = Double(addressesTotal + hostsUp)
        return min(1, Double(addressesDone + hostsProbed) / max(1, work))
    }
}

/// Knobs below the `scan:` config: timings of the safe probes, limits and parallelism.
public struct ScanTuning: Sendable {
    /// Floor and ceiling of the adaptive connect timeout (nmap -T4: 100 ms to 1250 ms).
    public var minimumTimeout: Duration = .milliseconds(100)
    /// Nil: the larger of the configured timeout and 1250 ms.
    public var maximumTimeout: Duration?
    public var minimumUDPWait: Duration = .milliseconds(250)
    /// Limits of each safe probe; nil derives them from the configured timeout.
    public var serviceLimits: ProbeDriver.Limits?
    /// The most bytes read from a host on one probe connection.
    public var maxBytesPerConnection = 256 * 1024
    /// Hosts whose port scan runs at once; nil: enough to keep the window full.
    public var hostParallelism: Int?
    /// Live hosts whose safe probes run at once.
    public var serviceParallelism = 32
    public var progressInterval: Duration = .milliseconds(250)
    /// Descriptors kept free below RLIMIT_NOFILE (safe-probe connections, UDP sockets, files).
    public var descriptorReserve = 512
    /// The first congestion window and its floor.
    public var initialWindow = 10
    public var minimumWindow = 10
    /// The seed of the pseudo-random address order (nil: a fresh one per scan).
    public var orderSeed: UInt64?
    /// Run the port scan from this network namespace (`/run/netns/NAME`; lab and tests). Only
    /// for profiles without safe probes, UDP or Conficker follow-ups, which would not follow it.
    public var networkNamespace: String?

    public init() {}

    func limits(for config: ScanConfig) -> ProbeDriver.Limits {
        if let serviceLimits { return serviceLimits }
        let t = Duration.milliseconds(Int64(config.timeout.seconds * 1000))
        return ProbeDriver.Limits(connectTimeout: max(t, .seconds(1)) * 2, stepTimeout: max(t * 3, .seconds(3)),
                                  deadline: max(t * 15, .seconds(20)))
    }
}

/// The segment scanner: port scan of the scope (TCP connects, UDP datagrams), then on each live
/// host the Conficker P2P ports and the safe probes of the profile, mapped to catalogue findings.
///
/// Cancellation (of the calling task) and the optional `deadline` do not throw: the scan stops
/// sending, lets what is in flight end (bounded by the timeouts), and returns a partial report
/// with `complete == false` (hosts whose probes did not all finish are `complete == false` too).
public struct Scanner: Sendable {
    public let logger: Logger
    public let group: any EventLoopGroup
    public let tuning: ScanTuning
    /// Sees every connect and datagram target that passed the scope gate (tests).
    public let observer: ScopeGate.Observer?
    /// Sees every ICMP echo request that passed the scope gate (tests).
    public let echoObserver: (@Sendable (IPv4Address) -> Void)?

    public init(logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, tuning: ScanTuning = .init(),
                observer: ScopeGate.Observer? = nil, echoObserver: (@Sendable (IPv4Address) -> Void)? = nil) {
        self.logger = logger
        self.group = group
        self.tuning = tuning
        self.observer = observer
        self.echoObserver = echoObserver
    }

    /// Scans with the config's built-in profile.
    ///
    /// - Throws: ``AgentError/config`` for an invalid config, scope or profile name; nothing else.
    public func scan(config: ScanConfig, now: Date = Date(), deadline: Duration? = nil,
                     progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) async throws -> ScanReport {
        let profile = try ScanProfile.named(config.profile)
        return try await scan(config: config, profile: profile, now: now, deadline: deadline, progress: progress)
    }

    /// Scans with an explicit profile (tests and benchmarks use their own ports).
    public func scan(config: ScanConfig, profile: ScanProfile, now: Date = Date(), deadline: Duration? = nil,
                     progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) async throws -> ScanReport {
        do {
            try config.validate(origin: "scan")
        } catch let error as CordonError {
            throw AgentError.config(error.reason)
        }
        let scope = try Scope(scope: config.scope, exclude: config.exclude, maxSize: config.maxScopeSize, allowLarge: config.allowLargeScope,
                              skipNetworkAndBroadcast: config.skipNetworkAndBroadcast)
        if tuning.networkNamespace != nil, profile.confickerP2P || !profile.udp.isEmpty || profile.tcp.contains(where: { $0.probe != .none }) {
            throw AgentError.config("a network namespace is only for connect-only profiles (safe probes would not run in it)")
        }
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        let concurrency = max(1, min(config.concurrency, descriptors - tuning.descriptorReserve))
        if concurrency < config.concurrency {
            logger.notice("scan concurrency capped below RLIMIT_NOFILE", metadata: [
                "scan.concurrency": "\(concurrency)", "scan.nofile": "\(descriptors)"])
        }
        let initial = Duration.milliseconds(Int64((config.timeout.seconds * 1000).rounded()))
        var settings = PortScanEngine.Settings(
            concurrency: concurrency, rate: config.rate, retries: config.retries, initialTimeout: initial,
            minimumTimeout: tuning.minimumTimeout, maximumTimeout: tuning.maximumTimeout, minimumUDPWait: tuning.minimumUDPWait)
        settings.networkNamespace = tuning.networkNamespace
        settings.congestion = .init(initialWindow: Double(tuning.initialWindow), minimumWindow: Double(tuning.minimumWindow),
                                    maximumWindow: Double(concurrency), initialThreshold: Double(min(concurrency, 512)))
        let gate = ScopeGate(scope: scope, observer: observer, echoObserver: echoObserver)
        let engine = PortScanEngine(gate: gate, settings: settings)
        var pinger: ICMPEchoPinger?
        var echoDiscovery = "off"
        if config.icmpEcho {
            switch ICMPEchoPinger.open(gate: gate, networkNamespace: tuning.networkNamespace) {
            case .success(let opened):
                pinger = opened
                echoDiscovery = opened.kind
            case .failure(let skip):
                echoDiscovery = "not run: \(skip.reason)"
                logger.notice("ICMP echo discovery not run", metadata: ["reason": "\(skip.reason)"])
            }
        }
        let stages = StageTimes()
        let run = ScanRun(scope: scope, profile: profile, config: config, now: now, engine: engine, pinger: pinger, stages: stages,
                          driver: ProbeDriver(transport: NIOStreamTransport(group: group, gate: gate, maxBytes: tuning.maxBytesPerConnection),
                                              limits: tuning.limits(for: config)),
                          tuning: tuning, logger: logger)
        logger.info("scan starting", metadata: [
            "scan.profile": "\(profile.name)", "scan.addresses": "\(scope.count)", "scan.skipped": "\(scope.skipped.count)", "scan.concurrency": "\(concurrency)",
            "scan.rate": "\(config.rate)"])
        let clock = ContinuousClock()
        let started = clock.now
        let outcome = await withTaskCancellationHandler {
            await run.execute(deadline: deadline, progress: progress)
        } onCancel: {
            engine.stop()
        }
        await engine.shutdown()
        await pinger?.close()
        let stats = engine.statistics
        if let failure = stats.failure { throw AgentError.config("scan engine: \(failure)") }
        let elapsed = clock.now - started
        let finishedAt = now.addingTimeInterval(RTTEstimator.nanos(elapsed) / 1e9)
        let report = ScanReport(
            profile: profile.name, scope: config.scope, exclude: config.exclude, startedAt: now, finishedAt: finishedAt,
            complete: outcome.complete, addressesScanned: outcome.addressesScanned, hostsDown: outcome.hostsDown,
            hosts: outcome.hosts.map { (IPv4Address($0.address)?.value ?? 0, $0) }.sorted { $0.0 < $1.0 }.map(\.1),
            stats: ScanStats(probesSent: stats.probesSent, retries: stats.retries, timeouts: stats.timeouts, peakInFlight: stats.peakInFlight,
                             skippedAddresses: scope.skipped.isEmpty ? nil : scope.skipped.map(\.description),
                             echoDiscovery: echoDiscovery, hostsUpByEcho: pinger == nil ? nil : outcome.hostsUpByEcho,
                             stages: stages.timings))
        logger.info("scan finished", metadata: [
            "scan.complete": "\(report.complete)", "scan.hostsUp": "\(report.hosts.count)", "scan.hostsDown": "\(report.hostsDown)",
            "scan.probes": "\(stats.probesSent)", "scan.retries": "\(stats.retries)", "scan.timeouts": "\(stats.timeouts)",
            "scan.windowCuts": "\(stats.windowCuts)", "scan.peakInFlight": "\(stats.peakInFlight)",
            "scan.seconds": "\(RTTEstimator.nanos(elapsed) / 1e9)"])
        return report
    }
}

/// One scan's orchestration: a task group with port-scan children (one per address, at most
/// `hostParallelism` at once), safe-probe children (one per live host, at most
/// `serviceParallelism`), a progress ticker and the deadline timer.
struct ScanRun: Sendable {
    let scope: Scope
    let profile: ScanProfile
    let config: ScanConfig
    let now: Date
    let engine: PortScanEngine
    /// ICMP echo discovery, when it runs.
    let pinger: ICMPEchoPinger?
    let stages: StageTimes
    let driver: ProbeDriver
    let tuning: ScanTuning
    let logger: Logger

    struct Outcome: Sendable {
        var hosts: [ScannedHost] = []
        var addressesScanned = 0
        var hostsDown = 0
        /// Hosts up only by their echo reply.
        var hostsUpByEcho = 0
        var complete = true
    }

    struct PortPhase: Sendable {
        var address: IPv4Address
        var probes: [PortProbe]
        var outcomes: [PortOutcome]
        /// Answered the ICMP echo sent beside its port probes.
        var echoed = false
        var finished: Bool { outcomes.allSatisfy(\.finished) }
        var alive: Bool { outcomes.contains(where: \.hostAnswered) }
    }

    enum Child: Sendable {
        case portPhase(PortPhase)
        case host(ScannedHost)
        case tick
        case deadline
        case timerCancelled
    }

    final class Counters: Sendable {
        struct Values {
            var addressesDone = 0
            var hostsUp = 0
            var hostsDown = 0
            var hostsProbed = 0
            var findings = 0
        }
        let values = Mutex(Values())
    }

    /// How long one echo request waits for its reply: the engine's RTT-adaptive probe timeout
    /// (the configured initial one until the first answer), at least the floor.
    var echoTimeout: Duration {
        let adaptive = engine.statistics.timeout
        let initial = Duration.milliseconds(Int64((config.timeout.seconds * 1000).rounded()))
        return max(tuning.minimumTimeout, adaptive > .zero ? adaptive : initial)
    }

    var hostProbes: [PortProbe] {
        profile.tcp.map { .tcp($0.port) } + profile.udp.map { spec in
            switch spec.probe {
            case .nbstat: .udp(spec.port, payload: NBStat.query(transactionID: UInt16.random(in: 1...0xFFFE)))
            case .tftp: .udp(spec.port, payload: TFTP.readRequest())
            }
        }
    }

    func execute(deadline: Duration?, progress: @escaping @Sendable (ScanProgress) -> Void) async -> Outcome {
        let counters = Counters()
        let probesPerHost = max(1, profile.tcp.count + profile.udp.count)
        let hostParallelism = tuning.hostParallelism ?? min(8192, max(64, 2 * engine.settings.concurrency / probesPerHost))
        let serviceParallelism = max(1, tuning.serviceParallelism)
        var outcome = Outcome()
        guard scope.count > 0, probesPerHost > 0, !profile.tcp.isEmpty || !profile.udp.isEmpty else { return outcome }

        await withTaskGroup(of: Child.self) { group in
            var addresses = scope.shuffledAddresses(seed: tuning.orderSeed ?? UInt64.random(in: 0...UInt64.max)).makeIterator()
            var exhausted = false
            var portScans = 0
            var hostProbesRunning = 0
            var waiting: [PortPhase] = []
            var stopping = false
            var timers = 0

            func startPortScans() {
                while !stopping, !exhausted, portScans < hostParallelism {
                    guard let address = addresses.next() else {
                        exhausted = true
                        return
                    }
                    portScans += 1
                    let probes = hostProbes
                    group.addTask {
                        // The echo goes out beside the port probes (as nmap's discovery does), so
                        // that a silent address costs no extra wait; it is only read when no port
                        // answered, and given up at once when one did.
                        let echo = pinger.map { pinger in
                            Task { await pinger.ping(address, timeout: { echoTimeout }, tries: 1 + config.retries) }
                        }
                        var phase = await stages.measure("port-scan", wall: "wall:ports") {
                            PortPhase(address: address, probes: probes, outcomes: await engine.scan(address, probes: probes))
                        }
                        if let echo {
                            if !phase.alive, phase.finished, !Task.isCancelled {
                                phase.echoed = await stages.measure("echo-wait") { await echo.value }
                            } else {
                                echo.cancel()
                            }
                        }
                        return .portPhase(phase)
                    }
                }
            }

            func startHostProbes() {
                while !waiting.isEmpty, hostProbesRunning < serviceParallelism, !stopping {
                    let phase = waiting.removeFirst()
                    hostProbesRunning += 1
                    group.addTask { .host(await stages.measure("host-follow-up", wall: "wall:follow-ups") { await probeHost(phase) }) }
                }
            }

            var workLeft: Bool { portScans > 0 || hostProbesRunning > 0 || !waiting.isEmpty || (!exhausted && !stopping) }

            if let deadline {
                timers += 1
                group.addTask {
                    do {
                        try await Task.sleep(for: deadline)
                        return .deadline
                    } catch {
                        return .timerCancelled
                    }
                }
            }
            timers += 1
            group.addTask { await tick(counters, progress, interval: tuning.progressInterval) }
            startPortScans()

            while let child = await group.next() {
                switch child {
                case .portPhase(let phase):
                    portScans -= 1
                    if phase.finished { outcome.addressesScanned += 1 }
                    if phase.alive {
                        counters.values.withLock { $0.hostsUp += 1; $0.addressesDone += 1 }
                        if stopping || Task.isCancelled {
                            // Live but not followed up: listed as incomplete.
                            var builder = HostReportBuilder(address: phase.address)
                            for (probe, o) in zip(phase.probes, phase.outcomes) { builder.record(probe, o) }
                            builder.complete = false
                            outcome.hosts.append(builder.build())
                        } else {
                            waiting.append(phase)
                        }
                    } else if phase.echoed {
                        // Up, nothing reachable: every probed port filtered.
                        var builder = HostReportBuilder(address: phase.address)
                        for (probe, o) in zip(phase.probes, phase.outcomes) { builder.record(probe, o) }
                        var host = builder.build()
                        host.reason = "echo-reply"
                        outcome.hosts.append(host)
                        outcome.hostsUpByEcho += 1
                        counters.values.withLock { $0.hostsUp += 1; $0.hostsProbed += 1; $0.addressesDone += 1 }
                    } else if phase.finished {
                        outcome.hostsDown += 1
                        counters.values.withLock { $0.hostsDown += 1; $0.addressesDone += 1 }
                    }
                case .host(let host):
                    hostProbesRunning -= 1
                    outcome.hosts.append(host)
                    counters.values.withLock { $0.hostsProbed += 1; $0.findings += host.findings.count }
                case .tick:
                    timers -= 1
                    if workLeft, !Task.isCancelled {
                        timers += 1
                        group.addTask { await tick(counters, progress, interval: tuning.progressInterval) }
                    }
                case .deadline:
                    timers -= 1
                    logger.notice("scan deadline reached; stopping")
                    stopping = true
                    engine.stop()
                    group.cancelAll()
                case .timerCancelled:
                    timers -= 1
                }
                if Task.isCancelled, !stopping {
                    stopping = true
                    engine.stop()
                }
                if stopping {
                    // Live hosts that were waiting for their safe probes: listed, incomplete.
                    for phase in waiting {
                        var builder = HostReportBuilder(address: phase.address)
                        for (probe, o) in zip(phase.probes, phase.outcomes) { builder.record(probe, o) }
                        builder.complete = false
                        outcome.hosts.append(builder.build())
                    }
                    waiting.removeAll()
                } else {
                    startHostProbes()
                    startPortScans()
                }
                if !workLeft, timers > 0 { group.cancelAll() }
            }
            if stopping || !exhausted { outcome.complete = false }
        }
        progress(await snapshot(counters))
        return outcome
    }

    private func tick(_ counters: Counters, _ progress: @Sendable (ScanProgress) -> Void, interval: Duration) async -> Child {
        do {
            try await Task.sleep(for: interval)
        } catch {
            return .timerCancelled
        }
        progress(await snapshot(counters))
        return .tick
    }

    private func snapshot(_ counters: Counters) async -> ScanProgress {
        let stats = engine.statistics
        let v = counters.values.withLock { $0 }
        return ScanProgress(addressesTotal: scope.count, addressesDone: v.addressesDone, hostsUp: v.hostsUp, hostsDown: v.hostsDown,
                            hostsProbed: v.hostsProbed, probesSent: stats.probesSent, inFlight: stats.inFlight, window: stats.window,
                            findings: v.findings)
    }

    // MARK: - One live host

    /// Conficker P2P ports, then the safe probes of the open ports, all bounded.
    func probeHost(_ phase: PortPhase) async -> ScannedHost {
        let address = phase.address
        var builder = HostReportBuilder(address: address)
        for (probe, o) in zip(phase.probes, phase.outcomes) { builder.record(probe, o) }

        // UDP replies from the port scan.
        for (probe, o) in zip(phase.probes, phase.outcomes) {
            guard case .udp = probe.kind, let reply = o.reply, let spec = profile.udp.first(where: { $0.port == probe.port }) else { continue }
            switch spec.probe {
            case .nbstat:
                if let response = try? NBStat.parseResponse(reply) {
                    builder.apply(FindingMapper.nbstat(response, port: probe.port), port: probe.port, proto: .udp, priority: 0)
                }
            case .tftp:
                builder.apply(FindingMapper.tftp(TFTP.parseReply(reply), port: probe.port), port: probe.port, proto: .udp, priority: 5)
            }
        }

        // Conficker.C P2P ports of this address and week.
        var confickerTCP: [UInt16] = []
        if profile.confickerP2P, !Task.isCancelled {
            let ports = ConfickerP2P.ports(for: address.octets, unixTime: Int64(now.timeIntervalSince1970.rounded(.down)))
            let tcpPorts = Array(Set(ports.tcp)).sorted()
            let udpPorts = Array(Set(ports.udp)).sorted()
            var rng = SystemRandomNumberGenerator()
            var probes = tcpPorts.filter { p in !profile.tcp.contains { $0.port == p } }.map { PortProbe.tcp($0) }
            probes += udpPorts.filter { p in !profile.udp.contains { $0.port == p } }.map {
                PortProbe.udp($0, payload: ConfickerP2P.makeProbe(transport: .udp, using: &rng).packet)
            }
            let outcomes = await stages.measure("conficker-p2p") { await engine.scan(address, probes: probes) }
            for (probe, o) in zip(probes, outcomes) {
                builder.record(probe, o)
                if case .udp = probe.kind, let reply = o.reply {
                    builder.apply(FindingMapper.conficker(ConfickerP2P.validateReply(reply, transport: .udp), port: probe.port, proto: .udp),
                                  port: probe.port, proto: .udp, priority: 4)
                }
            }
            confickerTCP = tcpPorts.filter { builder.outcome(port: $0, proto: .tcp)?.state == .open }
        }

        // Safe probes of the open TCP ports, concurrently.
        var jobs: [(port: UInt16, job: ServiceJob)] = []
        let open = { (port: UInt16) in builder.outcome(port: port, proto: .tcp)?.state == .open }
        let directSMB = profile.tcp.contains { $0.probe == .smbDirect && open($0.port) }
        for spec in profile.tcp where open(spec.port) {
            switch spec.probe {
            case .none: break
            case .http: jobs.append((spec.port, .http))
            case .https: jobs.append((spec.port, .https))
            case .smbDirect: jobs.append((spec.port, .smb(netBIOS: false)))
            case .smbNetBIOS where !directSMB: jobs.append((spec.port, .smb(netBIOS: true)))
            case .smbNetBIOS: break
            case .dcerpc: jobs.append((spec.port, .dcerpc))
            case .banner(let role): jobs.append((spec.port, .banner(role)))
            }
        }
        for port in confickerTCP { jobs.append((port, .conficker)) }
        let nbName = builder.build().netbiosName
        let driver = self.driver
        let results = await withTaskGroup(of: (UInt16, ServiceProbeResult?, Bool).self) { group in
            for (port, job) in jobs {
                group.addTask { [stages] in
                    await stages.measure("probe:\(job.stage)") { await Self.run(job, address: address, port: port, netbiosName: nbName, driver: driver) }
                }
            }
            var all: [(UInt16, ServiceProbeResult?, Bool)] = []
            for await r in group { all.append(r) }
            return all
        }
        for (port, result, finished) in results {
            if !finished { builder.complete = false }
            guard let result else { continue }
            let priority: Int
            switch result {
            case .smb: priority = 1
            case .conficker: priority = 4
            default: priority = 3
            }
            builder.apply(FindingMapper.map(result, port: port, proto: .tcp), port: port, proto: .tcp, priority: priority)
        }
        if Task.isCancelled { builder.complete = false }
        return builder.build()
    }

    enum ServiceJob: Sendable {
        case http
        case https
        case smb(netBIOS: Bool)
        case dcerpc
        case banner(ScanProfile.BannerRole)
        case conficker

        /// Its name among the scan's stages.
        var stage: String {
            switch self {
            case .http: "http"
            case .https: "https"
            case .smb: "smb"
            case .dcerpc: "dcerpc"
            case .banner: "banner"
            case .conficker: "conficker-tcp"
            }
        }
    }

    static func run(_ job: ServiceJob, address: IPv4Address, port: UInt16, netbiosName: String?,
                    driver: ProbeDriver) async -> (UInt16, ServiceProbeResult?, Bool) {
        switch job {
        case .http:
            let r = await driver.run(HTTPStreamProbe(host: address.description), address: address, port: port)
            return (port, r.connections > 0 ? .http(r.output) : nil, r.finished)
        case .https:
            // A port that takes the connection but completes no TLS handshake stays "open"
            // without a product, like nmap's "ssl/unknown".
            let r = await driver.run(HTTPStreamProbe(host: address.description), address: address, port: port, tls: true)
            return (port, r.connections > 0 ? .https(r.output) : nil, r.finished)
        case .smb(let netBIOS):
            var options = SMBProbeOptions(host: address.description)
            if netBIOS {
                var names: [NetBIOSName] = []
                if let netbiosName { names.append(NetBIOSName(name: netbiosName)) }
                names.append(.anySMBServer)
                options.transport = .netBIOS(calledNames: names)
            }
            let r = await driver.run(SMBStreamProbe(options: options), address: address, port: port)
            return (port, r.connections > 0 ? .smb(r.output) : nil, r.finished)
        case .dcerpc:
            let r = await driver.run(DCERPCStreamProbe(), address: address, port: port)
            return (port, .dcerpc(r.output), r.finished)
        case .banner(let role):
            let r = await driver.run(BannerStreamProbe(), address: address, port: port)
            return (port, r.output.map { .banner(role, $0) }, r.finished)
        case .conficker:
            var rng = SystemRandomNumberGenerator()
            let probe = ConfickerTCPStreamProbe(key1: UInt32.random(in: 1...0x7FFF_FFFF, using: &rng),
                                                key2: UInt32.random(in: 1...0x7FFF_FFFF, using: &rng))
            let r = await driver.run(probe, address: address, port: port)
            return (port, r.output.flatMap { $0 }.map { .conficker($0) }, r.finished)
        }
    }
}
