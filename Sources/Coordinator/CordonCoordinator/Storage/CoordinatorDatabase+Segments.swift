import CordonShared
import Foundation
import GRDB

extension CoordinatorDatabase {
    /// Records the scope a segment's agents may scan. Agents refuse to run with a scan scope
    /// outside it.
    public func setSegmentScope(name: String, scope: [String], actor: String, now: Date = Date()) throws -> SegmentView {
        try CordonName.validate(name, as: "segment")
        let cidrs = try scope.map { text -> String in
            guard let cidr = IPv4CIDR(text) else { throw CordonError.invalidArgument("\(text.prefix(60).debugDescription) is not an IPv4 CIDR or address") }
            return cidr.description
        }
        guard !cidrs.isEmpty, cidrs.count <= 256 else { throw CordonError.invalidArgument("a segment scope needs 1-256 CIDRs") }
        try write { db in
            let previous = try SegmentRecord.fetchOne(db, key: name)
            try SegmentRecord(name: name, scopeJSON: try CordonJSON.encode(cidrs), updatedAt: now, updatedBy: actor).save(db)
            let before = previous.flatMap { try? CordonJSON.decode([String].self, from: $0.scopeJSON) }?.joined(separator: " ") ?? "none"
            try Self.audit(db, at: now, actor: actor, action: "segment.scope", target: "segment:\(name)", detail: "\(before) -> \(cidrs.joined(separator: " "))")
        }
        return SegmentView(name: name, scope: cidrs, updatedAt: now, updatedBy: actor)
    }

    public func segments() throws -> [SegmentView] {
        try read { db in
            var views = try SegmentRecord.order(Column("name")).fetchAll(db).map {
                SegmentView(name: $0.name, scope: (try? CordonJSON.decode([String].self, from: $0.scopeJSON)) ?? [], updatedAt: $0.updatedAt, updatedBy: $0.updatedBy)
            }
            // Segments that have agents but no recorded scope.
            let known = Set(views.map(\.name))
            for name in try String.fetchAll(db, sql: "SELECT DISTINCT segment FROM agent ORDER BY segment") where !known.contains(name) {
                views.append(SegmentView(name: name, scope: nil, updatedAt: nil, updatedBy: nil))
            }
            return views.sorted { $0.name < $1.name }
        }
    }

    public func segmentScope(name: String) throws -> [String]? {
        try read { db in
            try SegmentRecord.cachedFetchOne(db, where: "name", is: name).flatMap { try? CordonJSON.decode([String].self, from: $0.scopeJSON) }
        }
    }
}
