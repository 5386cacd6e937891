import CordonShared
import Foundation

/// Maps socket inodes to the processes holding them, by reading `/proc/<pid>/fd/*` links
/// (`socket:[12345]`). Another user's fd directory is unreadable without root: those processes
/// are counted, and their sockets stay without owner.
struct SocketOwnerMap {
    var owners: [UInt64: SocketOwner] = [:]
    /// Processes whose fd directory could not be read.
    var unreadableProcesses = 0
    var scannedProcesses = 0
    /// The process or descriptor limit stopped the scan early.
    var truncated = false

    init(fileSystem: RootedFileSystem, wanted: Set<UInt64>, limits: InventoryLimits) {
        guard !wanted.isEmpty, case .success(let listing) = fileSystem.list("/proc", maxEntries: limits.maxDirectoryEntries * 10) else {
            return
        }
        truncated = listing.truncated
        let pids = listing.names.compactMap { Int32($0) }.sorted()
        var remaining = wanted
        for pid in pids {
            if remaining.isEmpty { break }
            scannedProcesses += 1
            let fdDirectory = "/proc/\(pid)/fd"
            guard case .success(let fds) = fileSystem.list(fdDirectory, maxEntries: limits.maxDirectoryEntries) else {
                unreadableProcesses += 1
                continue
            }
            if fds.truncated { truncated = true }
            var owner: SocketOwner?
            for fd in fds.names {
                guard case .success(let target) = fileSystem.readLink("\(fdDirectory)/\(fd)"),
                      let inode = Self.socketInode(target), remaining.contains(inode)
                else { continue }
                if owner == nil { owner = Self.describe(pid: pid, fileSystem: fileSystem) }
                owners[inode] = owner
                remaining.remove(inode)
            }
        }
    }

    /// `socket:[12345]` -> 12345.
    static func socketInode(_ target: String) -> UInt64? {
        guard target.hasPrefix("socket:["), target.hasSuffix("]") else { return nil }
        return UInt64(target.dropFirst(8).dropLast())
    }

    private static func describe(pid: Int32, fileSystem: RootedFileSystem) -> SocketOwner {
        var name: String?
        if case .success(let contents) = fileSystem.read("/proc/\(pid)/comm", maxBytes: 256) {
            name = String(decoding: contents.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var executable: String?
        if case .success(let target) = fileSystem.readLink("/proc/\(pid)/exe") {
            executable = target
        }
        return SocketOwner(pid: pid, processName: name, executable: executable)
    }
}
