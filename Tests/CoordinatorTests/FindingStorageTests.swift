@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

@Suite struct ScanStorageTests {
    let db = try! CoordinatorDatabase.inMemory()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static let smb = ServiceObservation(port: 445, proto: .tcp, state: .open, reason: .connected, service: "microsoft-ds", product: "Samba smbd")
    static let smbv1 = FindingObservation(detectionID: DetectionCatalogue.wannacrySMBv1, port: 445, proto: .tcp, evidence: "NT LM 0.12 accepted")
    static let p2p = FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 3456, proto: .tcp, evidence: "valid reply")

    /// A row that no longer reads back (a date in the year 10000, stored by an older version or
    /// by hand) is left out of the views instead of failing them for every operator.
    @Test func aRowThatCannotBeReadIsLeftOutOfTheViews() throws {
        let good = try db.testAgent(at: t0), bad = try db.testAgent(at: t0)
        try db.testReport(agent: good, at: t0, scan: Make.scan(at: t0, hosts: [
            Make.host("198.18.1.10", findings: [Self.smbv1], services: [Self.smb]),
            Make.host("198.18.1.11", findings: [Self.p2p]),
        ]))
        let broken = "10000-01-01 00:00:00.000"
        try db.writer.write { db in
            try db.execute(sql: "UPDATE agent SET lastReportAt = ? WHERE id = ?", arguments: [broken, bad])
            try db.execute(sql: "UPDATE host SET lastSeen = ? WHERE address = '198.18.1.11'", arguments: [broken])
            try db.execute(sql: "UPDATE finding SET firstSeen = ? WHERE address = '198.18.1.11'", arguments: [broken])
            try db.execute(sql: "UPDATE scan SET finishedAt = ?", arguments: [broken])
        }
        #expect(try db.agentSummaries(now: t0).map(\.id) == [good])
        let status = try db.fleetStatus(now: t0)
        // Counted in SQL, the agent is still an enrolled agent; its unreadable report time does
        // not hide the good agent's.
        #expect(status.segments.first?.agents.values.reduce(0, +) == 2)
        #expect(status.segments.first?.lastReportAt == t0)
        #expect(status.agents.map(\.id) == [good], "the row that does not read back is left out of the list")
        #expect(status.segments.first?.lastScanAt == nil, "a last-scan time that does not read back is left out")
        #expect(try db.hosts().map(\.address) == ["198.18.1.10"])
        #expect(try db.findings().map(\.address) == ["198.18.1.10"])
    }

    /// An agent may only record hosts of its own segment: with a recorded scope, hosts outside
    /// it (another segment's range, a public address, not an address at all) are not stored,
    /// carry no findings and are not counted; the audit log names them. Finding ports outside
    /// 0-65535 are dropped.
    @Test func hostsOutsideTheSegmentsScopeAreNotTheSegments() throws {
        let agent = try db.testAgent(at: t0)
        _ = try db.setSegmentScope(name: "dmz", scope: ["198.18.1.0/24"], actor: "operator:alice", now: t0)
        let badPort = FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 70_000, proto: .tcp, evidence: "valid reply")
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [
            Make.host("198.18.1.10", findings: [Self.smbv1, badPort], services: [Self.smb]),
            Make.host("198.18.2.10", findings: [Self.p2p]),
            Make.host("8.8.8.8", findings: [Self.p2p]),
            Make.host("not-an-address\u{1b}[31m", findings: [Self.p2p]),
        ]))
        #expect(try db.hosts().map(\.address) == ["198.18.1.10"])
        let findings = try db.findings()
        #expect(findings.map(\.detectionID) == [DetectionCatalogue.wannacrySMBv1], "no finding from outside the scope, none on port 70000")
        #expect(try db.fleetStatus(now: t0).segments.first?.hostsUp == 1)
        let note = try #require(try db.auditEntries().first { $0.action == "scan.out-of-scope" })
        #expect(note.detail.contains("3 host(s) outside the segment's scope"))
        #expect(note.detail.contains("198.18.2.10") && note.detail.contains("8.8.8.8"))
        #expect(!note.detail.contains("\u{1b}"), "what the agent sent is sanitized")

        // Without a recorded scope (before `cordon segments set`), every valid address is taken.
        let other = try db.testAgent(segment: "lan", at: t0)
        try db.testReport(agent: other, at: t0, scan: Make.scan(at: t0, hosts: [Make.host("198.18.2.10", findings: [])]))
        #expect(try db.hosts(segment: "lan").map(\.address) == ["198.18.2.10"])
    }

    @Test func aScanStoresHostsServicesAndFindings() throws {
        let agent = try db.testAgent(at: t0)
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [
            Make.host("198.18.1.10", findings: [Self.smbv1, Self.p2p], services: [Self.smb]),
            Make.host("198.18.1.11", findings: []),
        ]))
        let hosts = try db.hosts()
        #expect(hosts.map(\.address) == ["198.18.1.10", "198.18.1.11"])
        #expect(hosts[0].services.map(\.observation) == [Self.smb])
        #expect(hosts[0].exposedTo == [.conficker, .wannacry])
        #expect(hosts[0].infectedBy == [.conficker])
        #expect(try db.hosts(exposedTo: .wannacry).map(\.address) == ["198.18.1.10"])
        #expect(try db.hosts(segment: "other").isEmpty)

        let findings = try db.findings(FindingFilter(worm: .conficker, kind: .ioc))
        #expect(findings.count == 1)
        #expect(findings[0].address == "198.18.1.10")
        #expect(findings[0].hostName == "HOST-10")
        #expect(findings[0].references.contains("MS08-067"))
        #expect(findings[0].firstSeen == t0)

        let status = try db.fleetStatus(now: t0)
        let dmz = try #require(status.segments.first)
        #expect(dmz.hostsUp == 2)
        #expect(dmz.lastScanAt == t0)
        #expect(dmz.worms.contains(WormCount(worm: .conficker, exposedHosts: 1, infectedHosts: 1)))
        #expect(dmz.worms.contains(WormCount(worm: .wannacry, exposedHosts: 1, infectedHosts: 0)))
    }

    /// What the views show of a database, without the IDs that differ between databases.
    static func fingerprint(_ db: CoordinatorDatabase) throws -> [String] {
        try db.hosts().map { "\($0.address) \($0.services.map(\.observation.port)) \($0.exposedTo) \($0.infectedBy)" }
            + db.findings(FindingFilter(status: nil)).map { "\($0.address ?? "-") \($0.detectionID) \($0.firstSeen) \($0.lastSeen) \(String(describing: $0.resolvedAt))" }
    }

    /// A scan's hosts are recorded in transactions of bounded time, before the report
    /// row: the result is the same as one transaction gives, a report resent after the
    /// coordinator died part way through changes nothing, and a redelivery is a duplicate.
    @Test func aLargeScanIsRecordedInBoundedTransactionsWithTheSameResult() throws {
        let hosts = (0..<600).map { i in
            Make.host("198.18.\(1 + i / 250).\(i % 250 + 1)", findings: i % 3 == 0 ? [Self.smbv1] : (i % 7 == 0 ? [Self.p2p] : []),
                      services: i % 2 == 0 ? [Self.smb] : [])
        }
        let report = AgentReport(createdAt: t0, facts: Make.facts, scan: Make.scan(at: t0, hosts: hosts))
        let body = try CordonJSON.encode(report)

        let whole = try CoordinatorDatabase.inMemory()
        _ = try whole.ingest(report: report, body: body, agentID: try whole.testAgent(at: t0), now: t0, scanTransactionTime: .seconds(3600))
        let chunked = try CoordinatorDatabase.inMemory()
        let agent = try chunked.testAgent(at: t0)
        #expect(try chunked.ingest(report: report, body: body, agentID: agent, now: t0, scanTransactionTime: .zero).duplicate == false)
        #expect(try Self.fingerprint(chunked) == Self.fingerprint(whole))
        #expect(try chunked.hosts().count == 600)
        #expect(try chunked.fleetStatus(now: t0).segments.first?.hostsUp == 600)
        #expect(try chunked.ingest(report: report, body: body, agentID: agent, now: t0, scanTransactionTime: .zero).duplicate == true)
        #expect(try chunked.reportCount() == 1)

        // Killed after the first 101 hosts: no report row, so no acknowledgement; the agent sends
        // the report again and the result is what one clean ingest gives.
        let interrupted = try CoordinatorDatabase.inMemory()
        let other = try interrupted.testAgent(at: t0)
        for range in [0..<1, 1..<100] {
            let next = try interrupted.write { db in try CoordinatorDatabase.ingestScanHosts(db, hosts[range], segment: "dmz", agentID: other, at: t0) }
            #expect(next == range.upperBound)
        }
        // With a deadline already past, one host per transaction.
        #expect(try interrupted.write { db in
            try CoordinatorDatabase.ingestScanHosts(db, hosts[100...], segment: "dmz", agentID: other, at: t0, until: .now)
        } == 101)
        #expect(try interrupted.reportCount() == 0)
        #expect(try interrupted.ingest(report: report, body: body, agentID: other, now: t0, scanTransactionTime: .zero).duplicate == false)
        #expect(try Self.fingerprint(interrupted) == Self.fingerprint(whole))
    }

    @Test func aLaterCompleteScanResolvesWhatItNoLongerShows() throws {
        let agent = try db.testAgent(at: t0)
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [Make.host("198.18.1.10", findings: [Self.smbv1, Self.p2p], services: [Self.smb])]))
        let t1 = t0.addingTimeInterval(3600)
        // An incomplete look at the host (probes cut short) resolves nothing.
        try db.testReport(agent: agent, at: t1, scan: Make.scan(at: t1, hosts: [Make.host("198.18.1.10", findings: [Self.smbv1], complete: false)], complete: false))
        #expect(try db.findings().count == 2)
        #expect(try db.hosts()[0].services.count == 1, "an incomplete look does not drop services")

        let t2 = t1.addingTimeInterval(3600)
        try db.testReport(agent: agent, at: t2, scan: Make.scan(at: t2, hosts: [Make.host("198.18.1.10", findings: [Self.smbv1], services: [Self.smb])]))
        let open = try db.findings()
        #expect(open.map(\.detectionID) == [DetectionCatalogue.wannacrySMBv1])
        #expect(open[0].lastSeen == t2)
        #expect(open[0].firstSeen == t0)
        let resolved = try db.findings(FindingFilter(status: .resolved))
        #expect(resolved.map(\.detectionID) == [DetectionCatalogue.confickerP2P])
        #expect(resolved[0].resolvedAt == t2)

        // It comes back: reopened, same finding.
        let t3 = t2.addingTimeInterval(3600)
        try db.testReport(agent: agent, at: t3, scan: Make.scan(at: t3, hosts: [Make.host("198.18.1.10", findings: [Self.smbv1, Self.p2p])]))
        #expect(try db.findings().count == 2)
        #expect(try db.findings(FindingFilter(status: nil)).count == 2)
        #expect(try db.hosts()[0].services.isEmpty, "a complete scan drops services the host no longer offers")
    }

    @Test func aLateSpooledScanDoesNotOverwriteNewerKnowledge() throws {
        let agent = try db.testAgent(at: t0)
        let t1 = t0.addingTimeInterval(3600)
        try db.testReport(agent: agent, at: t1, scan: Make.scan(at: t1, hosts: [Make.host("198.18.1.10", findings: [Self.smbv1])]))
        try db.testReport(agent: agent, at: t1.addingTimeInterval(1), scan: Make.scan(at: t0, hosts: [Make.host("198.18.1.10", findings: [Self.p2p])]))
        #expect(try db.findings().map(\.detectionID) == [DetectionCatalogue.wannacrySMBv1])
        #expect(try db.hosts()[0].lastSeen == t1)
    }

    @Test func unknownDetectionsAndHostileStringsAreContained() throws {
        let agent = try db.testAgent(at: t0)
        let weird = FindingObservation(detectionID: "made.up", evidence: "x")
        let hostile = FindingObservation(detectionID: DetectionCatalogue.blasterShell, port: 4444, proto: .tcp,
                                         evidence: "Microsoft Windows\u{1B}[2J\u{07}" + String(repeating: "A", count: 5000))
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [
            Make.host("198.18.1.10", findings: [weird, hostile]), Make.host("not-an-address", findings: [hostile]),
        ]))
        let findings = try db.findings()
        #expect(findings.map(\.detectionID) == [DetectionCatalogue.blasterShell])
        #expect(!findings[0].evidence.contains("\u{1B}"))
        #expect(findings[0].evidence.count <= FindingObservation.maxEvidence + 1)
        #expect(try db.hosts().map(\.address) == ["198.18.1.10"])
    }
}

@Suite struct InventoryStorageTests {
    let db = try! CoordinatorDatabase.inMemory()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theFirstInventoryIsTheBaselineAndLaterOnesRecordChanges() throws {
        let agent = try db.testAgent(at: t0)
        try db.testReport(agent: agent, at: t0, inventory: Make.inventory(at: t0, tasks: [Make.task("cron:a")]))
        #expect(try db.findings(FindingFilter(source: .inventory)).isEmpty, "the baseline's own tasks are not new")
        #expect(try db.inventory(agentID: agent)?.baselineAt == t0)

        let t1 = t0.addingTimeInterval(900)
        try db.testReport(agent: agent, at: t1, inventory: Make.inventory(at: t1, accounts: [Make.account("root", uid: 0), Make.account("toor", uid: 0)],
                                                                          tasks: [Make.task("cron:a"), Make.task("cron:evil", command: "/dev/shm/x", suspicious: ["/dev/shm/x"])]))
        let findings = try db.findings(FindingFilter(source: .inventory)).map { "\($0.detectionID) \($0.item)" }.sorted()
        #expect(findings == ["jumphost.new-scheduled-task task:cron:evil", "jumphost.task-writable-path task:cron:evil", "jumphost.unexpected-uid0 account:toor"])
        let changes = try db.changes().map { "\($0.kind.rawValue) \($0.subject)" }
        #expect(changes.contains("task.added cron:evil"))
        #expect(changes.contains("account.uid0 toor"))
        #expect(try db.changes(since: t1.addingTimeInterval(1)).isEmpty)
        #expect(try db.changes(segment: "elsewhere").isEmpty)

        // The task is removed and toor deleted: both resolve; the status counts jump-host findings.
        let t2 = t1.addingTimeInterval(900)
        try db.testReport(agent: agent, at: t2, inventory: Make.inventory(at: t2, tasks: [Make.task("cron:a")]))
        #expect(try db.findings(FindingFilter(source: .inventory)).isEmpty)
        #expect(try db.findings(FindingFilter(source: .inventory, status: .resolved)).count == 3)
        #expect(try db.changes().map(\.kind).contains(.taskRemoved))
    }

    @Test func anUnreadableSectionDoesNotResolveItsFindings() throws {
        let agent = try db.testAgent(at: t0)
        try db.testReport(agent: agent, at: t0, inventory: Make.inventory(at: t0, firewall: Make.allWormPorts(.notBlocked)))
        #expect(try db.findings().count == 2)
        let t1 = t0.addingTimeInterval(60)
        try db.testReport(agent: agent, at: t1, inventory: Make.inventory(at: t1, firewall: nil))
        #expect(try db.findings().count == 2, "the firewall could not be read: nothing is known to be fixed")
        let status = try db.fleetStatus(now: t1)
        #expect(status.segments.first?.jumpHostFindings[.medium] == 2)
    }

    @Test func anOlderInventoryArrivingLateIsIgnored() throws {
        let agent = try db.testAgent(at: t0)
        let t1 = t0.addingTimeInterval(60)
        try db.testReport(agent: agent, at: t1, inventory: Make.inventory(at: t1, tasks: [Make.task("cron:a")]))
        try db.testReport(agent: agent, at: t1.addingTimeInterval(5), inventory: Make.inventory(at: t0, tasks: []))
        #expect(try db.inventory(agentID: agent)?.inventory.collectedAt == t1)
        #expect(try db.changes().isEmpty)
    }
}
