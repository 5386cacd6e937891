import CordonShared
import Foundation
import GRDB

/// Which findings an operator asks for.
public struct FindingFilter: Sendable, Equatable {
    public var worm: Worm?
    public var kind: DetectionKind?
    public var segment: String?
    public var source: DetectionSource?
    public var status: FindingStatus?
    public var agentID: String?

    public init(worm: Worm? = nil, kind: DetectionKind? = nil, segment: String? = nil, source: DetectionSource? = nil,
                status: FindingStatus? = .open, agentID: String? = nil) {
        self.worm = worm
        self.kind = kind
        self.segment = segment
        self.source = source
        self.status = status
        self.agentID = agentID
    }
}

extension CoordinatorDatabase {
    /// The findings `filter` selects, most severe first; at most `limit` of them (nil: all).
    public func findings(_ filter: FindingFilter = .init(), limit: Int? = nil) throws -> [FindingView] {
        try read { db in try Self.findings(db, filter, limit: limit) }
    }

    static func findings(_ db: Database, _ filter: FindingFilter, limit: Int? = nil) throws -> [FindingView] {
        // One query: the filter in SQL (the open findings have their own partial indexes), the
        // host's and jump host's names joined in, so that only the findings asked for are read.
        let ids = DetectionCatalogue.all.filter { d in
            (filter.worm == nil || d.worm == filter.worm) && (filter.kind == nil || d.kind == filter.kind) && (filter.source == nil || d.source == filter.source)
        }.map(\.id)
        guard !ids.isEmpty else { return [] }
        var conditions = ["f.detectionID IN (\(Array(repeating: "?", count: ids.count).joined(separator: ",")))"]
        var arguments = StatementArguments(ids)
        if let segment = filter.segment { conditions.append("f.segment = ?"); arguments += [segment] }
        if let agentID = filter.agentID { conditions.append("f.agentID = ?"); arguments += [agentID] }
        switch filter.status {
        case .open: conditions.append("f.resolvedAt IS NULL")
        case .resolved: conditions.append("f.resolvedAt IS NOT NULL")
        case nil: break
        }
        // Open findings through their partial index: without statistics SQLite picks the index of
        // every finding by detection, and reads the whole resolved history (2 s, not 70 ms, for
        // Conficker's 38,000 open among 1.9 million in the status-query benchmark).
        let index = filter.status == .open ? "INDEXED BY finding_open_by_detection" : ""
        var selected = "SELECT * FROM finding f \(index) WHERE \(conditions.joined(separator: " AND "))"
        if let limit {
            // The order of the sort below, in SQL, so that the limit keeps the most severe; the
            // names are joined to the rows kept only.
            let ranked = DetectionCatalogue.all.filter { ids.contains($0.id) }
            selected += " ORDER BY CASE f.detectionID " + String(repeating: "WHEN ? THEN ? ", count: ranked.count) + "END DESC, "
                + "f.segment, COALESCE(f.address, ''), f.detectionID, f.item LIMIT ?"
            for d in ranked { arguments += [d.id, Severity.allCases.firstIndex(of: d.severity) ?? 0] }
            arguments += [max(0, limit)]
        }
        let sql = """
            SELECT f.*, h.netbiosName AS cordonHostName, a.hostname AS cordonAgentName FROM (\(selected)) f
            LEFT JOIN host h ON f.address IS NOT NULL AND h.segment = f.segment AND h.address = f.address
            LEFT JOIN agent a ON f.address IS NULL AND a.id = f.agentID
            """
        let views = try ReadableRows.map(db, sql: sql, arguments: arguments, table: FindingRecord.databaseTableName) { row -> FindingView? in
            let row2 = try FindingRecord(row: row)
            guard let d = DetectionCatalogue.detection(row2.detectionID) else { return nil }
            let hostName: String? = row2.address == nil ? row["cordonAgentName"] : row["cordonHostName"]
            return FindingView(id: row2.id ?? 0, detectionID: d.id, worm: d.worm, kind: d.kind, severity: d.severity, source: d.source, title: d.title,
                               segment: row2.segment, address: row2.address, hostName: hostName, agentID: row2.agentID, port: row2.port,
                               proto: row2.proto.flatMap(TransportProtocol.init(rawValue:)), item: row2.item, evidence: row2.evidence,
                               references: d.references, remediation: d.remediation, firstSeen: row2.firstSeen, lastSeen: row2.lastSeen,
                               resolvedAt: row2.resolvedAt)
        }
        return views.compactMap { $0 }.sorted { a, b in
            if a.severity != b.severity { return a.severity > b.severity }
            if a.segment != b.segment { return a.segment < b.segment }
            return (a.address ?? "", a.detectionID, a.item) < (b.address ?? "", b.detectionID, b.item)
        }
    }

    /// Hosts found by scans, with their services and open findings.
    public func hosts(segment: String? = nil, exposedTo worm: Worm? = nil) throws -> [HostView] {
        try read { db in
            var request = HostRecord.all()
            if let segment { request = request.filter(Column("segment") == segment) }
            let hosts = try request.fetchReadable(db)
            let open = try Self.findings(db, FindingFilter(segment: segment, source: .scan, status: .open))
            var findingsByHost: [String: [FindingView]] = [:]
            for f in open { if let a = f.address { findingsByHost["\(f.segment) \(a)", default: []].append(f) } }
            var servicesByHost: [String: [ServiceView]] = [:]
            var serviceRequest = ServiceRecord.order(Column("proto"), Column("port"))
            if let segment { serviceRequest = serviceRequest.filter(Column("segment") == segment) }
            for s in try serviceRequest.fetchReadable(db) {
                guard let proto = TransportProtocol(rawValue: s.proto), let state = PortState(rawValue: s.state), let reason = PortReason(rawValue: s.reason) else { continue }
                let observation = ServiceObservation(port: s.port, proto: proto, state: state, reason: reason, service: s.service, product: s.product,
                                                     version: s.version, banner: s.banner)
                servicesByHost["\(s.segment) \(s.address)", default: []].append(ServiceView(observation: observation, firstSeen: s.firstSeen, lastSeen: s.lastSeen))
            }
            return hosts.map { h in
                HostView(segment: h.segment, address: h.address, agentID: h.agentID, netbiosName: h.netbiosName, workgroup: h.workgroup,
                         dnsName: h.dnsName, mac: h.mac, osGuess: h.osGuess, reason: h.reason, firstSeen: h.firstSeen, lastSeen: h.lastSeen,
                         services: servicesByHost["\(h.segment) \(h.address)"] ?? [], findings: findingsByHost["\(h.segment) \(h.address)"] ?? [])
            }
            .filter { worm == nil || $0.exposedTo.contains(worm!) }
            .sorted { ($0.segment, Self.addressKey($0.address)) < ($1.segment, Self.addressKey($1.address)) }
        }
    }

    /// Sorts IPv4 addresses numerically.
    static func addressKey(_ address: String) -> String {
        guard let bytes = IPAddressBytes.v4(address) else { return address }
        return bytes.map { String(format: "%03d", $0) }.joined(separator: ".")
    }

    public func inventory(agentID: String) throws -> InventoryView? {
        try read { db in
            guard let record = try InventoryRecord.fetchOne(db, key: agentID), let agent = try AgentRecord.fetchOne(db, key: agentID),
                  let report = try? CordonJSON.decode(InventoryReport.self, from: record.bodyJSON) else { return nil }
            return InventoryView(agentID: agentID, segment: agent.segment, hostName: agent.hostname, reportID: record.reportID,
                                 baselineAt: record.baselineAt, inventory: report)
        }
    }

    public func changes(since: Date? = nil, segment: String? = nil, agentID: String? = nil, limit: Int = 1000) throws -> [ChangeView] {
        try read { db in
            var request = ChangeRecord.order(Column("at").desc, Column("id").desc).limit(max(1, min(limit, 10_000)))
            if let since { request = request.filter(Column("at") >= since) }
            if let segment { request = request.filter(Column("segment") == segment) }
            if let agentID { request = request.filter(Column("agentID") == agentID) }
            let agents = try AgentRecord.all().fetchReadable(db).reduce(into: [String: String]()) { $0[$1.id] = $1.hostname }
            return try request.fetchReadable(db).reversed().compactMap { row in
                guard let kind = ChangeView.Kind(rawValue: row.kind) else { return nil }
                return ChangeView(id: row.id ?? 0, at: row.at, agentID: row.agentID, segment: row.segment, hostName: agents[row.agentID] ?? "?",
                                  kind: kind, subject: row.subject, detail: row.detail)
            }
        }
    }

    typealias SegmentFindingSummary = (lastScanAt: Date?, hostsUp: Int, worms: [WormCount], jumpHost: [Severity: Int])

    /// Per segment: last scan, hosts up, exposed and infected hosts per worm, jump-host findings;
    /// counted in SQL, with the catalogue's worm and kind of each detection as CASE expressions.
    static func segmentFindingSummary(_ db: Database) throws -> [String: SegmentFindingSummary] {
        var result: [String: SegmentFindingSummary] = [:]
        // One index seek per segment (a scan is recorded in its agent's segment, and agents are
        // never deleted), not a pass over every scan ever recorded.
        for row in try Row.fetchAll(db, sql: """
            SELECT name AS segment, (SELECT MAX(finishedAt) FROM scan WHERE scan.segment = name) AS at
            FROM (SELECT DISTINCT segment AS name FROM agent)
            """) {
            let segment: String = row["segment"]
            // A date that does not read back leaves the segment without a last-scan time.
            result[segment, default: (nil, 0, [], [:])].lastScanAt = try? row.decode(Date?.self, forColumn: "at")
        }
        // Kept by triggers on `host` (migration v7).
        for row in try Row.fetchAll(db, sql: "SELECT segment, hosts FROM segmentHostCount WHERE hosts > 0") {
            let segment: String = row["segment"]
            result[segment, default: (nil, 0, [], [:])].hostsUp = row["hosts"]
        }
        let catalogue = DetectionCatalogue.all
        let wormCase = "CASE detectionID " + String(repeating: "WHEN ? THEN ? ", count: catalogue.count) + "END"
        let kindCase = "CASE detectionID " + String(repeating: "WHEN ? THEN ? ", count: catalogue.count) + "END"
        var arguments = StatementArguments()
        for d in catalogue { arguments += [d.id, d.worm.rawValue] }
        for d in catalogue { arguments += [d.id, d.kind.rawValue] }
        var worms: [String: [WormCount]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT segment, worm, COUNT(DISTINCT address) AS exposed, COUNT(DISTINCT CASE WHEN kind = 'ioc' THEN address END) AS infected
            FROM (SELECT segment, address, \(wormCase) AS worm, \(kindCase) AS kind
                  FROM finding WHERE resolvedAt IS NULL AND address IS NOT NULL)
            WHERE worm IS NOT NULL GROUP BY segment, worm
            """, arguments: arguments) {
            guard let worm = Worm(rawValue: row["worm"]) else { continue }
            worms[row["segment"], default: []].append(WormCount(worm: worm, exposedHosts: row["exposed"], infectedHosts: row["infected"]))
        }
        for (segment, counts) in worms {
            result[segment, default: (nil, 0, [], [:])].worms = counts.sorted { $0.worm < $1.worm }
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT segment, detectionID, COUNT(*) AS n FROM finding INDEXED BY finding_open_by_host
            WHERE resolvedAt IS NULL AND address IS NULL GROUP BY segment, detectionID
            """) {
            guard let d = DetectionCatalogue.detection(row["detectionID"]) else { continue }
            result[row["segment"], default: (nil, 0, [], [:])].jumpHost[d.severity, default: 0] += row["n"]
        }
        return result
    }
}
