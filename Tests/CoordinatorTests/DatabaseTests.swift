@testable import CordonCoordinator
import CordonShared
import Foundation
import Synchronization
import Testing

@Suite struct EnrollmentStorageTests {
    let db = try! CoordinatorDatabase.inMemory()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func cert(_ serial: String = UUID().uuidString) -> IssuedCertificate {
        IssuedCertificate(serial: serial, notAfter: t0.addingTimeInterval(86400), pem: "PEM")
    }

    @Test func aTokenEnrollsOnceAndIsStoredHashed() throws {
        let token = try db.createToken(segment: "dmz", ttl: 3600, uses: 1, actor: "operator:alice", now: t0)
        #expect(token.token.hasPrefix("ct_"))
        let stored = try db.read { try EnrollmentTokenRecord.fetchAll($0) }
        #expect(stored.count == 1)
        #expect(stored[0].hash != token.token && !stored[0].hash.contains(token.token.dropFirst(3)))

        var issuedFor: [(String, String)] = []
        let first = try db.enroll(token: token.token, hostname: "jump-1", agentVersion: "0.1.0", now: t0) { id, segment in
            issuedFor.append((id, segment))
            return cert()
        }
        guard case .enrolled(let agentID, let segment, _) = first else { Issue.record("not enrolled: \(first)"); return }
        #expect(segment == "dmz")
        #expect(issuedFor.map(\.0) == [agentID])

        let second = try db.enroll(token: token.token, hostname: "jump-2", agentVersion: "0.1.0", now: t0) { _, _ in cert() }
        guard case .refused(.exhausted) = second else { Issue.record("reuse not refused: \(second)"); return }
        #expect(try db.agentSummaries(now: t0).count == 1)
    }

    @Test func expiredAndUnknownTokensAreRefusedAndChangeNothing() throws {
        let token = try db.createToken(segment: "dmz", ttl: 60, uses: 5, actor: "t", now: t0)
        let late = try db.enroll(token: token.token, hostname: "h", agentVersion: "v", now: t0.addingTimeInterval(61)) { _, _ in cert() }
        guard case .refused(.expired) = late else { Issue.record("expired token accepted"); return }
        let unknown = try db.enroll(token: "ct_nope", hostname: "h", agentVersion: "v", now: t0) { _, _ in cert() }
        guard case .refused(.unknown) = unknown else { Issue.record("unknown token accepted"); return }
        #expect(try db.agentSummaries(now: t0).isEmpty)
        #expect(try db.read { try EnrollmentTokenRecord.fetchOne($0)?.usesLeft } == 5)
    }

    @Test func aFailedSigningLeavesTheTokenUnused() throws {
        let token = try db.createToken(segment: "dmz", ttl: 60, uses: 1, actor: "t", now: t0)
        #expect(throws: CordonError.self) {
            _ = try db.enroll(token: token.token, hostname: "h", agentVersion: "v", now: t0) { _, _ in throw CordonError.invalidSignature("bad csr") }
        }
        let retry = try db.enroll(token: token.token, hostname: "h", agentVersion: "v", now: t0) { _, _ in cert() }
        guard case .enrolled = retry else { Issue.record("token was consumed by a failed enrollment"); return }
    }

    @Test func tokenLimitsAreChecked() {
        #expect(throws: CoordinatorError.token) { try db.createToken(segment: "dmz", ttl: 0, uses: 1, actor: "t") }
        #expect(throws: CoordinatorError.token) { try db.createToken(segment: "dmz", ttl: 60, uses: 0, actor: "t") }
        #expect(throws: CordonError.invalidArgument) { try db.createToken(segment: "no spaces", ttl: 60, uses: 1, actor: "t") }
    }

    @Test func revocationIsCheckedPerCertificateAndPerAgent() throws {
        let token = try db.createToken(segment: "dmz", ttl: 60, uses: 1, actor: "t", now: t0)
        let outcome = try db.enroll(token: token.token, hostname: "h", agentVersion: "v", now: t0) { _, _ in cert("serial-1") }
        guard case .enrolled(let agentID, _, _) = outcome else { Issue.record("not enrolled"); return }
        let identity = CordonIdentity(role: .agent, id: agentID, segment: "dmz")
        #expect(try db.access(serial: "serial-1", identity: identity) == .allowed)
        // The serial must belong to that subject and role.
        #expect(try db.access(serial: "serial-1", identity: .init(role: .operator, id: agentID)) == .unknownCertificate)
        #expect(try db.access(serial: "serial-2", identity: identity) == .unknownCertificate)
        try db.recordRenewal(agentID: agentID, certificate: cert("serial-2"), now: t0)
        #expect(try db.access(serial: "serial-2", identity: identity) == .allowed)

        let revoked = try db.revokeAgent(id: agentID, actor: "operator:alice", now: t0)
        #expect(!revoked.alreadyRevoked)
        #expect(try db.access(serial: "serial-1", identity: identity) == .revoked)
        #expect(try db.access(serial: "serial-2", identity: identity) == .revoked)
        #expect(try db.revokeAgent(id: agentID, actor: "operator:alice", now: t0).alreadyRevoked)
        #expect(throws: CoordinatorError.notFound) { try db.revokeAgent(id: "agt-missing", actor: "x") }
        #expect(try db.fleetStatus(now: t0).agents.first?.state == .revoked)
    }

    @Test func operatorsAreUniqueAndRevocable() throws {
        try db.addOperator(name: "alice", certificate: cert("op-1"), actor: "local:root", now: t0)
        #expect(throws: CoordinatorError.conflict) { try db.addOperator(name: "alice", certificate: cert("op-2"), actor: "local:root") }
        let alice = CordonIdentity(role: .operator, id: "alice")
        #expect(try db.access(serial: "op-1", identity: alice) == .allowed)
        #expect(try db.revokeOperator(name: "alice", actor: "local:root"))
        #expect(try db.access(serial: "op-1", identity: alice) == .revoked)
        #expect(try !db.revokeOperator(name: "alice", actor: "local:root"))
    }

    @Test func everyOperatorActionIsAudited() throws {
        let token = try db.createToken(segment: "dmz", ttl: 60, uses: 1, actor: "operator:alice", now: t0)
        guard case .enrolled(let agentID, _, _) = try db.enroll(token: token.token, hostname: "h", agentVersion: "v", now: t0, issue: { _, _ in cert() })
        else { Issue.record("not enrolled"); return }
        _ = try db.revokeAgent(id: agentID, actor: "operator:bob", now: t0)
        let entries = try db.auditEntries()
        #expect(entries.map(\.action) == ["token.create", "agent.enroll", "agent.revoke"])
        #expect(entries.map(\.actor) == ["operator:alice", "agent:\(agentID)", "operator:bob"])
        #expect(!entries[0].detail.contains(token.token), "the token secret is never logged")
    }
}

@Suite struct ReportStorageTests {
    let db = try! CoordinatorDatabase.inMemory()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let facts = AgentFacts(hostname: "jump", osRelease: "Debian 12", kernel: "6.1", agentVersion: "0.1.0", uptimeSeconds: 5, addresses: [])

    func enrolledAgent(segment: String = "dmz") throws -> String {
        let token = try db.createToken(segment: segment, ttl: 60, uses: 1, actor: "t", now: t0)
        guard case .enrolled(let id, _, _) = try db.enroll(token: token.token, hostname: "h-\(segment)", agentVersion: "v", now: t0, issue: { _, _ in
            IssuedCertificate(serial: UUID().uuidString, notAfter: t0.addingTimeInterval(3600), pem: "") })
        else { throw CoordinatorError.token("no") }
        return id
    }

    @Test func aReportDeliveredTwiceIsStoredOnce() throws {
        let agent = try enrolledAgent()
        let report = AgentReport(createdAt: t0, spoolDropped: 2, facts: Self.facts)
        let body = try CordonJSON.encode(report)
        #expect(try db.ingest(report: report, body: body, agentID: agent, now: t0).duplicate == false)
        #expect(try db.ingest(report: report, body: body, agentID: agent, now: t0).duplicate == true)
        #expect(try db.reportCount(agentID: agent) == 1)
        #expect(try db.agentDetail(id: agent, now: t0)?.agent.spoolDroppedTotal == 2, "drops are counted once per report")
        #expect(try db.agentDetail(id: agent, now: t0)?.facts == Self.facts)
    }

    @Test func anotherAgentCannotReuseAReportID() throws {
        let a = try enrolledAgent(segment: "a"), b = try enrolledAgent(segment: "b")
        let report = AgentReport(createdAt: t0, facts: Self.facts)
        _ = try db.ingest(report: report, body: try CordonJSON.encode(report), agentID: a, now: t0)
        #expect(throws: CoordinatorError.conflict) { try db.ingest(report: report, body: Data(), agentID: b, now: t0) }
        #expect(try db.reportCount(agentID: b) == 0)
    }

    @Test func statesFollowLastContactAgainstTheInterval() throws {
        let agent = try enrolledAgent()
        try db.recordHeartbeat(agentID: agent, heartbeat: Heartbeat(sentAt: t0, agentVersion: "v", heartbeatInterval: 10, reportInterval: 60, spoolDepth: 3, spoolDropped: 0), now: t0)
        func state(after seconds: Double) throws -> AgentState? { try db.fleetStatus(now: t0.addingTimeInterval(seconds)).agents.first?.state }
        #expect(try state(after: 5) == .online)
        #expect(try state(after: 24) == .online)
        #expect(try state(after: 40) == .late)
        #expect(try state(after: 66) == .offline)
        let status = try db.fleetStatus(now: t0)
        #expect(status.segments.map(\.name) == ["dmz"])
        #expect(status.segments[0].count(.online) == 1)
        #expect(status.agents[0].spoolDepth == 3)
    }

    @Test func statusGroupsBySegmentAndCountsDrops() throws {
        let a = try enrolledAgent(segment: "office"), b = try enrolledAgent(segment: "dmz"), c = try enrolledAgent(segment: "dmz")
        for (agent, dropped) in [(a, 1), (b, 4), (c, 0)] {
            let report = AgentReport(createdAt: t0, spoolDropped: dropped, facts: Self.facts)
            _ = try db.ingest(report: report, body: try CordonJSON.encode(report), agentID: agent, now: t0)
        }
        let status = try db.fleetStatus(now: t0)
        #expect(status.segments.map(\.name) == ["dmz", "office"])
        #expect(status.segments.map(\.spoolDropped) == [4, 1])
        #expect(status.segments[0].count(.online) == 2)
        #expect(status.segments[0].lastReportAt == t0)
    }
}

@Suite struct StateDirTests {
    @Test func initCreatesPrivateKeysAndRefusesToRunTwice() throws {
        let dir = NSTemporaryDirectory() + "cordon-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stateDir = CoordinatorStateDir(dir)
        let result = try stateDir.initialize(name: "cordon.test", extraNames: ["198.18.0.1", "cordon.test"])
        #expect(result.serverNames == ["cordon.test", "198.18.0.1"])
        for key in [stateDir.caKey, stateDir.serverKey, stateDir.taskSigningKey, stateDir.escrowKey] {
            #expect(SecureFile.mode(of: key) == 0o600, "\(key)")
        }
        #expect(SecureFile.mode(of: dir) == 0o700)
        #expect(try stateDir.loadCA().fingerprint == result.caFingerprint)
        _ = try stateDir.loadTaskSigningKey()
        _ = try stateDir.loadEscrowKey()
        let before = try SecureFile.read(stateDir.caKey)
        #expect(throws: CoordinatorError.stateDir) { try stateDir.initialize(name: "other", extraNames: []) }
        #expect(try SecureFile.read(stateDir.caKey) == before, "a second init changes nothing")
    }

    @Test func uninitializedDirectoryIsAClearError() {
        do {
            _ = try CoordinatorStateDir("/nonexistent/cordon").loadCA()
            Issue.record("loaded a CA from nowhere")
        } catch let error as CoordinatorError {
            #expect(error.reason.contains("cordon init"))
        } catch { Issue.record("\(error)") }
    }
}

@Suite struct ConfigTests {
    @Test func defaultsAndOverrides() throws {
        let path = NSTemporaryDirectory() + "coord-\(UUID().uuidString).yaml"
        try "stateDir: /tmp/x\nlisten:\n  port: 9443\nmaxBodySize: 1MiB\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let config = try CoordinatorConfig.load(path: path)
        #expect(config.listen.port == 9443)
        #expect(config.listen.host == "0.0.0.0")
        #expect(config.maxBodySize.bytes == 1 << 20)
        #expect(config.agentCertificateLifetime.seconds == 30 * 86400)
        #expect(config.metricsListen == nil, "no plain-HTTP metrics listener unless asked for")
    }

    @Test func theMetricsListenerBindsLoopbackUnlessTold() throws {
        let path = NSTemporaryDirectory() + "coord-\(UUID().uuidString).yaml"
        defer { unlink(path) }
        try "metricsListen:\n  port: 9469\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CoordinatorConfig.load(path: path).metricsListen == .init(host: "127.0.0.1", port: 9469))
        try "metricsListen:\n  host: 198.18.0.1\n  port: 9469\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CoordinatorConfig.load(path: path).metricsListen == .init(host: "198.18.0.1", port: 9469))
        let serve = try ServeCommand.parse(["--state-dir", "/tmp/x", "--metrics-port", "9470"])
        #expect(try serve.resolvedConfig().metricsListen == .init(host: "127.0.0.1", port: 9470))
        #expect(throws: (any Error).self) { try ServeCommand.parse(["--state-dir", "/tmp/x", "--metrics-host", "0.0.0.0"]) }
    }

    @Test func badConfigsAreRefused() throws {
        for yaml in ["listen:\n  port: 70000\n", "maxBodySize: 12\n", "stateDir: /x\nport: 1\n", "agentCertificateLifetime: 1s\n",
                     "metricsListen:\n  host: 127.0.0.1\n", "metricsListen:\n  port: 70000\n", "listen:\n  port: 9000\nmetricsListen:\n  host: 0.0.0.0\n  port: 9000\n"] {
            let path = NSTemporaryDirectory() + "coord-\(UUID().uuidString).yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            defer { unlink(path) }
            #expect(throws: CordonError.invalidArgument, "\(yaml)") { try CoordinatorConfig.load(path: path) }
        }
    }
}

@Suite struct SegmentStorageTests {
    @Test func scopesAreRecordedNormalizedAndAudited() throws {
        let db = try CoordinatorDatabase.inMemory()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try db.testAgent(segment: "lan", at: t0)
        let view = try db.setSegmentScope(name: "dmz", scope: ["198.18.1.7/24", "198.18.9.9"], actor: "operator:alice", now: t0)
        #expect(view.scope == ["198.18.1.0/24", "198.18.9.9/32"])
        #expect(try db.segmentScope(name: "dmz") == ["198.18.1.0/24", "198.18.9.9/32"])
        #expect(try db.segmentScope(name: "lan") == nil)
        #expect(try db.segments().map(\.name) == ["dmz", "lan"])
        #expect(throws: CordonError.invalidArgument) { try db.setSegmentScope(name: "dmz", scope: ["nonsense"], actor: "x") }
        #expect(throws: CordonError.invalidArgument) { try db.setSegmentScope(name: "dmz", scope: [], actor: "x") }
        #expect(try db.auditEntries().last?.action == "segment.scope")
    }
}

@Suite struct ConcurrentOpenTests {
    /// `cordon serve` and `cordon operators add` opening a new database at once: both succeed.
    /// Both switch a new file to WAL mode, which SQLite refuses at once (no busy wait) to the
    /// second of two connections that hold a shared lock; several rounds make the race likely.
    @Test func manyOpenersOfANewDatabaseAllSucceed() async throws {
        let dir = NSTemporaryDirectory() + "cordon-db-\(UUID().uuidString)"
        try SecureFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var path = ""
        for round in 0..<20 {
            path = dir + "/cordon-\(round).db"
            let database = path
            let start = DispatchTime.now().uptimeNanoseconds + 50_000_000  // all threads go at once
            let results = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        await withCheckedContinuation { continuation in
                            Thread.detachNewThread {
                                while DispatchTime.now().uptimeNanoseconds < start {}
                                do {
                                    _ = try CoordinatorDatabase.open(path: database)
                                    continuation.resume(returning: nil)
                                } catch { continuation.resume(returning: "\(error)") }
                            }
                        }
                    }
                }
                var errors: [String] = []
                for await result in group { if let result { errors.append(result) } }
                return errors
            }
            #expect(results.isEmpty, "round \(round): \(results)")
            if !results.isEmpty { break }
        }
        #expect(try CoordinatorDatabase.open(path: path).auditEntries().isEmpty)
    }

    /// Another process (an operator's sqlite3 shell; here Python's sqlite3) holding a write
    /// transaction on the new file when `open` switches it to WAL mode: SQLite refuses that at
    /// once, without the busy wait. `open` must wait its turn and succeed, not fail with
    /// "database is locked".
    @Test func openWaitsOutAnotherProcessWritingTheNewFile() async throws {
        let python = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "python3 is needed for this test (scripts/setup installs it)")
        let dir = NSTemporaryDirectory() + "cordon-db-\(UUID().uuidString)"
        try SecureFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cordon.db", ready = dir + "/ready"
        let script = """
            import signal, sqlite3, sys, time
            signal.alarm(90)
            connection = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("CREATE TABLE operatorNotes (note TEXT)")
            open(sys.argv[2], "w").close()
            time.sleep(3)
            connection.execute("COMMIT")
            """
        let competitor = Process()
        competitor.executableURL = URL(fileURLWithPath: python)
        competitor.arguments = ["-c", script, path, ready]
        try competitor.run()
        defer { if competitor.isRunning { competitor.terminate() } }
        // Generous: on a loaded machine the interpreter alone has taken 17 s to start. The wait
        // for it and the open run on a thread of their own: a task on the busy cooperative pool
        // could resume after the competitor had already let go, and prove nothing.
        let deadline = Date() + 90
        let (sawReady, waited, database) = try await withCheckedThrowingContinuation {
            (done: CheckedContinuation<(Bool, TimeInterval, CoordinatorDatabase), any Error>) in
            DispatchQueue.global().async {
                while !FileManager.default.fileExists(atPath: ready) && competitor.isRunning && Date() < deadline { usleep(5_000) }
                let sawReady = FileManager.default.fileExists(atPath: ready)
                let started = Date()
                done.resume(with: Result { (sawReady, 0, try CoordinatorDatabase.open(path: path)) }.map { ($0.0, Date().timeIntervalSince(started), $0.2) })
            }
        }
        try #require(sawReady, "the competing writer did not start")
        #expect(waited > 0.5, "open should have waited for the other writer")
        #expect(try database.auditEntries().isEmpty)
        while competitor.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(competitor.terminationStatus == 0)
    }
}

@Suite struct FleetMetricsTests {
    /// `/metrics` counts agents by state in SQL; the fleet views judge each agent in Swift. The
    /// two must agree, also at the thresholds' edges.
    @Test func theAgentStatesInSQLAgreeWithTheFleetViews() throws {
        let database = try CoordinatorDatabase.inMemory()
        let now = Date(timeIntervalSince1970: 1_800_000_000.25)
        var generator = SystemRandomNumberGenerator()
        var records: [AgentRecord] = []
        for i in 0..<400 {
            let interval = [1.0, 30, 60, 300].randomElement(using: &generator)!
            // Ages a millisecond either side of each threshold (2i+5 and 6i+5), and anywhere.
            let edges = [2 * interval + 5, 6 * interval + 5]
            let age = i % 3 == 0 ? (Double.random(in: 0...(10 * interval), using: &generator) * 1000).rounded() / 1000
                : edges.randomElement(using: &generator)! + [-0.001, 0.001].randomElement(using: &generator)!
            records.append(AgentRecord(id: "a\(i)", segment: "s", hostname: "h", agentVersion: "v", enrolledAt: now, tokenID: "t",
                                       certificateNotAfter: now, lastSeenAt: i % 17 == 0 ? nil : now.addingTimeInterval(-age),
                                       lastReportAt: nil, heartbeatInterval: interval, reportInterval: 300, spoolDepth: 0,
                                       spoolDroppedTotal: 0, revokedAt: i % 23 == 0 ? now : nil, factsJSON: nil))
        }
        try database.write { db in for r in records { try r.insert(db) } }
        // What went in is what reads back (dates are stored to the millisecond).
        let stored = try database.read { db in try AgentRecord.fetchAll(db) }
        var expected: [AgentState: Int] = [:]
        for r in stored { expected[CoordinatorDatabase.state(of: r, now: now), default: 0] += 1 }
        #expect(try database.metricsSnapshot(now: now).agentsByState == expected)
        #expect(expected.count == 4, "every state occurs: \(expected)")
    }

    @Test func theWriterQueueCountsWritesInFlightAndReturnsToZero() throws {
        let database = try CoordinatorDatabase.inMemory()
        // The held write runs on a thread of its own, not the cooperative pool's two.
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? database.write { _ in
                entered.signal()
                _ = release.wait(timeout: .now() + 30)
            }
            finished.signal()
        }
        #expect(entered.wait(timeout: .now() + 30) == .success)
        #expect(database.writersQueued == 1)
        release.signal()
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(database.writersQueued == 0)
        #expect(throws: (any Error).self) { try database.write { db in try db.execute(sql: "SELECT * FROM nowhere") } }
        #expect(database.writersQueued == 0, "a failed write leaves the queue too")
    }
}
