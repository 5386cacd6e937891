import CordonShared
import Foundation
import Logging
import ServiceLifecycle

/// Scans the segment on `scan.interval` (and at once when a `rescan` task asks), keeps the
/// latest finished scan on disk until a report has carried it into the spool, and refuses
/// to scan outside the scope the coordinator allows the agent's segment.
public final class ScanService: Service, ReportComposer, @unchecked Sendable {
    let config: ScanConfig
    let stateDir: AgentStateDir
    let scanner: Scanner
    /// The passive worm sensor, read after each scan; nil when `scan.sensor` is off.
    let sensor: LiveWormSpreadSensor?
    let logger: Logger
    private let trigger: AsyncStream<Void>
    private let triggerContinuation: AsyncStream<Void>.Continuation
    private let lock = NSLock()
    private var claimed = false

    public init(config: ScanConfig, stateDir: AgentStateDir, scanner: Scanner, sensor: LiveWormSpreadSensor? = nil, logger: Logger) {
        self.config = config
        self.stateDir = stateDir
        self.scanner = scanner
        self.sensor = sensor
        self.logger = logger
        (trigger, triggerContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var pendingFile: String { stateDir.file("pending-scan.json") }
    var claimedFile: String { stateDir.file("pending-scan.claimed.json") }
    var allowedScopeFile: String { stateDir.file("allowed-scope.json") }

    /// Asks for a scan now (a `rescan` task).
    public func requestRescan() {
        triggerContinuation.yield()
    }

    public func run() async throws {
        var iterator = trigger.makeAsyncIterator()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await scanOnce()
            // Wait for the interval or a rescan request, whichever comes first. The timer is an
            // unstructured task because it must wake this task's `next()`; it is cancelled as
            // soon as the wait ends and never outlives the interval.
            let interval = config.interval.seconds
            let continuation = triggerContinuation
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                if !Task.isCancelled { continuation.yield() }
            }
            _ = await withGracefulShutdownHandler { await iterator.next() } onGracefulShutdown: { continuation.yield() }
            timer.cancel()
        }
        triggerContinuation.finish()
    }

    /// Runs one scan if the scope is allowed, and keeps the result for the next report.
    public func scanOnce(now: Date = Date()) async {
        if let refusal = Self.scopeRefusal(config: config, allowed: loadAllowedScope()) {
            logger.error("scan refused", metadata: ["reason": "\(refusal)"])
            return
        }
        do {
            var report = try await cancelWhenGracefulShutdown {
                try await self.scanner.scan(config: self.config, now: now)
            }
            if let sensor { report = Self.addSensorFindings(report, sensor: sensor, config: config, logger: logger) }
            try SecureFile.replace(pendingFile, contents: try CordonJSON.encode(report), mode: 0o600)
            logger.info("scan finished", metadata: ["scan.hosts": "\(report.hosts.count)", "scan.complete": "\(report.complete)"])
        } catch {
            logger.error("scan failed", metadata: ["error": "\(error)"])
        }
    }

    /// The sensor's spreading hosts in the report, and what the sensor did in its stats.
    static func addSensorFindings(_ report: ScanReport, sensor: LiveWormSpreadSensor, config: ScanConfig, logger: Logger) -> ScanReport {
        var report = report
        do {
            let observations = try sensor.read()
            let scope = try Scope(scope: config.scope, exclude: config.exclude, maxSize: Int.max, allowLarge: true)
            let findings = WormSpreadSensor.findings(observations, threshold: config.sensor.threshold, window: config.sensor.window, scope: scope)
            report = WormSpreadSensor.annotate(report, with: findings)
            let sources = Set(observations.map(\.source)).count
            report.stats.sensor = "\(sources) source(s) tried the worm ports, \(findings.count) at or over the threshold of \(config.sensor.threshold)"
            if !findings.isEmpty {
                logger.warning("worm sensor: hosts sweeping the segment", metadata: ["sensor.hosts": "\(findings.keys.sorted().map(\.description))"])
            }
        } catch {
            report.stats.sensor = "failed: \(error)"
            logger.error("worm sensor could not be read", metadata: ["error": "\(error)"])
        }
        return report
    }

    public func compose(into report: inout AgentReport) async {
        let fm = FileManager.default
        // A claim left by a crash before spooling is carried again (ingest is idempotent by scan ID).
        let path = fm.fileExists(atPath: claimedFile) ? claimedFile : pendingFile
        guard let data = try? SecureFile.read(path, limit: 64 << 20), let scan = try? CordonJSON.decode(ScanReport.self, from: data) else { return }
        if path == pendingFile { _ = rename(pendingFile, claimedFile) }
        report.scan = scan
        lock.withLock { claimed = true }
    }

    public func reportSpooled() async {
        let wasClaimed = lock.withLock { () -> Bool in
            defer { claimed = false }
            return claimed
        }
        if wasClaimed { unlink(claimedFile) }
    }

    /// Records the scope the coordinator allows (from `GET /v1/agent/config`).
    public func recordAllowedScope(_ scope: [String]?) {
        if let scope {
            try? SecureFile.replace(allowedScopeFile, contents: (try? CordonJSON.encode(scope)) ?? Data(), mode: 0o600)
        } else {
            unlink(allowedScopeFile)
        }
    }

    func loadAllowedScope() -> [String]? {
        guard let data = try? SecureFile.read(allowedScopeFile, limit: 1 << 20) else { return nil }
        return try? CordonJSON.decode([String].self, from: data)
    }

    /// Why a configured scope may not be scanned, or nil when it may: every scope CIDR must
    /// lie inside the segment's allowed scope (when the coordinator records one).
    public static func scopeRefusal(config: ScanConfig, allowed: [String]?) -> String? {
        guard let allowed else { return nil }
        let outer = allowed.compactMap(IPv4CIDR.init)
        for entry in config.scope {
            guard let cidr = IPv4CIDR(entry) else { return "scope entry \(entry) is not an IPv4 CIDR" }
            if !IPv4CIDR.covers(outer, cidr) {
                return "scan scope \(cidr) is outside what this agent's segment may scan (\(allowed.joined(separator: ", ")))"
            }
        }
        return nil
    }
}
