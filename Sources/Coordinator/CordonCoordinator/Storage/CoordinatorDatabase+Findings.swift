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
            let existing = try HostRecord.fetchOne(db, key: ["segment": segment, "address": host.address])
            if let existing, existing.lastSeen > at { continue }
            try HostRecord(segment: segment, address: host.address, agentID: agentID, netbiosName: bounded(host.netbiosName),
                           workgroup: bounded(host.workgroup), dnsName: bounded(host.dnsName), mac: bounded(host.mac), osGuess: bounded(host.osGuess),
                           reason: String(host.reason.prefix(64)), firstSeen: existing?.firstSeen ?? at, lastSeen: at).save(db)

            var seenPorts: Set<String> = []
            for service in host.services.prefix(ReportLimits.maxServicesPerHost) where (0...65535).contains(service.port) {
                seenPorts.insert("\(service.proto.rawValue)/\(service.port)")
                let key: [String: any DatabaseValueConvertible] = ["segment": segment, "address": host.address, "proto": service.proto.rawValue, "port": service.port]
                let previous = try ServiceRecord.fetchOne(db, key: key)
                try ServiceRecord(segment: segment, address: host.address, proto: service.proto.rawValue, port: service.port,
                                  state: service.state.rawValue, reason: service.reason.rawValue, service: bounded(service.service),
                                  product: bounded(service.product), version: bounded(service.version), banner: bounded(service.banner, 256),
                                  firstSeen: previous?.firstSeen ?? at, lastSeen: at).save(db)
            }
            if host.complete {
                for old in try ServiceRecord.filter(Column("segment") == segment && Column("address") == host.address).fetchAll(db)
                where !seenPorts.contains("\(old.proto)/\(old.port)") {
                    try old.delete(db)
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
        let record = try SegmentRecord.fetchOne(db, key: segment)
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
        var record = try InventoryRecord.fetchOne(db, key: agent.id)
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
        let key: [String: any DatabaseValueConvertible] = ["segment": segment, "subject": subject, "detectionID": finding.detectionID, "item": finding.item]
        if var existing = try FindingRecord.fetchOne(db, key: key) {
            guard at >= existing.lastSeen else { return }
            existing.lastSeen = at
            existing.evidence = Terminal.sanitize(finding.evidence, limit: FindingObservation.maxEvidence)
            existing.agentID = agentID
            if let resolved = existing.resolvedAt, at > resolved { existing.resolvedAt = nil }
            try existing.update(db)
        } else {
            var row = FindingRecord(id: nil, segment: segment, subject: subject, address: address, agentID: agentID, detectionID: finding.detectionID,
                                    item: finding.item, port: finding.port, proto: finding.proto?.rawValue,
                                    evidence: Terminal.sanitize(finding.evidence, limit: FindingObservation.maxEvidence), firstSeen: at, lastSeen: at, resolvedAt: nil)
            try row.insert(db)
        }
    }

    /// Resolves the open findings of a subject that are not in `keep` (limited to `detections`
    /// when given), if they were last seen before `at`.
    static func resolveFindings(_ db: Database, segment: String, subject: String, keep: Set<String>, detections: Set<String>?, at: Date) throws {
        let open = try FindingRecord.filter(Column("segment") == segment && Column("subject") == subject && Column("resolvedAt") == nil).fetchAll(db)
        for var finding in open where !keep.contains(finding.detectionID + " " + finding.item) && finding.lastSeen <= at {
            if let detections, !detections.contains(finding.detectionID) { continue }
            finding.resolvedAt = at
            try finding.update(db)
        }
    }

    static func bounded(_ text: String?, _ limit: Int = 128) -> String? {
        text.map { Terminal.sanitize($0, limit: limit) }
    }
}
