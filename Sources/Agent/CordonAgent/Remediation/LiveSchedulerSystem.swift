import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scheduled tasks on the real host, collected by the inventory's own collector so that the IDs
/// a task list names are exactly the IDs the inventory reported.
public struct LiveSchedulerSystem: SchedulerSystem {
    public var root: String

    public init(root: String = "/") {
        self.root = root
    }

    public func collect() -> InventorySection<ScheduledTaskInventory> {
        ScheduledTaskCollector.collect(CollectionContext(root: root, journal: .none))
    }

    /// SIGHUP to the atd named in /run/atd.pid, as at(1) does after queueing a job; only when
    /// that PID is really atd.
    public func notifyAtDaemon() {
        guard root == "/", let text = try? SecureFile.readString("/run/atd.pid", limit: 64),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
              let comm = try? SecureFile.readString("/proc/\(pid)/comm", limit: 64),
              comm.trimmingCharacters(in: .whitespacesAndNewlines) == "atd"
        else { return }
        kill(pid, SIGHUP)
    }
}
