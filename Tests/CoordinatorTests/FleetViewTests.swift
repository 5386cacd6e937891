@testable import CordonCoordinator
import CordonShared
import Foundation
import GRDB
import Testing

/// The fleet views count in SQL; these hold them to what the findings themselves say.
@Suite struct FleetViewTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Random open and resolved findings, on scanned hosts and on jump hosts, over a few
    /// segments: the per-segment worm counts and jump-host severities of `fleetStatus` equal
    /// those counted one finding at a time from `findings()`.
    @Test func theSegmentCountsEqualWhatTheFindingsSay() throws {
        let db = try CoordinatorDatabase.inMemory()
        var generator = SystemRandomNumberGenerator()
        let segments = ["dmz", "lan", "ot"]
        var agents: [String: String] = [:]
        for s in segments { agents[s] = try db.testAgent(segment: s, at: t0) }
        let detections = DetectionCatalogue.all
        try db.writer.write { d in
            for i in 0..<3000 {
                let segment = segments.randomElement(using: &generator)!
                let detection = detections.randomElement(using: &generator)!
                let address: String? = Int.random(in: 0..<5, using: &generator) == 0 ? nil : "198.18.\(Int.random(in: 0..<2, using: &generator)).\(Int.random(in: 1..<60, using: &generator))"
                var record = FindingRecord(id: nil, segment: segment, subject: address.map { "host:\($0)" } ?? "agent:\(agents[segment]!)", address: address,
                                           agentID: agents[segment]!, detectionID: detection.id, item: "i\(i)", port: nil, proto: nil, evidence: "e",
                                           firstSeen: t0, lastSeen: t0, resolvedAt: Bool.random(using: &generator) ? t0 : nil)
                try record.insert(d)
            }
            // A detection this version does not know (stored by a newer one) counts nowhere.
            var unknown = FindingRecord(id: nil, segment: "dmz", subject: "host:198.18.9.9", address: "198.18.9.9", agentID: agents["dmz"]!,
                                        detectionID: "future.detection", item: "", port: nil, proto: nil, evidence: "e", firstSeen: t0, lastSeen: t0, resolvedAt: nil)
            try unknown.insert(d)
        }
        var exposed: [String: [Worm: Set<String>]] = [:], infected: [String: [Worm: Set<String>]] = [:], jump: [String: [Severity: Int]] = [:]
        for f in try db.findings(FindingFilter(status: .open)) {
            if let a = f.address {
                exposed[f.segment, default: [:]][f.worm, default: []].insert(a)
                if f.kind == .ioc { infected[f.segment, default: [:]][f.worm, default: []].insert(a) }
            } else {
                jump[f.segment, default: [:]][f.severity, default: 0] += 1
            }
        }
        let status = try db.fleetStatus(now: t0)
        #expect(status.segments.map(\.name) == segments)
        for s in status.segments {
            let expected = (exposed[s.name] ?? [:]).keys.sorted().map {
                WormCount(worm: $0, exposedHosts: exposed[s.name]![$0]!.count, infectedHosts: infected[s.name]?[$0]?.count ?? 0)
            }
            #expect(s.worms == expected, "\(s.name)")
            #expect(s.jumpHostFindings == (jump[s.name] ?? [:]), "\(s.name)")
        }
        #expect(status.segments.contains { !$0.worms.isEmpty && !$0.jumpHostFindings.isEmpty }, "the random fleet has both kinds")

        // A limit keeps the most severe, in the order of the whole list.
        for filter in [FindingFilter(status: .open), FindingFilter(worm: .conficker, status: nil), FindingFilter(segment: "lan", status: .resolved)] {
            let all = try db.findings(filter)
            #expect(all.count > 25, "\(filter)")
            #expect(try db.findings(filter, limit: 25).map(\.id) == all.prefix(25).map(\.id), "\(filter)")
            #expect(try db.findings(filter, limit: all.count + 5).count == all.count)
        }
    }

    /// `agents=attention` lists late and offline agents, longest silent first, at most `limit`,
    /// and says how many more there are; online and revoked agents are counted, not listed.
    @Test func theAttentionListHoldsTheSilentAgentsOnly() throws {
        let db = try CoordinatorDatabase.inMemory()
        let online = try db.testAgent(segment: "dmz", at: t0)
        try db.writer.write { try $0.execute(sql: "UPDATE agent SET lastSeenAt = ? WHERE id = ?", arguments: [t0, online]) }
        var silent: [String] = []
        for minutes in [5, 60, 30] {
            let id = try db.testAgent(segment: "lan", at: t0)
            try db.writer.write { try $0.execute(sql: "UPDATE agent SET lastSeenAt = ? WHERE id = ?", arguments: [t0.addingTimeInterval(-Double(minutes) * 60), id]) }
            silent.append(id)
        }
        let revoked = try db.testAgent(segment: "lan", at: t0)
        _ = try db.revokeAgent(id: revoked, actor: "operator:alice", now: t0)
        try db.writer.write { try $0.execute(sql: "UPDATE agent SET lastSeenAt = ? WHERE id = ?", arguments: [t0.addingTimeInterval(-86400), revoked]) }

        let all = try db.fleetStatus(now: t0)
        #expect(all.attentionOmitted == nil)
        #expect(Set(all.agents.map(\.id)) == Set([online, revoked] + silent))

        let attention = try db.fleetStatus(now: t0, agents: .attention(limit: 2))
        #expect(attention.agents.map(\.id) == [silent[1], silent[2]], "60 and 30 minutes silent, the longest first")
        #expect(attention.attentionOmitted == 1)
        #expect(attention.segments == all.segments, "the counts do not depend on the listing")
        #expect(attention.segments.first { $0.name == "lan" }?.agents == [.offline: 3, .revoked: 1])
        #expect(try db.fleetStatus(now: t0, agents: .attention(limit: 0)).attentionOmitted == 3)

        // The text view says what was left out, and says so when nothing needs a look.
        let text = FleetViews.status(attention, now: t0)
        #expect(text.contains("Late and offline agents") && text.contains("and 1 more late or offline"))
        #expect(!text.contains(online))
        let quietDB = try CoordinatorDatabase.inMemory()
        let lone = try quietDB.testAgent(segment: "dmz", at: t0)
        try quietDB.writer.write { try $0.execute(sql: "UPDATE agent SET lastSeenAt = ? WHERE id = ?", arguments: [t0, lone]) }
        let quiet = try quietDB.fleetStatus(now: t0, agents: .attention(limit: 10))
        #expect(quiet.agents.isEmpty && quiet.attentionOmitted == 0)
        #expect(FleetViews.status(quiet, now: t0).contains("Every agent is online"))
    }
}

@Suite struct SegmentHostCountTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Hosts per segment are kept by triggers: they match a count of the rows after scans that
    /// add hosts and scans that see the same hosts again, and a database from before the
    /// triggers gets its counts from its rows.
    @Test func theHostCountsKeptByTriggersMatchTheRows() throws {
        let queue = try DatabaseQueue()
        try CoordinatorDatabase.migrator.migrate(queue, upTo: "v6-report-retention")
        try queue.write { d in
            for i in 1...7 {
                try d.execute(sql: """
                    INSERT INTO host (segment, address, agentID, reason, firstSeen, lastSeen) VALUES ('old', ?, 'a', 'syn-ack', ?, ?)
                    """, arguments: ["198.18.9.\(i)", t0, t0])
            }
        }
        let db = try CoordinatorDatabase(writer: queue)
        let dmz = try db.testAgent(segment: "dmz", at: t0), lan = try db.testAgent(segment: "lan", at: t0)
        for (round, agent) in [(0, dmz), (1, dmz), (2, lan)] {
            let hosts = (1...(10 + round * 5)).map { Make.host("198.18.\(round == 2 ? 2 : 1).\($0)", findings: []) }
            try db.testReport(agent: agent, at: t0.addingTimeInterval(Double(round)), scan: Make.scan(at: t0.addingTimeInterval(Double(round)), hosts: hosts))
        }
        let counted = try db.read { d in
            try Row.fetchAll(d, sql: "SELECT segment, COUNT(*) AS n FROM host GROUP BY segment").reduce(into: [String: Int]()) { $0[$1["segment"]] = $1["n"] }
        }
        #expect(counted == ["old": 7, "dmz": 15, "lan": 20])
        let status = try db.fleetStatus(now: t0)
        #expect(Dictionary(uniqueKeysWithValues: status.segments.map { ($0.name, $0.hostsUp) }) == counted)
        try db.write { d in try d.execute(sql: "DELETE FROM host WHERE segment = 'dmz' AND address = '198.18.1.1'") }
        #expect(try db.fleetStatus(now: t0).segments.first { $0.name == "dmz" }?.hostsUp == 14)
    }
}
