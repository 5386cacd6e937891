import CordonShared
import CordonTransport
import Foundation
import Logging
import ServiceLifecycle

/// Builds the agent's reports. The core report carries host facts; later sections (scan
/// results, inventory) are added by the composers the service is given.
public protocol ReportComposer: Sendable {
    func compose(into report: inout AgentReport) async
    /// The report made by the last `compose` is safely in the spool: forget what it carried.
    func reportSpooled() async
}

extension ReportComposer {
    public func reportSpooled() async {}
}

/// The agent's main loop: heartbeats and reports on their intervals (with jitter), spool
/// delivery in order, capped backoff while the coordinator is unreachable, and certificate
/// renewal before expiry. A ServiceLifecycle service: graceful shutdown (SIGTERM) ends it
/// between steps; nothing spooled is lost.
public final class AgentService: Service, Sendable {
    public let config: AgentConfig
    public let uplink: Uplink
    public let spool: Spool
    let composers: [any ReportComposer]
    let facts: HostFacts
    let logger: Logger
    let stateDir: AgentStateDir
    /// Told the segment's allowed scan scope at every heartbeat.
    let scopeObserver: (@Sendable ([String]?) -> Void)?

    public init(config: AgentConfig, uplink: Uplink, spool: Spool, composers: [any ReportComposer] = [], facts: HostFacts = HostFacts(),
                scopeObserver: (@Sendable ([String]?) -> Void)? = nil, logger: Logger) {
        self.config = config
        self.uplink = uplink
        self.spool = spool
        self.composers = composers
        self.facts = facts
        self.scopeObserver = scopeObserver
        self.logger = logger
        self.stateDir = uplink.stateDir
    }

    public func run() async throws {
        var rng = SystemRandomNumberGenerator()
        var backoff = Backoff(base: min(2, config.heartbeatInterval.seconds), cap: config.maxBackoff.seconds)
        var status = stateDir.loadStatus()
        let start = Date()
        var nextReport = start
        var nextHeartbeat = start
        var retryAt = start

        let agentID = await uplink.enrollment.agentID, coordinatorURL = await uplink.coordinatorURL
        logger.notice("agent running", metadata: ["agent.id": "\(agentID)", "coordinator": "\(coordinatorURL)"])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Date()
            if now >= nextReport {
                await makeReport(now: now)
                nextReport = now.addingTimeInterval(jittered(config.reportInterval.seconds, jitter: config.jitter, using: &rng))
            }
            if now >= retryAt {
                let healthy = await contact(now: now, heartbeatDue: now >= nextHeartbeat, status: &status)
                if healthy {
                    backoff.success()
                    if now >= nextHeartbeat {
                        nextHeartbeat = now.addingTimeInterval(jittered(config.heartbeatInterval.seconds, jitter: config.jitter, using: &rng))
                    }
                    retryAt = nextHeartbeat
                } else {
                    let wait = backoff.failure(using: &rng)
                    retryAt = now.addingTimeInterval(wait)
                    logger.warning("coordinator unreachable; retrying", metadata: ["retry.in": "\(HumanDuration.format(wait))", "error": "\(status.lastError ?? "")"])
                }
                stateDir.saveStatus(status)
            }
            let wake = min(nextReport, retryAt)
            let delay = max(0.01, wake.timeIntervalSinceNow)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
        }
        await uplink.shutdown()
        logger.notice("agent stopped", metadata: ["spool.depth": "\(spool.depth)"])
    }

    /// One cycle, for `cordon demo` and tests: make a report, heartbeat, deliver the spool.
    /// Returns false when the coordinator could not be reached (the report stays spooled).
    @discardableResult
    public func runOnce(now: Date = Date()) async -> Bool {
        var status = stateDir.loadStatus()
        await makeReport(now: now)
        let ok = await contact(now: now, heartbeatDue: true, status: &status)
        stateDir.saveStatus(status)
        return ok
    }

    /// Makes a report and spools it. Sending happens in `contact`.
    func makeReport(now: Date) async {
        do {
            var report = AgentReport(createdAt: now, spoolDropped: 0, facts: facts.collect())
            for composer in composers { await composer.compose(into: &report) }
            report.spoolDropped = try spool.takeDropped()
            let dropped = try spool.append(try CordonJSON.encode(report), carriedDrops: report.spoolDropped)
            for composer in composers { await composer.reportSpooled() }
            if dropped > 0 { logger.warning("spool full; dropped oldest reports", metadata: ["dropped": "\(dropped)"]) }
        } catch {
            logger.error("cannot make or spool a report", metadata: ["error": "\(error)"])
        }
    }

    /// Renews the certificate if due, delivers the spool in order, and sends a heartbeat
    /// if due. Returns false when the coordinator could not be reached.
    func contact(now: Date, heartbeatDue: Bool, status: inout UplinkStatus) async -> Bool {
        do {
            if await uplink.renewalDue(now: now, fraction: config.renewAtFraction) {
                try await uplink.renew()
            }
            try await deliverSpool(status: &status)
            if heartbeatDue {
                let answer = try await uplink.heartbeat(Heartbeat(sentAt: now, agentVersion: CordonVersion.current,
                                                         heartbeatInterval: config.heartbeatInterval.seconds,
                                                         reportInterval: config.reportInterval.seconds,
                                                         spoolDepth: spool.depth, spoolDropped: spool.pendingDrops))
                scopeObserver?(answer.allowedScope)
                noteClockSkew(sentAt: now, answer: answer.serverTime, answeredAt: Date(), status: &status)
            }
            status.lastContactAt = Date()
            status.consecutiveFailures = 0
            return true
        } catch let error as TransportError where !error.isTransient && error != .tls {
            // The coordinator answered and refused (revoked, forbidden): say so, keep trying slowly.
            status.lastError = error.reason
            status.lastErrorAt = Date()
            status.lastContactAt = Date()
            status.consecutiveFailures += 1
            logger.error("coordinator refused the agent", metadata: ["error": "\(error.reason)"])
            return false
        } catch {
            status.lastError = "\(error)"
            status.lastErrorAt = Date()
            status.consecutiveFailures += 1
            return false
        }
    }

    /// How far this host's clock is from the coordinator's: the heartbeat's midpoint against the
    /// server time in its answer. Going over 5 minutes is logged as a warning once (task lists
    /// expire, and certificates are checked, by this host's clock), coming back once;
    /// `cordon-agent status` shows it all along.
    func noteClockSkew(sentAt: Date, answer serverTime: Date, answeredAt: Date, status: inout UplinkStatus) {
        let skew = Self.clockSkew(sentAt: sentAt, serverTime: serverTime, answeredAt: answeredAt)
        let wasOff = abs(status.clockSkewSeconds ?? 0) > ClockSkew.warningSeconds
        status.clockSkewSeconds = (skew * 10).rounded() / 10
        if abs(skew) > ClockSkew.warningSeconds, !wasOff {
            logger.warning("this host's clock is off from the coordinator's: task lists may be refused as expired or not yet valid", metadata: [
                "skew": "\(skew > 0 ? "ahead" : "behind") by \(HumanDuration.format(abs(skew)))", "coordinator.time": "\(CordonTime.format(serverTime))",
            ])
        } else if abs(skew) <= ClockSkew.warningSeconds, wasOff {
            logger.notice("this host's clock agrees with the coordinator's again", metadata: ["skew": "\(HumanDuration.format(abs(skew)))"])
        }
    }

    /// This host's clock minus the coordinator's: the middle of the heartbeat's round trip (by
    /// this host's clock) against the time the coordinator put in its answer.
    static func clockSkew(sentAt: Date, serverTime: Date, answeredAt: Date) -> Double {
        let midpoint = sentAt.addingTimeInterval(max(0, answeredAt.timeIntervalSince(sentAt)) / 2)
        return midpoint.timeIntervalSince(serverTime)
    }

    /// Sends spooled reports oldest first; each is deleted only after the coordinator's
    /// acknowledgement (sent after commit). A report the coordinator rejects as malformed or
    /// too large (400, 413) would block the queue forever: it is discarded and counted as
    /// dropped. Any other failure stops delivery until the next attempt.
    func deliverSpool(status: inout UplinkStatus) async throws {
        for entry in spool.entries() {
            let json: Data
            do { json = try spool.read(entry) } catch {
                try spool.discard(entry)
                logger.error("unreadable spooled report discarded", metadata: ["path": "\(entry.path)", "error": "\(error)"])
                continue
            }
            do {
                let ack = try await uplink.send(reportJSON: json)
                spool.remove(entry)
                status.lastReportAt = Date()
                status.lastReportID = ack.reportID
            } catch let error as TransportError where error.status == 400 || error.status == 413 {
                try spool.discard(entry)
                logger.error("coordinator rejected a spooled report; discarded", metadata: ["error": "\(error.reason)"])
            }
        }
    }
}
