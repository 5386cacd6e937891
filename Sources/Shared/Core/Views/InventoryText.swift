import Foundation

/// The text view of a jump host's inventory, for `cordon-agent inventory` and
/// `cordon inventory AGENT`. Every string from the host is sanitized before printing.
public enum InventoryText {
    public static let sectionNames = ["packages", "sockets", "accounts", "ssh", "tasks", "logons", "firewall"]

    public static func render(_ report: InventoryReport, section: String? = nil) -> String {
        var parts: [String] = ["Collected \(CordonTime.format(report.collectedAt))"]
        func want(_ name: String) -> Bool { section == nil || section == name }
        func unavailable<T>(_ s: InventorySection<T>, _ title: String) -> String? {
            s.unavailableReason.map { "\(title): unavailable: \(Terminal.sanitize($0))" }
        }
        if want("packages") {
            if let text = unavailable(report.packages, "Packages") { parts.append(text) } else if let p = report.packages.value {
                parts.append("Packages: \(p.packages.count) installed")
                if section == "packages" {
                    var t = TextTable(["NAME", "VERSION", "ARCH", "MANAGER"])
                    for pkg in p.packages { t.add([Terminal.sanitize(pkg.name), Terminal.sanitize(pkg.version), Terminal.sanitize(pkg.architecture), pkg.manager.rawValue]) }
                    parts.append(t.render())
                }
            }
        }
        if want("sockets") {
            if let text = unavailable(report.listeningSockets, "Listening sockets") { parts.append(text) } else if let s = report.listeningSockets.value {
                var t = TextTable(["PROTO", "ADDRESS", "PORT", "PROCESS", "EXECUTABLE"])
                for sock in s.sockets.sorted(by: { ($0.port, $0.transport.rawValue) < ($1.port, $1.transport.rawValue) }) {
                    t.add([sock.transport.rawValue + (sock.family == .ipv6 ? "6" : ""), Terminal.sanitize(sock.localAddress), "\(sock.port)",
                           sock.owner.map { "\($0.processName.map { Terminal.sanitize($0) } ?? "?")[\($0.pid)]" } ?? "?",
                           Terminal.sanitize(sock.owner?.executable ?? "")])
                }
                parts.append("Listening sockets (\(s.sockets.count))\(s.ownersComplete ? "" : ", owners incomplete (not root)"):\n" + t.render())
            }
        }
        if want("accounts") {
            if let text = unavailable(report.accounts, "Accounts") { parts.append(text) } else if let a = report.accounts.value {
                var t = TextTable(["USER", "UID", "SHELL", "LOGIN", "ADMIN", "PASSWORD", "AGE"])
                for acct in a.accounts where acct.loginCapable || acct.isAdmin || acct.uid == 0 || section == "accounts" {
                    let pw = acct.password.map { $0.empty ? "EMPTY" : $0.locked ? "locked" : ($0.algorithm ?? "set") } ?? "?"
                    t.add([Terminal.sanitize(acct.name), "\(acct.uid)", Terminal.sanitize(acct.shell), acct.loginCapable ? "yes" : "no",
                           acct.isAdmin ? "yes" : "", pw, acct.password?.ageDays.map { "\($0)d" } ?? ""])
                }
                var header = "Accounts (\(a.accounts.count)\(section == "accounts" ? "" : ", login-capable, admin and UID 0 shown"))"
                if !a.shadowReadable { header += ", shadow unreadable (not root)" }
                if a.duplicateUIDZeroAccounts.count > 0 { header += ", UID 0 besides root: \(a.duplicateUIDZeroAccounts.joined(separator: ", "))" }
                parts.append(header + ":\n" + t.render())
            }
        }
        if want("ssh") {
            if let text = unavailable(report.sshKeys, "SSH keys") { parts.append(text) } else if let k = report.sshKeys.value {
                var t = TextTable(["USER", "FILE", "TYPE", "FINGERPRINT", "COMMENT"])
                for file in k.files { for key in file.keys {
                    t.add([Terminal.sanitize(file.accounts.joined(separator: ",")), Terminal.sanitize(file.path), Terminal.sanitize(key.keyType), key.fingerprint, Terminal.sanitize(key.comment ?? "", limit: 40)])
                } }
                parts.append("Authorized SSH keys:\n" + (t.rows.isEmpty ? "none" : t.render()))
            }
        }
        if want("tasks") {
            if let text = unavailable(report.scheduledTasks, "Scheduled tasks") { parts.append(text) } else if let s = report.scheduledTasks.value {
                var t = TextTable(["ID", "KIND", "USER", "SCHEDULE", "COMMAND", "FLAGS"])
                for e in s.entries {
                    t.add([e.id, e.kind.rawValue, Terminal.sanitize(e.user ?? ""), Terminal.sanitize(e.schedule, limit: 30), Terminal.sanitize(e.command, limit: 60),
                           (e.enabled ? "" : "disabled ") + (e.suspiciousPaths.isEmpty ? "" : "writable-path")])
                }
                parts.append("Scheduled tasks (\(s.entries.count)):\n" + (t.rows.isEmpty ? "none" : t.render()))
            }
        }
        if want("logons") {
            if let text = unavailable(report.failedLogons, "Failed logons") { parts.append(text) } else if let f = report.failedLogons.value {
                var t = TextTable(["SOURCE", "ACCOUNT", "COUNT", "FIRST", "LAST"])
                for a in f.aggregates.sorted(by: { $0.count > $1.count }) {
                    t.add([Terminal.sanitize(a.source), Terminal.sanitize(a.account), "\(a.count)", CordonTime.format(a.first), CordonTime.format(a.last)])
                }
                parts.append("Failed logons since \(CordonTime.format(f.windowStart)):\n" + (t.rows.isEmpty ? "none" : t.render()))
            }
        }
        if want("firewall") {
            if let text = unavailable(report.firewall, "Firewall") { parts.append(text) } else if let fw = report.firewall.value {
                var t = TextTable(["PORT", "INBOUND", "OUTBOUND"])
                for p in fw.wormPorts { t.add(["\(p.transport)/\(p.port)", p.inbound.state.rawValue, p.outbound.state.rawValue]) }
                parts.append("Firewall (tables: \(fw.tables.map { "\($0.family) \($0.name)" }.joined(separator: ", ")); Cordon's table \(fw.cordonTablePresent ? "present" : "absent")):\n" + t.render())
            }
        }
        return parts.joined(separator: "\n\n")
    }
}
