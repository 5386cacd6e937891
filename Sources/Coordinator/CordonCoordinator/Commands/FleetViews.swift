import CordonShared
import Foundation

/// The text views of the fleet that the CLI and `cordon demo` print.
public enum FleetViews {
    public static func status(_ status: FleetStatus, now: Date = Date()) -> String {
        guard !status.segments.isEmpty else { return "No agents enrolled yet. Create a token with `cordon tokens create --segment NAME`." }
        var segments = TextTable(["SEGMENT", "AGENTS", "ONLINE", "LATE", "OFFLINE", "REVOKED", "LAST REPORT", "SPOOL DROPS", "LAST SCAN", "HOSTS UP"])
        for s in status.segments {
            let total = s.agents.values.reduce(0, +)
            segments.add([s.name, "\(total)", "\(s.count(.online))", "\(s.count(.late))", "\(s.count(.offline))", "\(s.count(.revoked))",
                          ago(s.lastReportAt, now: now), "\(s.spoolDropped)", ago(s.lastScanAt, now: now), "\(s.hostsUp)"])
        }
        var out = segments.render()
        var worms = TextTable(["SEGMENT", "WORM", "EXPOSED HOSTS", "INFECTED HOSTS"])
        for s in status.segments { for w in s.worms { worms.add([s.name, w.worm.displayName, "\(w.exposedHosts)", "\(w.infectedHosts)"]) } }
        out += "\n\n" + (worms.rows.isEmpty ? "No exposed or infected hosts found (yet)." : worms.render())
        var jump = TextTable(["SEGMENT", "JUMP-HOST FINDINGS", "CRITICAL", "HIGH", "MEDIUM", "LOW"])
        for s in status.segments where !s.jumpHostFindings.isEmpty {
            jump.add([s.name, "\(s.jumpHostFindings.values.reduce(0, +))", "\(s.jumpHostFindings[.critical] ?? 0)", "\(s.jumpHostFindings[.high] ?? 0)",
                      "\(s.jumpHostFindings[.medium] ?? 0)", "\(s.jumpHostFindings[.low] ?? 0)"])
        }
        if !jump.rows.isEmpty { out += "\n\n" + jump.render() }
        guard let omitted = status.attentionOmitted else { return out + "\n\n" + agentsTable(status.agents, now: now) }
        if status.agents.isEmpty { return out + "\n\nEvery agent is online (or revoked)." }
        out += "\n\nLate and offline agents, longest silent first:\n" + agentsTable(status.agents, now: now)
        if omitted > 0 { out += "\n... and \(omitted) more late or offline: `cordon agents list` shows every agent." }
        return out
    }

    public static func agentsTable(_ agents: [AgentSummary], now: Date = Date()) -> String {
        guard !agents.isEmpty else { return "No agents." }
        var table = TextTable(["AGENT", "SEGMENT", "HOST", "STATE", "LAST SEEN", "LAST REPORT", "SPOOL", "VERSION"])
        for a in agents {
            table.add([a.id, a.segment, Terminal.sanitize(a.hostname, limit: 40), a.state.rawValue, ago(a.lastSeenAt, now: now),
                       ago(a.lastReportAt, now: now), "\(a.spoolDepth)", Terminal.sanitize(a.agentVersion, limit: 16)])
        }
        return table.render()
    }

    public static func agentDetail(_ detail: AgentDetail, now: Date = Date()) -> String {
        let a = detail.agent
        var lines = [
            "Agent:        \(a.id)",
            "Segment:      \(a.segment)",
            "Host:         \(Terminal.sanitize(a.hostname))",
            "State:        \(a.state.rawValue)",
            "Enrolled:     \(CordonTime.format(a.enrolledAt))",
            "Last seen:    \(ago(a.lastSeenAt, now: now))",
            "Last report:  \(ago(a.lastReportAt, now: now))",
            "Reports:      \(detail.reportCount)",
            "Heartbeat:    every \(HumanDuration.format(a.heartbeatInterval))",
            "Spool:        \(a.spoolDepth) queued, \(a.spoolDroppedTotal) dropped in total",
            "Certificate:  valid until \(CordonTime.format(a.certificateNotAfter))",
        ]
        if let revoked = a.revokedAt { lines.append("Revoked:      \(CordonTime.format(revoked))") }
        if let f = detail.facts {
            lines += [
                "OS:           \(Terminal.sanitize(f.osRelease))",
                "Kernel:       \(Terminal.sanitize(f.kernel))",
                "Agent:        \(Terminal.sanitize(f.agentVersion))",
                "Uptime:       \(HumanDuration.format(f.uptimeSeconds))",
                "Addresses:    \(f.addresses.map { Terminal.sanitize($0) }.joined(separator: ", "))",
            ]
        }
        return lines.joined(separator: "\n")
    }
}
