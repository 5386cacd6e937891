import CordonShared
import Foundation

/// What changed on a jump host between two inventories. Only sections available in both are
/// compared: a section that could not be read this time is not a removal of everything in it.
public enum InventoryDiff {
    public struct Change: Sendable, Equatable {
        public var kind: ChangeView.Kind
        public var subject: String
        public var detail: String
    }

    public static func changes(from old: InventoryReport, to new: InventoryReport) -> [Change] {
        var changes: [Change] = []

        if let before = old.scheduledTasks.value, let after = new.scheduledTasks.value {
            let oldByID = Dictionary(before.entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let newByID = Dictionary(after.entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for task in after.entries where oldByID[task.id] == nil {
                changes.append(Change(kind: .taskAdded, subject: task.id, detail: describe(task)))
            }
            for task in before.entries where newByID[task.id] == nil {
                changes.append(Change(kind: .taskRemoved, subject: task.id, detail: describe(task)))
            }
        }

        if let before = old.accounts.value, let after = new.accounts.value {
            let oldByName = Dictionary(before.accounts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let newByName = Dictionary(after.accounts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for account in after.accounts {
                guard let previous = oldByName[account.name] else {
                    changes.append(Change(kind: .accountAdded, subject: account.name, detail: "UID \(account.uid), shell \(account.shell)"))
                    if account.uid == 0 { changes.append(Change(kind: .uid0Added, subject: account.name, detail: "new account with UID 0")) }
                    continue
                }
                if account.uid == 0 && previous.uid != 0 {
                    changes.append(Change(kind: .uid0Added, subject: account.name, detail: "UID \(previous.uid) -> 0"))
                }
                if before.shadowReadable && after.shadowReadable, let p = previous.password, let n = account.password,
                   p.lastChanged != n.lastChanged || p.algorithm != n.algorithm || p.locked != n.locked || p.empty != n.empty {
                    var what: [String] = []
                    if p.lastChanged != n.lastChanged { what.append("last changed \(n.lastChanged.map { CordonTime.format($0) } ?? "never")") }
                    if p.locked != n.locked { what.append(n.locked ? "locked" : "unlocked") }
                    if p.empty != n.empty { what.append(n.empty ? "now EMPTY" : "no longer empty") }
                    if p.algorithm != n.algorithm { what.append("hash \(p.algorithm ?? "?") -> \(n.algorithm ?? "?")") }
                    changes.append(Change(kind: .passwordChanged, subject: account.name, detail: what.joined(separator: ", ")))
                }
            }
            for account in before.accounts where newByName[account.name] == nil {
                changes.append(Change(kind: .accountRemoved, subject: account.name, detail: "UID \(account.uid)"))
            }
        }

        if let before = old.listeningSockets.value, let after = new.listeningSockets.value {
            func key(_ s: ListeningSocket) -> String { "\(s.transport.rawValue)/\(s.localAddress):\(s.port)" }
            let oldKeys = Set(before.sockets.map(key)), newKeys = Set(after.sockets.map(key))
            for socket in after.sockets where !oldKeys.contains(key(socket)) {
                changes.append(Change(kind: .portOpened, subject: key(socket),
                                      detail: socket.owner.map { "\($0.processName ?? "?") (pid \($0.pid)) \($0.executable ?? "")" } ?? "owner unknown"))
            }
            for socket in before.sockets where !newKeys.contains(key(socket)) {
                changes.append(Change(kind: .portClosed, subject: key(socket), detail: ""))
            }
        }

        if let before = old.firewall.value, let after = new.firewall.value {
            let oldPorts = Dictionary(before.wormPorts.map { ("\($0.transport)/\($0.port)", $0) }, uniquingKeysWith: { a, _ in a })
            for port in after.wormPorts {
                let name = "\(port.transport)/\(port.port)"
                guard let previous = oldPorts[name] else { continue }
                if previous.inbound.state != port.inbound.state || previous.outbound.state != port.outbound.state {
                    changes.append(Change(kind: .firewallChanged, subject: name,
                                          detail: "inbound \(previous.inbound.state.rawValue) -> \(port.inbound.state.rawValue), outbound \(previous.outbound.state.rawValue) -> \(port.outbound.state.rawValue)"))
                }
            }
            let oldTables = Set(before.tables.map { "\($0.family) \($0.name)" }), newTables = Set(after.tables.map { "\($0.family) \($0.name)" })
            for table in newTables.subtracting(oldTables).sorted() { changes.append(Change(kind: .firewallChanged, subject: "table \(table)", detail: "added")) }
            for table in oldTables.subtracting(newTables).sorted() { changes.append(Change(kind: .firewallChanged, subject: "table \(table)", detail: "removed")) }
        }

        if let before = old.sshKeys.value, let after = new.sshKeys.value {
            func keys(_ inv: SSHKeyInventory) -> [String: String] {
                var result: [String: String] = [:]
                for file in inv.files { for key in file.keys { result["\(file.path) \(key.fingerprint)"] = "\(key.keyType) \(key.comment ?? "")" } }
                return result
            }
            let oldKeys = keys(before), newKeys = keys(after)
            for (k, v) in newKeys.sorted(by: { $0.key < $1.key }) where oldKeys[k] == nil { changes.append(Change(kind: .sshKeyAdded, subject: k, detail: v)) }
            for (k, v) in oldKeys.sorted(by: { $0.key < $1.key }) where newKeys[k] == nil { changes.append(Change(kind: .sshKeyRemoved, subject: k, detail: v)) }
        }
        return changes
    }

    static func describe(_ task: ScheduledTaskEntry) -> String {
        String("\(task.kind.rawValue) \(task.user ?? "?") \(task.source): \(task.schedule) \(task.command)".prefix(500))
    }
}
