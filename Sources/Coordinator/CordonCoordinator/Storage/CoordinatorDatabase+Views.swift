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
    public func findings(_ filter: FindingFilter = .init()) throws -> [FindingView] {
        try read { db in try Self.findings(db, filter) }
    }

    static func findings(_ db: Database, _ filter: FindingFilter) throws -> [FindingView] {
        var request = FindingRecord.all()
        if let segment = filter.segment { request = request.filter(Column("segment") == segment) }
        if let agentID = filter.agentID { request = request.filter(Column("agentID") == agentID) }
        switch filter.status {
        case .open: request = request.filter(Column("resolvedAt") == nil)
        case .resolved: request = request.filter(Column("resolvedAt") != nil)
        case nil: break
        }
        let ids = DetectionCatalogue.all.filter { d in
            (filter.worm == nil || d.worm == filter.worm) && (filter.kind == nil || d.kind == filter.kind) && (filter.source == nil || d.source == filter.source)
        }.map(\.id)
        request = request.filter(ids.contains(Column("detectionID")))
        let rows = try request.fetchReadable(db)
        let hosts = try HostRecord.all().fetchReadable(db).reduce(into: [String: String]()) { $0["\($1.segment) \($1.address)"] = $1.netbiosName }
        let agents = try AgentRecord.all().fetchReadable(db).reduce(into: [String: String]()) { $0[$1.id] = $1.hostname }
        return rows.compactMap { row -> FindingView? in
            guard let d = DetectionCatalogue.detection(row.detectionID) else { return nil }
            let hostName = row.address.map { hosts["\(row.segment) \($0)"] ?? nil } ?? agents[row.agentID]
            return FindingView(id: row.id ?? 0, detectionID: d.id, worm: d.worm, kind: d.kind, severity: d.severity, source: d.source, title: d.title,
                               segment: row.segment, address: row.address, hostName: hostName ?? nil, agentID: row.agentID, port: row.port,
                               proto: row.proto.flatMap(TransportProtocol.init(rawValue:)), item: row.item, evidence: row.evidence,
                               references: d.references, remediation: d.remediation, firstSeen: row.firstSeen, lastSeen: row.lastSeen, resolvedAt: row.resolvedAt)
        }.sorted { a, b in
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

    /// Per segment: last scan, hosts up, exposed and infected hosts per worm, jump-host findings.
    func segmentFindingSummary() throws -> [String: (lastScanAt: Date?, hostsUp: Int, worms: [WormCount], jumpHost: [Severity: Int])] {
        try read { db in
            var result: [String: (lastScanAt: Date?, hostsUp: Int, worms: [WormCount], jumpHost: [Severity: Int])] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT segment, MAX(finishedAt) AS at FROM scan GROUP BY segment") {
                let segment: String = row["segment"]
                // A date that does not read back leaves the segment without a last-scan time.
                result[segment, default: (nil, 0, [], [:])].lastScanAt = try? row.decode(Date?.self, forColumn: "at")
            }
            for row in try Row.fetchAll(db, sql: "SELECT segment, COUNT(*) AS n FROM host GROUP BY segment") {
                let segment: String = row["segment"]
                result[segment, default: (nil, 0, [], [:])].hostsUp = row["n"]
            }
            let open = try Self.findings(db, FindingFilter(status: .open))
            var exposed: [String: [Worm: Set<String>]] = [:], infected: [String: [Worm: Set<String>]] = [:]
            for f in open {
                if let address = f.address {
                    exposed[f.segment, default: [:]][f.worm, default: []].insert(address)
                    if f.kind == .ioc { infected[f.segment, default: [:]][f.worm, default: []].insert(address) }
                } else {
                    result[f.segment, default: (nil, 0, [], [:])].jumpHost[f.severity, default: 0] += 1
                }
            }
            for (segment, worms) in exposed {
                result[segment, default: (nil, 0, [], [:])].worms = worms.keys.sorted().map { worm in
                    WormCount(worm: worm, exposedHosts: worms[worm]?.count ?? 0, infectedHosts: infected[segment]?[worm]?.count ?? 0)
                }
            }
            return result
        }
    }
}
