import CordonShared
import Foundation

/// Turns a jump host's inventory into findings from the catalogue.
///
/// A rule only runs when the section it needs is available; ``Evaluation/evaluated`` names
/// the detections that were decided, so that storage resolves earlier findings of those
/// detections only (a section that could not be read resolves nothing).
public enum InventoryFindingRules {
    public struct Evaluation: Sendable, Equatable {
        public var findings: [DerivedFinding]
        public var evaluated: Set<String>
    }

    /// The worm ports the vendor guides say to block.
    static let wormPorts: Set<String> = ["tcp/135", "tcp/139", "tcp/445", "tcp/593", "udp/135", "udp/137", "udp/138", "udp/445"]

    public static func evaluate(_ inventory: InventoryReport, baselineTaskIDs: Set<String>?, policy: InventoryPolicy) -> Evaluation {
        var findings: [DerivedFinding] = []
        var evaluated: Set<String> = []

        if let accounts = inventory.accounts.value {
            evaluated.insert(DetectionCatalogue.unexpectedUID0)
            // A second UID 0 that is locked and has no login shell (what lock-account leaves)
            // cannot log in any more: contained, and resolved as such.
            for account in accounts.accounts where account.uid == 0 && !policy.allowedUID0.contains(account.name)
                && (account.loginCapable || account.password?.locked == false) {
                findings.append(DerivedFinding(detectionID: DetectionCatalogue.unexpectedUID0, item: "account:\(account.name)",
                                               evidence: "\(account.name) has UID 0 (shell \(account.shell))"))
            }
            if accounts.shadowReadable {
                evaluated.insert(DetectionCatalogue.passwordAge)
                evaluated.insert(DetectionCatalogue.emptyPassword)
                let maxDays = Int(policy.passwordMaxAge.seconds / 86400)
                for account in accounts.accounts {
                    guard let password = account.password else { continue }
                    if password.empty {
                        findings.append(DerivedFinding(detectionID: DetectionCatalogue.emptyPassword, item: "account:\(account.name)",
                                                       evidence: "\(account.name) (UID \(account.uid)) has an empty password\(account.loginCapable ? " and a login shell" : "")"))
                        continue
                    }
                    guard !password.locked, account.loginCapable || account.isAdmin, let age = password.ageDays, age > maxDays else { continue }
                    findings.append(DerivedFinding(detectionID: DetectionCatalogue.passwordAge, item: "account:\(account.name)",
                                                   evidence: "\(account.name)\(account.isAdmin ? " (admin)" : ""): password \(age) days old, policy \(maxDays) days"))
                }
            }
        }

        if let tasks = inventory.scheduledTasks.value {
            evaluated.insert(DetectionCatalogue.taskFromWritablePath)
            if let baselineTaskIDs {
                evaluated.insert(DetectionCatalogue.newScheduledTask)
                for task in tasks.entries where !baselineTaskIDs.contains(task.id) {
                    findings.append(DerivedFinding(detectionID: DetectionCatalogue.newScheduledTask, item: "task:\(task.id)",
                                                   evidence: "\(task.kind.rawValue) \(task.id) (\(task.user ?? "?"), \(task.source)): \(task.schedule) \(task.command)"))
                }
            }
            for task in tasks.entries where !task.suspiciousPaths.isEmpty {
                findings.append(DerivedFinding(detectionID: DetectionCatalogue.taskFromWritablePath, item: "task:\(task.id)",
                                               evidence: "\(task.kind.rawValue) \(task.id) runs from \(task.suspiciousPaths.joined(separator: ", ")): \(task.command)"))
            }
        }

        if let logons = inventory.failedLogons.value {
            evaluated.insert(DetectionCatalogue.failedLogonBurst)
            var bySource: [String: (count: Int, accounts: Set<String>, last: Date)] = [:]
            for aggregate in logons.aggregates {
                var entry = bySource[aggregate.source] ?? (0, [], .distantPast)
                // Counts come from the agent: a sum that would overflow saturates (Int.max crashed it).
                entry.count = Saturating.add(entry.count, aggregate.count)
                entry.accounts.insert(aggregate.account)
                entry.last = max(entry.last, aggregate.last)
                bySource[aggregate.source] = entry
            }
            for (source, entry) in bySource.sorted(by: { $0.key < $1.key }) where entry.count >= policy.failedLogonBurst {
                findings.append(DerivedFinding(detectionID: DetectionCatalogue.failedLogonBurst, item: "source:\(source)",
                                               evidence: "\(entry.count) failed logons from \(source) since \(CordonTime.format(logons.windowStart)) for \(entry.accounts.sorted().prefix(8).joined(separator: ", ")); last \(CordonTime.format(entry.last))"))
            }
        }

        if let firewall = inventory.firewall.value {
            evaluated.insert(DetectionCatalogue.wormPortsUnblocked)
            for (direction, verdict) in [("inbound", \WormPortFilter.inbound), ("outbound", \WormPortFilter.outbound)] {
                let open = firewall.wormPorts.filter { wormPorts.contains("\($0.transport)/\($0.port)") && $0[keyPath: verdict].state != .blocked }
                guard !open.isEmpty else { continue }
                let list = open.map { "\($0.transport)/\($0.port)\($0[keyPath: verdict].state == .partial ? " (partial)" : "")" }
                findings.append(DerivedFinding(detectionID: DetectionCatalogue.wormPortsUnblocked, item: "firewall:\(direction)",
                                               evidence: "\(direction) not blocked: \(list.joined(separator: ", "))"))
            }
        }
        return Evaluation(findings: findings, evaluated: evaluated)
    }
}
