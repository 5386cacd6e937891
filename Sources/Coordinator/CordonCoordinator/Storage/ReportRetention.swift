import CordonShared
import Foundation
import Logging
import ServiceLifecycle

/// How long raw report bodies are kept (`reportRetention` in coordinator.yaml). What a report
/// said is kept in the fleet's tables (hosts, services, findings, inventories, changes); the raw
/// bodies are for looking back, and would otherwise grow the database by every report forever.
///
/// Per agent, the newest `keepPerAgent` reports are kept and older ones deleted as each new
/// report is stored; the bodies of kept reports received more than `bodyMaxAge` ago are emptied
/// by a sweep in small batches. Whichever is less: a report is kept whole only while it is among
/// its agent's newest and younger than `bodyMaxAge`.
public struct ReportRetention: Codable, Sendable, Equatable {
    public var keepPerAgent: Int
    public var bodyMaxAge: ConfigDuration

    public init(keepPerAgent: Int = 20, bodyMaxAge: ConfigDuration = .init(seconds: 7 * 86400)) {
        self.keepPerAgent = keepPerAgent
        self.bodyMaxAge = bodyMaxAge
    }

    enum CodingKeys: String, CodingKey { case keepPerAgent, bodyMaxAge }

    public init(from decoder: any Decoder) throws {
        let d = ReportRetention()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keepPerAgent = try c.decodeIfPresent(Int.self, forKey: .keepPerAgent) ?? d.keepPerAgent
        bodyMaxAge = try c.decodeIfPresent(ConfigDuration.self, forKey: .bodyMaxAge) ?? d.bodyMaxAge
    }

    static let schema = ConfigSchema.mapping(["keepPerAgent": .scalar, "bodyMaxAge": .scalar])

    func validate(origin: String) throws {
        // Two at least: the duplicate check needs the report an agent may be resending.
        guard (2...100_000).contains(keepPerAgent) else { throw CordonError.invalidArgument("\(origin): reportRetention.keepPerAgent must be 2-100000") }
        guard bodyMaxAge.seconds >= 3600 else { throw CordonError.invalidArgument("\(origin): reportRetention.bodyMaxAge must be at least 1h") }
    }
}

/// Empties old report bodies in the background: batches of `batch` rows, each its own short
/// write transaction with a pause after it, so that ingests and heartbeats get the writer
/// between batches; a sweep every `interval`. Stops at graceful shutdown.
public struct ReportRetentionService: Service {
    let database: CoordinatorDatabase
    let retention: ReportRetention
    let interval: Duration
    let batch: Int
    let pause: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    public init(database: CoordinatorDatabase, retention: ReportRetention, interval: Duration = .seconds(60), batch: Int = 500,
                pause: Duration = .milliseconds(20), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.database = database
        self.retention = retention
        self.interval = interval
        self.batch = batch
        self.pause = pause
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = try? await sweep()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One sweep: empties every body older than `bodyMaxAge`, batch by batch; returns how many.
    @discardableResult
    public func sweep() async throws -> Int {
        let cutoff = now().addingTimeInterval(-retention.bodyMaxAge.seconds)
        var total = 0
        while !Task.isCancelled {
            let emptied: Int
            do {
                let database = database, batch = batch
                emptied = try await database.offload { try database.emptyReportBodies(receivedBefore: cutoff, limit: batch) }
            } catch {
                logger.error("report retention: could not empty old report bodies", metadata: ["error": "\(error)"])
                throw error
            }
            total += emptied
            if emptied < batch { break }
            try? await Task.sleep(for: pause)
        }
        if total > 0 { logger.info("report retention: emptied old report bodies", metadata: ["reports": "\(total)", "received-before": "\(CordonTime.format(cutoff))"]) }
        return total
    }
}
