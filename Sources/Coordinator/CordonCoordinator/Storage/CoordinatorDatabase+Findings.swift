import CordonShared
import Foundation
import GRDB

extension CoordinatorDatabase {
    /// The scan's own row, and the audit note for hosts it listed outside the segment's scope.
    /// Written last, in the transaction that stores the report: a scan whose row exists has
    /// had all its hosts recorded.
    static func recordScan(_ db: Database, scan: ScanReport, hostsUp: Int, outside: [String], agent: AgentRecord, now: Date) throws {
        guard try ScanRecord.fetchOne(db, key: scan.id) == nil else { return }
        try ScanRecord(id: scan.id, agentID: agent.id, segment: agent.segment, profile: String(scan.profile.prefix(64)), startedAt: scan.startedAt,
                       finishedAt: scan.finishedAt, complete: scan.complete, addressesScanned: max(0, scan.addressesScanned),
                       hostsUp: hostsUp, hostsDown: max(0, scan.hostsDown), receivedAt: now).insert(db)
        // Only hosts inside the segment's recorded scope are the segment's: an agent that lists
        // others (another segment's range, public addresses) does not get them counted here.
        // They are left out and the operator sees it in the audit log.
        if !outside.isEmpty {
            try audit(db, at: now, actor: "agent:\(agent.id)", action: "scan.out-of-scope", target: "segment:\(agent.segment)",
                      detail: "scan \(scan.id) listed \(outside.count) host(s) outside the segment's scope, not recorded: "
                          + outside.prefix(10).joined(separator: ", ") + (outside.count > 10 ? ", ..." : ""))
        }
    }

    /// Records hosts of a scan that finished at `at` (their services and findings), in order,
    /// until `deadline` passes (at least one host); returns the index of the first host not
    /// recorded. For each host whose probes all finished, findings it no longer shows are
    /// resolved and services it no longer offers are dropped; a scan older than what is known
    /// of a host (a late spooled report) does not overwrite it. Idempotent: recording the same
    /// hosts again (a report resent after the coordinator died part way) changes nothing.
    static func ingestScanHosts(_ db: Database, _ hosts: ArraySlice<ScannedHost>, segment: String, agentID: String, at: Date,
                                until deadline: ContinuousClock.Instant? = nil) throws -> Int {
        for index in hosts.indices {
            if let deadline, index > hosts.startIndex, ContinuousClock.now >= deadline { return index }
            let host = hosts[index]
            // Rows are written with cached UPSERTs rather than GRDB records: encoding a record
            // into a persistence container and back was half the CPU of a full report's ingest.
            let lastSeen = try Date.fetchOne(db.cachedStatement(sql: "SELECT lastSeen FROM host WHERE segment = ? AND address = ?"),
                                             arguments: [segment, host.address])
            if let lastSeen, lastSeen > at { continue }
            try db.cachedExecute(sql: """
                INSERT INTO host (segment, address, agentID, netbiosName, workgroup, dnsName, mac, osGuess, reason, firstSeen, lastSeen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (segment, address) DO UPDATE SET agentID = excluded.agentID, netbiosName = excluded.netbiosName,
                  workgroup = excluded.workgroup, dnsName = excluded.dnsName, mac = excluded.mac, osGuess = excluded.osGuess,
                  reason = excluded.reason, lastSeen = excluded.lastSeen
                """, arguments: [segment, host.address, agentID, bounded(host.netbiosName), bounded(host.workgroup), bounded(host.dnsName),
                                 bounded(host.mac), bounded(host.osGuess), String(host.reason.prefix(64)), at, at])

            var seenPorts: Set<String> = []
            for service in host.services.prefix(ReportLimits.maxServicesPerHost) where (0...65535).contains(service.port) {
                seenPorts.insert("\(service.proto.rawValue)/\(service.port)")
                try db.cachedExecute(sql: """
                    INSERT INTO service (segment, address, proto, port, state, reason, service, product, version, banner, firstSeen, lastSeen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (segment, address, proto, port) DO UPDATE SET state = excluded.state, reason = excluded.reason,
                      service = excluded.service, product = excluded.product, version = excluded.version, banner = excluded.banner,
                      lastSeen = excluded.lastSeen
                    """, arguments: [segment, host.address, service.proto.rawValue, service.port, service.state.rawValue, service.reason.rawValue,
                                     bounded(service.service), bounded(service.product), bounded(service.version), bounded(service.banner, 256), at, at])
            }
            if host.complete {
                for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT proto, port FROM service WHERE segment = ? AND address = ?"),
                                            arguments: [segment, host.address]) {
                    let proto: String = row["proto"], port: Int = row["port"]
                    guard !seenPorts.contains("\(proto)/\(port)") else { continue }
                    try db.cachedExecute(sql: "DELETE FROM service WHERE segment = ? AND address = ? AND proto = ? AND port = ?",
                                         arguments: [segment, host.address, proto, port])
                }
            }

            let subject = "host:\(host.address)"
            var seen: Set<String> = []
            for observation in host.findings.prefix(ReportLimits.maxFindingsPerHost) where observation.port.map({ (0...65535).contains($0) }) ?? true {
                guard let detection = DetectionCatalogue.detection(observation.detectionID), detection.source == .scan else { continue }
                let derived = DerivedFinding(detectionID: detection.id, item: DerivedFinding.scanItem(port: observation.port, proto: observation.proto),
                                             port: observation.port, proto: observation.proto, evidence: observation.evidence)
                seen.insert(detection.id + " " + derived.item)
                try upsertFinding(db, segment: segment, subject: subject, address: host.address, agentID: agentID, finding: derived, at: at)
            }
            if host.complete {
                try resolveFindings(db, segment: segment, subject: subject, keep: seen, detections: nil, at: at)
            }
        }
        return hosts.endIndex
    }

    /// The scan's hosts with a valid address inside the segment's recorded scope, and the
    /// addresses of the others (sanitized, for the audit note). Without a recorded scope every
    /// host with a valid address is taken, as before `cordon segments set`.
    static func hostsInScope(_ db: Database, _ hosts: [ScannedHost], segment: String) throws -> (inside: [ScannedHost], outside: [String]) {
        let record = try SegmentRecord.cachedFetchOne(db, where: "name", is: segment)
        let scope = (record.flatMap { try? CordonJSON.decode([String].self, from: $0.scopeJSON) } ?? []).compactMap(IPv4CIDR.init)
        var inside: [ScannedHost] = [], outside: [String] = []
        for host in hosts {
            let v4 = IPv4CIDR.parseAddress(host.address)
            guard v4 != nil || IPAddressBytes.v6(host.address) != nil else {
                outside.append(Terminal.sanitize(host.address, limit: 64))
                continue
            }
            if scope.isEmpty || v4.map({ address in scope.contains { $0.contains(address) } }) == true {
                inside.append(host)
            } else {
                outside.append(Terminal.sanitize(host.address, limit: 64))
            }
        }
        return (inside, outside)
    }

    /// Records an inventory: the changes since the previous one, the baseline (the first
    /// inventory with scheduled tasks), and the findings it yields.
    static func ingestInventory(_ db: Database, inventory: InventoryReport, reportID: String, agent: AgentRecord, policy: InventoryPolicy) throws {
        var record = try InventoryRecord.cachedFetchOne(db, where: "agentID", is: agent.id)
        if let record, record.collectedAt >= inventory.collectedAt { return }  // a late spooled report
        let body = try CordonJSON.encode(inventory)
        if let record, let previous = try? CordonJSON.decode(InventoryReport.self, from: record.bodyJSON) {
            for change in InventoryDiff.changes(from: previous, to: inventory).prefix(1000) {
                var row = ChangeRecord(id: nil, at: inventory.collectedAt, agentID: agent.id, segment: agent.segment, kind: change.kind.rawValue,
                                       subject: String(change.subject.prefix(300)), detail: String(change.detail.prefix(1000)))
                try row.insert(db)
            }
        }
        var baselineAt = record?.baselineAt
        var baselineJSON = record?.baselineTaskIDsJSON
        if baselineJSON == nil, let tasks = inventory.scheduledTasks.value {
            baselineJSON = try CordonJSON.encode(tasks.entries.map(\.id).sorted())
            baselineAt = inventory.collectedAt
        }
        let baseline = baselineJSON.flatMap { try? CordonJSON.decode([String].self, from: $0) }.map(Set.init)
        if record == nil {
            record = InventoryRecord(agentID: agent.id, reportID: reportID, collectedAt: inventory.collectedAt, bodyJSON: body,
                                     baselineAt: baselineAt, baselineTaskIDsJSON: baselineJSON)
        } else {
            record?.reportID = reportID
            record?.collectedAt = inventory.collectedAt
            record?.bodyJSON = body
            record?.baselineAt = baselineAt
            record?.baselineTaskIDsJSON = baselineJSON
        }
        try record?.save(db)

        let evaluation = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: baseline, policy: policy)
        let subject = "agent:\(agent.id)"
        var seen: Set<String> = []
        for finding in evaluation.findings.prefix(1000) {
            seen.insert(finding.detectionID + " " + finding.item)
            try upsertFinding(db, segment: agent.segment, subject: subject, address: nil, agentID: agent.id, finding: finding, at: inventory.collectedAt)
        }
        try resolveFindings(db, segment: agent.segment, subject: subject, keep: seen, detections: evaluation.evaluated, at: inventory.collectedAt)
    }

    /// Inserts a finding, or refreshes it (and reopens it if it had been resolved before `at`).
    static func upsertFinding(_ db: Database, segment: String, subject: String, address: String?, agentID: String, finding: DerivedFinding, at: Date) throws {
        let evidence = Terminal.sanitize(finding.evidence, limit: FindingObservation.maxEvidence)
        if let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, lastSeen, resolvedAt FROM finding WHERE segment = ? AND subject = ? AND detectionID = ? AND item = ?
            """), arguments: [segment, subject, finding.detectionID, finding.item]) {
            let id: Int64 = row["id"], lastSeen: Date = row["lastSeen"], resolvedAt: Date? = row["resolvedAt"]
            guard at >= lastSeen else { return }
            let reopened = resolvedAt.map { at > $0 } ?? false
            try db.cachedExecute(sql: """
                UPDATE finding SET lastSeen = ?, evidence = ?, agentID = ?, resolvedAt = CASE WHEN ? THEN NULL ELSE resolvedAt END WHERE id = ?
                """, arguments: [at, evidence, agentID, reopened, id])
        } else {
            try db.cachedExecute(sql: """
                INSERT INTO finding (segment, subject, address, agentID, detectionID, item, port, proto, evidence, firstSeen, lastSeen, resolvedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                """, arguments: [segment, subject, address, agentID, finding.detectionID, finding.item, finding.port, finding.proto?.rawValue,
                                 evidence, at, at])
        }
    }

    /// Resolves the open findings of a subject that are not in `keep` (limited to `detections`
    /// when given), if they were last seen before `at`.
    static func resolveFindings(_ db: Database, segment: String, subject: String, keep: Set<String>, detections: Set<String>?, at: Date) throws {
        let open = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, detectionID, item, lastSeen FROM finding WHERE segment = ? AND subject = ? AND resolvedAt IS NULL
            """), arguments: [segment, subject])
        for row in open {
            let id: Int64 = row["id"], detectionID: String = row["detectionID"], item: String = row["item"], lastSeen: Date = row["lastSeen"]
            guard !keep.contains(detectionID + " " + item), lastSeen <= at else { continue }
            if let detections, !detections.contains(detectionID) { continue }
            try db.cachedExecute(sql: "UPDATE finding SET resolvedAt = ? WHERE id = ?", arguments: [at, id])
        }
    }

    static func bounded(_ text: String?, _ limit: Int = 128) -> String? {
        text.map { Terminal.sanitize($0, limit: limit) }
    }
}
