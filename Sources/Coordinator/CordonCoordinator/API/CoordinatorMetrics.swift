import CordonShared
import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// The coordinator's `/metrics`: swift-metrics instruments made by a swift-prometheus factory
/// over this coordinator's own registry (not the process-wide `MetricsSystem`, so that two
/// coordinators in one process, as in the tests and `cordon demo`, keep their figures apart).
///
/// Counters and histograms are updated as requests are answered; the fleet's gauges (agents and
/// task runs by state, database size, long-polls held, connections) are read when scraped.
public final class CoordinatorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    private let requestInstruments = Mutex([RequestKey: (CoreMetrics.Counter, CoreMetrics.Timer)]())
    private let gate = Mutex<ConnectionGate?>(nil)
    let ingestTime: CoreMetrics.Timer
    let reportHosts: CoreMetrics.Recorder
    let reportTransactions: CoreMetrics.Recorder

    struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                   .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
                                   .seconds(10), .seconds(30)]
        factory.defaultDurationHistogramBuckets = latency
        factory.defaultValueHistogramBuckets = [0, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]
        self.factory = factory
        ingestTime = CoreMetrics.Timer(label: "cordon_report_ingest_duration_seconds", dimensions: [], factory: factory)
        reportHosts = CoreMetrics.Recorder(label: "cordon_report_scan_hosts", dimensions: [], aggregate: true, factory: factory)
        reportTransactions = CoreMetrics.Recorder(label: "cordon_report_write_transactions", dimensions: [], aggregate: true, factory: factory)
    }

    /// One answered request. `route` is the route's pattern (`/v1/tasks/{id}`), never the
    /// path a client sent, so that the label's values stay few.
    func request(route: String, method: String, status: Int, duration: Duration) {
        // Only the methods the API uses get a label of their own; the others the HTTP parser lets
        // through (WebDAV's, TRACE...) share one, so that clients cannot add series at will.
        let method = Self.methods.contains(method) ? method : "other"
        let key = RequestKey(route: route, method: method, status: status)
        let (counter, timer) = requestInstruments.withLock { cache in
            if let found = cache[key] { return found }
            let dimensions = [("route", route), ("method", method), ("status", "\(status)")]
            let made = (CoreMetrics.Counter(label: "cordon_http_requests_total", dimensions: dimensions, factory: factory),
                        CoreMetrics.Timer(label: "cordon_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory))
            cache[key] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Self.nanoseconds(duration))
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// One stored report: how long the database took, how many scanned hosts it carried and in
    /// how many write transactions it was stored.
    func ingested(duration: Duration, hosts: Int, transactions: Int) {
        ingestTime.recordNanoseconds(Self.nanoseconds(duration))
        reportHosts.record(hosts)
        reportTransactions.record(transactions)
    }

    func attach(_ gate: ConnectionGate) {
        self.gate.withLock { $0 = gate }
    }

    /// Reads the fleet's gauges and returns the whole registry in Prometheus' text format.
    public func render(database: CoordinatorDatabase, dispatcher: TaskDispatcher, now: Date) async throws -> String {
        let fleet = try await database.offload { try database.metricsSnapshot(now: now) }
        for state in AgentState.allCases {
            gauge("cordon_agents", [("state", state.rawValue)]).record(fleet.agentsByState[state] ?? 0)
        }
        for state in TaskState.allCases {
            gauge("cordon_task_runs", [("state", state.rawValue)]).record(fleet.taskRunsByState[state] ?? 0)
        }
        gauge("cordon_database_bytes", [("file", "main")]).record(fleet.databaseBytes)
        gauge("cordon_database_bytes", [("file", "wal")]).record(fleet.walBytes)
        gauge("cordon_database_free_bytes", []).record(fleet.freeBytes)
        gauge("cordon_database_writers_queued", []).record(database.writersQueued)
        gauge("cordon_long_polls_held", []).record(await dispatcher.waitingAgents)
        if let counts = gate.withLock({ $0?.counts }) {
            gauge("cordon_connections_open", []).record(counts.open)
            gauge("cordon_connections_handshaking", []).record(counts.handshaking)
            gauge("cordon_connections_refused", []).record(counts.refused)
            gauge("cordon_connections_handshake_timeouts", []).record(counts.timedOut)
        }
        return registry.emitToString()
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return Int64(clamping: seconds) &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
