import CordonShared
import Foundation

/// The agent's offline spool: reports waiting for the coordinator, in order, on disk.
///
/// Every report is spooled before it is sent and deleted only after the coordinator has
/// acknowledged it (which it does after commit), so nothing is lost to a crash or an outage.
/// The spool has a size cap; when full it drops the oldest reports and counts them. The
/// count travels in the next report made (``takeDropped()``); if a report that carries a
/// count is itself dropped, its count is carried forward, so none is lost or counted twice.
///
/// Files are `SEQUENCE-dCOUNT.json`: the sequence orders them, COUNT is the number of earlier
/// drops the report carries. The pending count lives in `dropped`.
public final class Spool: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public var sequence: UInt64
        public var carriedDrops: Int
        public var path: String
        public var size: Int
    }

    public let directory: String
    public let maxBytes: Int
    private let lock = NSLock()
    /// Drops counted while the disk could not take them (a report that could not be spooled):
    /// kept in memory until ``takeDropped()`` hands them to the next report.
    private var unsavedDrops = 0

    public init(directory: String, maxBytes: Int) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        try SecureFile.makeDirectory(directory, mode: 0o700)
    }

    private var droppedFile: String { (directory as NSString).appendingPathComponent("dropped") }

    /// The spooled reports, oldest first.
    public func entries() -> [Entry] {
        lock.withLock { unlockedEntries() }
    }

    private func unlockedEntries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var result: [Entry] = []
        for name in names where name.hasSuffix(".json") {
            let stem = name.dropLast(5)
            let parts = stem.split(separator: "-")
            guard parts.count == 2, let sequence = UInt64(parts[0]), parts[1].hasPrefix("d"), let drops = Int(parts[1].dropFirst()) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
            result.append(Entry(sequence: sequence, carriedDrops: drops, path: path, size: size))
        }
        return result.sorted { $0.sequence < $1.sequence }
    }

    public var depth: Int { entries().count }
    public var bytes: Int { entries().reduce(0) { $0 + $1.size } }

    /// Drops not yet carried by any report.
    public var pendingDrops: Int {
        lock.withLock { unlockedPendingDrops() + unsavedDrops }
    }

    private func unlockedPendingDrops() -> Int {
        guard let data = try? SecureFile.read(droppedFile, limit: 64),
              let value = Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else { return 0 }
        return max(0, value)
    }

    private func setPendingDrops(_ value: Int) throws {
        try SecureFile.replace(droppedFile, contents: Data("\(max(0, value))\n".utf8), mode: 0o600)
    }

    /// Takes the pending drop count for a new report: the caller puts it in the report.
    public func takeDropped() throws -> Int {
        try lock.withLock {
            let pending = unlockedPendingDrops()
            if pending > 0 { try setPendingDrops(0) }
            defer { unsavedDrops = 0 }
            return pending + unsavedDrops
        }
    }

    /// Spools an encoded report that carries `carriedDrops`, then drops the oldest reports
    /// while the spool is over its cap. Returns how many were dropped.
    @discardableResult
    public func append(_ json: Data, carriedDrops: Int) throws -> Int {
        try lock.withLock {
            let existing = unlockedEntries()
            let sequence = (existing.last?.sequence ?? 0) + 1
            let name = String(format: "%020llu-d%d.json", sequence, max(0, carriedDrops))
            do {
                try SecureFile.create((directory as NSString).appendingPathComponent(name), contents: json, mode: 0o600)
            } catch {
                // The disk is full (or failing): this report and the drops it carried are
                // counted as dropped and reach the coordinator with the next report that fits.
                unsavedDrops += 1 + max(0, carriedDrops)
                throw AgentError.spool("cannot spool a report in \(directory) (counted as dropped): \(error)")
            }
            var entries = unlockedEntries()
            var total = entries.reduce(0) { $0 + $1.size }
            var dropped = 0
            var carried = 0
            while total > maxBytes, let oldest = entries.first {
                unlink(oldest.path)
                entries.removeFirst()
                total -= oldest.size
                dropped += 1
                carried += oldest.carriedDrops
            }
            if dropped > 0 { try setPendingDrops(unlockedPendingDrops() + dropped + carried) }
            return dropped
        }
    }

    public func read(_ entry: Entry) throws -> Data {
        try SecureFile.read(entry.path, limit: max(maxBytes, 1 << 20))
    }

    /// Deletes a report the coordinator acknowledged.
    public func remove(_ entry: Entry) {
        lock.withLock { _ = unlink(entry.path) }
    }

    /// Deletes a report the coordinator will never accept (it answered 400 or 413), counting it
    /// as dropped so that the loss is reported.
    public func discard(_ entry: Entry) throws {
        try lock.withLock {
            _ = unlink(entry.path)
            try setPendingDrops(unlockedPendingDrops() + 1 + entry.carriedDrops)
        }
    }
}
