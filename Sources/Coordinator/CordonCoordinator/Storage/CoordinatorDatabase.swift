import CordonShared
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// The one type that owns the coordinator's SQL.
///
/// It wraps `any DatabaseWriter` (a `DatabasePool` in WAL mode on disk, a `DatabaseQueue` in
/// memory for tests), runs the append-only migrations once at open, and offers one write
/// method per intent, each a single transaction. Nothing outside this type writes SQL, so a
/// PostgreSQL backend can replace it behind the same methods.
public final class CoordinatorDatabase: Sendable {
    let writer: any DatabaseWriter
    /// Write transactions running or waiting for the writer (`/metrics`' writer queue depth).
    let writersQueuedCount = Atomic<Int>(0)
    var writersQueued: Int { writersQueuedCount.load(ordering: .relaxed) }

    /// Opens (creating if needed) the database file in WAL mode and migrates it.
    public static func open(path: String) throws -> CoordinatorDatabase {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // `cordon serve` and a local command (`cordon operators add`) may open a new database at
        // the same moment. Switching a new file to WAL mode is refused at once, without the busy
        // wait, to the second of two connections that both hold a shared lock; so cordon's own
        // openers take turns under a file lock (one creates and migrates, the next finds it done),
        // and a busy refusal from anyone else (an operator's sqlite3 shell) is retried for a while.
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                return try withFileLock(path + ".migrate.lock") {
                    try CoordinatorDatabase(writer: DatabasePool(path: path, configuration: configuration))
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: .random(in: 0.05...0.2))
            } catch let error as DatabaseError {
                throw CoordinatorError.storage("cannot open the database \(path): \(error.message ?? error.description)")
            }
        }
    }

    /// Runs `body` holding an exclusive `flock` on `lockPath` (created 0600 if missing).
    static func withFileLock<T>(_ lockPath: String, _ body: () throws -> T) throws -> T {
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CoordinatorError.storage("cannot open the lock \(lockPath): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CoordinatorError.storage("cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// An empty in-memory database, for tests.
    public static func inMemory() throws -> CoordinatorDatabase {
        try CoordinatorDatabase(writer: DatabaseQueue())
    }

    init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// The migrations, in order. Never edit a released migration: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            try db.create(table: "enrollmentToken") { t in
                t.primaryKey("id", .text)
                t.column("hash", .text).notNull().unique()
                t.column("segment", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("expiresAt", .datetime).notNull()
                t.column("usesLeft", .integer).notNull()
                t.column("createdBy", .text).notNull()
            }
            try db.create(table: "agent") { t in
                t.primaryKey("id", .text)
                t.column("segment", .text).notNull().indexed()
                t.column("hostname", .text).notNull()
                t.column("agentVersion", .text).notNull()
                t.column("enrolledAt", .datetime).notNull()
                t.column("tokenID", .text).notNull()
                t.column("certificateNotAfter", .datetime).notNull()
                t.column("lastSeenAt", .datetime)
                t.column("lastReportAt", .datetime)
                t.column("heartbeatInterval", .double).notNull().defaults(to: 30)
                t.column("reportInterval", .double).notNull().defaults(to: 300)
                t.column("spoolDepth", .integer).notNull().defaults(to: 0)
                t.column("spoolDroppedTotal", .integer).notNull().defaults(to: 0)
                t.column("revokedAt", .datetime)
                t.column("factsJSON", .blob)
            }
            try db.create(table: "operator") { t in
                t.primaryKey("name", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("revokedAt", .datetime)
            }
            // Every client certificate the CA issued, so that a request is accepted only from a
            // certificate the coordinator knows and has not revoked.
            try db.create(table: "issuedCertificate") { t in
                t.primaryKey("serial", .text)
                t.column("role", .text).notNull()
                t.column("subject", .text).notNull().indexed()
                t.column("issuedAt", .datetime).notNull()
                t.column("notAfter", .datetime).notNull()
                t.column("revokedAt", .datetime)
            }
            try db.create(table: "report") { t in
                t.primaryKey("id", .text)
                t.column("agentID", .text).notNull().indexed().references("agent")
                t.column("createdAt", .datetime).notNull()
                t.column("receivedAt", .datetime).notNull()
                t.column("spoolDropped", .integer).notNull()
                t.column("bodyJSON", .blob).notNull()
            }
            try db.create(table: "auditLog") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull().indexed()
                t.column("actor", .text).notNull()
                t.column("action", .text).notNull()
                t.column("target", .text).notNull()
                t.column("detail", .text).notNull()
            }
        }
        migrator.registerMigration("v2-scan-inventory") { db in
            try db.create(table: "host") { t in
                t.column("segment", .text).notNull()
                t.column("address", .text).notNull()
                t.column("agentID", .text).notNull()
                t.column("netbiosName", .text)
                t.column("workgroup", .text)
                t.column("dnsName", .text)
                t.column("mac", .text)
                t.column("osGuess", .text)
                t.column("reason", .text).notNull()
                t.column("firstSeen", .datetime).notNull()
                t.column("lastSeen", .datetime).notNull()
                t.primaryKey(["segment", "address"])
            }
            try db.create(table: "service") { t in
                t.column("segment", .text).notNull()
                t.column("address", .text).notNull()
                t.column("proto", .text).notNull()
                t.column("port", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("service", .text)
                t.column("product", .text)
                t.column("version", .text)
                t.column("banner", .text)
                t.column("firstSeen", .datetime).notNull()
                t.column("lastSeen", .datetime).notNull()
                t.primaryKey(["segment", "address", "proto", "port"])
            }
            try db.create(table: "finding") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("segment", .text).notNull().indexed()
                t.column("subject", .text).notNull()
                t.column("address", .text)
                t.column("agentID", .text).notNull()
                t.column("detectionID", .text).notNull().indexed()
                t.column("item", .text).notNull()
                t.column("port", .integer)
                t.column("proto", .text)
                t.column("evidence", .text).notNull()
                t.column("firstSeen", .datetime).notNull()
                t.column("lastSeen", .datetime).notNull()
                t.column("resolvedAt", .datetime)
                t.uniqueKey(["segment", "subject", "detectionID", "item"])
            }
            try db.create(table: "scan") { t in
                t.primaryKey("id", .text)
                t.column("agentID", .text).notNull().indexed()
                t.column("segment", .text).notNull()
                t.column("profile", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime).notNull()
                t.column("complete", .boolean).notNull()
                t.column("addressesScanned", .integer).notNull()
                t.column("hostsUp", .integer).notNull()
                t.column("hostsDown", .integer).notNull()
                t.column("receivedAt", .datetime).notNull()
            }
            try db.create(table: "inventory") { t in
                t.primaryKey("agentID", .text)
                t.column("reportID", .text).notNull()
                t.column("collectedAt", .datetime).notNull()
                t.column("bodyJSON", .blob).notNull()
                t.column("baselineAt", .datetime)
                t.column("baselineTaskIDsJSON", .blob)
            }
            try db.create(table: "change") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull().indexed()
                t.column("agentID", .text).notNull().indexed()
                t.column("segment", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("detail", .text).notNull()
            }
        }
        migrator.registerMigration("v3-tasks") { db in
            try db.create(table: "task") { t in
                t.primaryKey("id", .text)
                t.column("description", .text)
                t.column("target", .text).notNull()
                t.column("actionsJSON", .blob).notNull()
                t.column("dryRun", .boolean).notNull()
                t.column("createdAt", .datetime).notNull().indexed()
                t.column("createdBy", .text).notNull()
                t.column("requireApproval", .boolean).notNull()
                t.column("approvedBy", .text)
                t.column("approvedAt", .datetime)
                t.column("expiresAt", .datetime).notNull()
            }
            try db.create(table: "taskRun") { t in
                t.primaryKey("id", .text)
                t.column("taskID", .text).notNull().indexed().references("task")
                t.column("agentID", .text).notNull().indexed()
                t.column("sequence", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("signedJSON", .blob)
                t.column("updatedAt", .datetime).notNull()
                t.column("message", .text)
                t.column("resultsJSON", .blob)
                t.uniqueKey(["agentID", "sequence"])
            }
            try db.create(table: "taskEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("runID", .text).notNull().indexed()
                t.column("at", .datetime).notNull()
                t.column("state", .text).notNull()
                t.column("message", .text)
            }
            try db.create(table: "secret") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("agentID", .text).notNull()
                t.column("user", .text).notNull()
                t.column("runID", .text).notNull()
                t.column("rotatedAt", .datetime).notNull()
                t.column("encapsulatedKey", .blob).notNull()
                t.column("ciphertext", .blob).notNull()
            }
            try db.create(index: "secret_agent_user", on: "secret", columns: ["agentID", "user"])
        }
        migrator.registerMigration("v4-segments") { db in
            try db.create(table: "segment") { t in
                t.primaryKey("name", .text)
                t.column("scopeJSON", .blob).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.column("updatedBy", .text).notNull()
            }
        }
        // The fleet views read open findings only; most findings of a long outbreak are resolved.
        // Partial indexes over the open ones keep `cordon status` and `findings --worm` from
        // reading the resolved history, and the last scan per segment is read from an index.
        migrator.registerMigration("v5-fleet-view-indexes") { db in
            try db.execute(sql: "CREATE INDEX finding_open_by_detection ON finding(detectionID, segment) WHERE resolvedAt IS NULL")
            try db.execute(sql: "CREATE INDEX finding_open_by_host ON finding(segment, address, detectionID) WHERE resolvedAt IS NULL")
            try db.execute(sql: "CREATE INDEX scan_by_segment ON scan(segment, finishedAt)")
        }
        // Report retention: the newest reports per agent are found by (agentID, receivedAt), old
        // bodies by receivedAt; the count of reports an agent sent outlives the pruned rows.
        migrator.registerMigration("v6-report-retention") { db in
            try db.execute(sql: "CREATE INDEX report_by_agent_received ON report(agentID, receivedAt)")
            try db.execute(sql: "CREATE INDEX report_by_received ON report(receivedAt)")
            try db.alter(table: "agent") { t in t.add(column: "reportsReceived", .integer).notNull().defaults(to: 0) }
            try db.execute(sql: "UPDATE agent SET reportsReceived = (SELECT COUNT(*) FROM report WHERE report.agentID = agent.id)")
        }
        // `cordon status` on a big fleet: hosts per segment kept by triggers (counting two
        // million hosts took most of its time), and the silent agents found by lastSeenAt.
        migrator.registerMigration("v7-status-aggregates") { db in
            try db.execute(sql: """
                CREATE TABLE segmentHostCount (segment TEXT PRIMARY KEY NOT NULL, hosts INTEGER NOT NULL);
                INSERT INTO segmentHostCount (segment, hosts) SELECT segment, COUNT(*) FROM host GROUP BY segment;
                CREATE TRIGGER host_counted AFTER INSERT ON host BEGIN
                  INSERT INTO segmentHostCount (segment, hosts) VALUES (NEW.segment, 1)
                    ON CONFLICT(segment) DO UPDATE SET hosts = hosts + 1;
                END;
                CREATE TRIGGER host_uncounted AFTER DELETE ON host BEGIN
                  UPDATE segmentHostCount SET hosts = hosts - 1 WHERE segment = OLD.segment;
                END;
                CREATE TRIGGER host_moved AFTER UPDATE OF segment ON host WHEN NEW.segment <> OLD.segment BEGIN
                  UPDATE segmentHostCount SET hosts = hosts - 1 WHERE segment = OLD.segment;
                  INSERT INTO segmentHostCount (segment, hosts) VALUES (NEW.segment, 1)
                    ON CONFLICT(segment) DO UPDATE SET hosts = hosts + 1;
                END;
                CREATE INDEX agent_by_last_seen ON agent(lastSeenAt, id);
                """)
        }
        return migrator
    }
}
