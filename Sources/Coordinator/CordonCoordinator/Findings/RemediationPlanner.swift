import CordonShared
import Foundation

/// Proposes remediation from a segment's findings: a task list per jump host (what Cordon can
/// do itself) and a work list for the Windows hosts (what people must do), after the vendor
/// guides' response steps.
public enum RemediationPlanner {
    public static let wormTCPPorts = [135, 139, 445, 593]
    public static let wormUDPPorts = [135, 137, 138, 445]

    public struct JumpHost: Sendable {
        public var agentID: String
        public var hostName: String
        public var inventory: InventoryReport?
        /// The jump host's local policy as its agent last reported it; nil when unknown.
        public var policy: RemediationPolicy?
        /// Why the policy is unknown (an old agent, an invalid policy file).
        public var policyNote: String?
        public init(agentID: String, hostName: String, inventory: InventoryReport?, policy: RemediationPolicy? = nil, policyNote: String? = nil) {
            self.agentID = agentID
            self.hostName = hostName
            self.inventory = inventory
            self.policy = policy
            self.policyNote = policyNote
        }
    }

    public static func plan(segment: String, jumpHosts: [JumpHost], findings: [FindingView], hosts: [HostView], now: Date = Date()) -> SegmentPlan {
        let open = findings.filter { $0.status == .open && $0.segment == segment }
        let scan = open.filter { $0.source == .scan }
        let iocs = scan.filter { $0.kind == .ioc }
        let exposedWorms = Set(scan.map(\.worm))

        var agents: [AgentPlan] = []
        for jump in jumpHosts {
            let mine = open.filter { $0.source == .inventory && $0.agentID == jump.agentID }
            var actions: [PlannedAction] = []
            var seenUsers: Set<String> = []
            // A second UID 0 is a backdoor: it is locked, never given a fresh (escrowed) password.
            let backdoors = mine.filter { $0.detectionID == DetectionCatalogue.unexpectedUID0 && $0.item.hasPrefix("account:") }
                .map { String($0.item.dropFirst(8)) }
            for user in backdoors where TaskAction.isAccountName(user) && seenUsers.insert(user).inserted {
                actions.append(PlannedAction(action: .lockAccount(user: user),
                                             because: "\(DetectionCatalogue.unexpectedUID0): \(user) has UID 0; lock it (password and shell), then investigate"))
            }
            func rotate(_ user: String, _ why: String) {
                guard seenUsers.insert(user).inserted else { return }
                actions.append(PlannedAction(action: .rotatePassword(user: user, length: TaskAction.defaultPasswordLength), because: why))
            }
            if !iocs.isEmpty, let accounts = jump.inventory?.accounts.value {
                let hostsList = Set(iocs.compactMap(\.address)).sorted().prefix(5).joined(separator: ", ")
                for account in accounts.accounts where account.isAdmin && account.loginCapable && account.password?.locked == false {
                    rotate(account.name, "indicators of compromise in the segment (\(hostsList)): change every admin password")
                }
            }
            for f in mine where [DetectionCatalogue.passwordAge, DetectionCatalogue.emptyPassword].contains(f.detectionID) {
                if f.item.hasPrefix("account:") { rotate(String(f.item.dropFirst(8)), "\(f.detectionID): \(f.evidence)") }
            }
            // Scheduled tasks: those that appeared after the baseline, and those whose executable
            // sits in a world-writable place (the agent decides that); baseline jobs that merely
            // mention such a path are left alone. The source lets the agent explain an ID that
            // no longer matches.
            let entries = jump.inventory?.scheduledTasks.value?.entries ?? []
            var seenTasks: Set<String> = []
            for f in mine where [DetectionCatalogue.newScheduledTask, DetectionCatalogue.taskFromWritablePath].contains(f.detectionID) && f.item.hasPrefix("task:") {
                let id = String(f.item.dropFirst(5))
                guard TaskAction.isTaskID(id), seenTasks.insert(id).inserted else { continue }
                let source = entries.first { $0.id == id }.map(\.source).flatMap { TaskAction.isSourcePath($0) ? $0 : nil }
                actions.append(PlannedAction(action: .removeScheduledTask(id: id, source: source), because: "\(f.detectionID): \(f.evidence)"))
            }
            let unblocked = mine.contains { $0.detectionID == DetectionCatalogue.wormPortsUnblocked }
            if unblocked || !exposedWorms.isEmpty {
                let why = unblocked ? "the jump host's firewall does not block the worm ports" : "hosts in the segment are exposed to \(exposedWorms.sorted().map(\.displayName).joined(separator: ", "))"
                actions.append(PlannedAction(action: .blockPorts(tcp: wormTCPPorts, udp: wormUDPPorts, direction: .both), because: why))
            }
            if !actions.isEmpty {
                actions.append(PlannedAction(action: .refreshInventory, because: "confirm the changes in the inventory"))
                actions.append(PlannedAction(action: .rescan, because: "see the segment again after the changes"))
            }
            // What the jump host's own policy would refuse is left out (one refusal refuses the
            // whole list), and said so.
            var leftOut: [PlannedAction] = []
            if let policy = jump.policy {
                actions = actions.filter { planned in
                    guard let reason = policy.refusal(of: planned.action) else { return true }
                    leftOut.append(PlannedAction(action: planned.action, because: "the local policy of \(jump.hostName) refuses it: \(reason)"))
                    return false
                }
                if actions.allSatisfy({ [.rescan, .refreshInventory].contains($0.action) }) { actions = [] }
            }
            agents.append(AgentPlan(agentID: jump.agentID, hostName: jump.hostName, actions: actions, leftOut: leftOut,
                                    yaml: yaml(segment: segment, jump: jump, actions: actions, leftOut: leftOut, now: now)))
        }

        // Hosts the jump host's sensor caught sweeping the segment first (they are spreading
        // the worm now), then the infected ones, then the exposed ones.
        let work = hosts.filter { $0.segment == segment && !$0.findings.isEmpty }
            .map { (host: $0, spreading: $0.findings.contains { $0.detectionID == DetectionCatalogue.wormSpreading }) }
            .sorted { a, b in
                (a.spreading ? 0 : 1, a.host.infectedBy.isEmpty ? 1 : 0, IPv4CIDR.parseAddress(a.host.address) ?? 0, a.host.address)
                    < (b.spreading ? 0 : 1, b.host.infectedBy.isEmpty ? 1 : 0, IPv4CIDR.parseAddress(b.host.address) ?? 0, b.host.address)
            }
            .map { workItem($0.host) }
        return SegmentPlan(segment: segment, generatedAt: now, agents: agents, windowsWork: work,
                           windowsCSV: windowsCSV(work), windowsMarkdown: windowsMarkdown(segment: segment, work, now: now))
    }

    static func yaml(segment: String, jump: JumpHost, actions: [PlannedAction], leftOut: [PlannedAction], now: Date) -> String {
        var lines = [
            "# Cordon remediation plan for \(jump.hostName) (\(jump.agentID)), segment \(segment)",
            "# Proposed by `cordon plan` at \(CordonTime.format(now)) from the open findings. Review, then:",
            "#   cordon tasks push --agent \(jump.agentID) THIS-FILE --dry-run",
            "#   cordon tasks push --agent \(jump.agentID) THIS-FILE",
            "description: \"Cordon plan for \(jump.hostName) in \(segment)\"",
        ]
        if jump.policy == nil {
            lines.insert("# The agent has not reported its local policy (\(jump.policyNote ?? "an older agent")): it may refuse this list whole.", at: 3)
        }
        for planned in leftOut {
            lines.append("# Left out: \(planned.action.yamlLine.dropFirst(2)) — \(planned.because.replacingOccurrences(of: "\n", with: " ").prefix(300))")
        }
        if actions.isEmpty {
            lines.append("# Nothing to do on this jump host: no open findings call for an action.")
            lines.append("tasks: []")
        } else {
            lines.append("tasks:")
            for planned in actions {
                lines.append("  # \(planned.because.replacingOccurrences(of: "\n", with: " ").prefix(300))")
                lines.append("  " + planned.action.yamlLine)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let updates: [Worm: [String]] = [
        .codeRed: ["MS01-033"], .blaster: ["MS03-039"], .zotob: ["MS05-039"],
        .conficker: ["KB958644", "KB957097", "KB958687"], .wannacry: ["MS17-010"],
    ]

    static func workItem(_ host: HostView) -> WindowsWorkItem {
        let ids = Set(host.findings.map(\.detectionID))
        let infected = host.infectedBy
        var updatesNeeded: [String] = []
        for worm in host.exposedTo { for u in updates[worm] ?? [] where !updatesNeeded.contains(u) { updatesNeeded.append(u) } }
        let smb1 = ids.contains(DetectionCatalogue.wannacrySMBv1) || ids.contains(DetectionCatalogue.wannacryMS17010)
        let conficker = host.exposedTo.contains(.conficker)
        let changePasswords = !infected.isEmpty || ids.contains(DetectionCatalogue.zotobNullSession)
        var steps: [String] = []
        if let sweep = host.findings.first(where: { $0.detectionID == DetectionCatalogue.wormSpreading }) {
            steps.append("Isolate the host now: it is sweeping the segment (\(sweep.evidence.prefix(200)))")
        }
        if !infected.isEmpty { steps.append("Isolate the host now (\(infected.map(\.displayName).joined(separator: ", ")) indicators); rebuild or clean it before reconnecting") }
        if !updatesNeeded.isEmpty { steps.append("Install \(updatesNeeded.joined(separator: ", "))") }
        if smb1 { steps.append("Disable SMBv1") }
        if conficker { steps.append("Disable AutoRun") }
        if ids.contains(DetectionCatalogue.zotobNullSession) || ids.contains(DetectionCatalogue.smbNullSession) {
            steps.append("Set RestrictAnonymous (no null sessions)")
        }
        if ids.contains(DetectionCatalogue.codeRedIdaMapping) { steps.append("Remove the .ida/.idq script mappings from IIS") }
        if ids.contains(DetectionCatalogue.blasterRPC) { steps.append("Disable DCOM where not needed") }
        if changePasswords { steps.append("Change every administrator password") }
        if infected.contains(.conficker) { steps.append("Delete the worm's scheduled jobs (at /delete /yes)") }
        return WindowsWorkItem(address: host.address, name: host.netbiosName, os: host.osGuess, infectedBy: infected, exposedTo: host.exposedTo,
                               updates: updatesNeeded, disableSMBv1: smb1, disableAutoRun: conficker, changePasswords: changePasswords,
                               deleteScheduledJobs: infected.contains(.conficker), steps: steps)
    }

    static func windowsCSV(_ items: [WindowsWorkItem]) -> String {
        func field(_ s: String) -> String {
            var v = s
            if let f = v.first, "=+-@".contains(f) { v = "'" + v }
            return v.contains(",") || v.contains("\"") || v.contains("\n") ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
        }
        var rows = [["address", "name", "os", "infected_by", "exposed_to", "install_updates", "disable_smbv1", "disable_autorun",
                     "change_passwords", "delete_scheduled_jobs", "steps"]]
        for i in items {
            rows.append([i.address, i.name ?? "", i.os ?? "", i.infectedBy.map(\.rawValue).joined(separator: " "), i.exposedTo.map(\.rawValue).joined(separator: " "),
                         i.updates.joined(separator: " "), i.disableSMBv1 ? "yes" : "no", i.disableAutoRun ? "yes" : "no",
                         i.changePasswords ? "yes" : "no", i.deleteScheduledJobs ? "yes" : "no", i.steps.joined(separator: "; ")])
        }
        return rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func windowsMarkdown(segment: String, _ items: [WindowsWorkItem], now: Date) -> String {
        func md(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines = ["# Windows work list: segment \(segment)", "",
                     "Generated by `cordon plan` at \(CordonTime.format(now)). Hosts sweeping the segment first, then infected hosts.", ""]
        if items.isEmpty { lines.append("No Windows host in this segment has an open finding.") }
        for i in items {
            lines.append("## \(md(i.address))\(i.name.map { " (\(md($0)))" } ?? "")\(i.infectedBy.isEmpty ? "" : " — INFECTED: \(i.infectedBy.map(\.displayName).joined(separator: ", "))")")
            if let os = i.os { lines.append("OS: \(md(os))  ") }
            lines.append("Exposed to: \(i.exposedTo.map(\.displayName).joined(separator: ", "))")
            lines.append("")
            for step in i.steps { lines.append("- [ ] \(md(step))") }
            lines.append("")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
