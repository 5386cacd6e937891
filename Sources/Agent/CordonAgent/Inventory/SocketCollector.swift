import CordonShared
import Foundation

/// Collects listening TCP and bound UDP sockets from `<root>/proc/net/*` and their owners.
///
/// Unprivileged: the tables are world-readable, but other users' `/proc/<pid>/fd` are not; those
/// sockets are listed with `owner == nil`, `ownersComplete` is false and a note says so.
public enum SocketCollector {
    private static let tables: [(path: String, transport: ListeningSocket.TransportProtocol, ipv6: Bool)] = [
        ("/proc/net/tcp", .tcp, false), ("/proc/net/tcp6", .tcp, true),
        ("/proc/net/udp", .udp, false), ("/proc/net/udp6", .udp, true),
    ]

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<SocketInventory> {
        let fileSystem = context.fileSystem
        let limits = context.limits
        var sockets: [ListeningSocket] = []
        var sources: [String] = []
        var notes: [String] = []
        var failures: [String] = []
        var skipped = 0
        var truncated = false

        for table in tables {
            switch fileSystem.read(table.path, maxBytes: limits.maxFileBytes) {
            case .success(let contents):
                sources.append(table.path)
                if contents.truncated {
                    truncated = true
                    notes.append("\(table.path) cut at \(limits.maxFileBytes) bytes")
                }
                let lines = TextLines(contents.data, maxLineLength: limits.maxLineLength)
                let parsed = ProcNetParser.parse(lines, ipv6: table.ipv6)
                skipped += parsed.skipped
                let wantedState = table.transport == .tcp ? ProcNetParser.tcpListen : ProcNetParser.udpBound
                for row in parsed.rows where row.state == wantedState {
                    guard sockets.count < limits.maxEntries else {
                        truncated = true
                        break
                    }
                    sockets.append(ListeningSocket(
                        transport: table.transport, family: table.ipv6 ? .ipv6 : .ipv4,
                        localAddress: ProcNetParser.format(row.address),
                        mappedIPv4Address: ProcNetParser.mappedIPv4(row.address),
                        port: row.port, inode: row.inode, owner: nil
                    ))
                }
            case .failure(.missing):
                // A kernel without IPv6 has no tcp6/udp6: not worth a note unless all are missing.
                failures.append("\(table.path): missing")
            case .failure(let error):
                failures.append("\(table.path): \(error)")
                notes.append("\(table.path): \(error)")
            }
        }
        guard !sources.isEmpty else {
            return .unavailable(reason: "no socket table readable (\(failures.joined(separator: ", ")))")
        }

        // Inode 0 means no owner to find (e.g. a socket being torn down).
        let wanted = Set(sockets.map(\.inode).filter { $0 != 0 })
        let map = SocketOwnerMap(fileSystem: fileSystem, wanted: wanted, limits: limits)
        for index in sockets.indices {
            sockets[index].owner = map.owners[sockets[index].inode]
        }
        let unowned = sockets.filter { $0.owner == nil }.count
        let ownersComplete = map.unreadableProcesses == 0 && !map.truncated
        if map.unreadableProcesses > 0 {
            notes.append(
                "file descriptors of \(map.unreadableProcesses) processes unreadable"
                    + (context.isRoot ? "" : " (not root)") + ": \(unowned) sockets have no known owner"
            )
        } else if map.truncated {
            notes.append("process scan stopped at the directory limit: \(unowned) sockets have no known owner")
        }
        return .ok(SocketInventory(
            sockets: sockets, ownersComplete: ownersComplete, sources: sources,
            truncated: truncated, skippedLines: skipped, notes: notes
        ))
    }
}
