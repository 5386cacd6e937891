import CordonShared
import Foundation

/// How one host came out of a rollout: one row of the table, one element of `--json`.
public struct RolloutHostResult: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        case installed, upgraded, repaired, unchanged
        /// `rollout plan`: nothing was changed; `action` says what apply would do.
        case planned
        case failed
    }

    public var segment: String
    public var host: String
    public var address: String
    /// The bastion it was reached through.
    public var via: String?
    /// What the rollout decided: install, upgrade, repair, unchanged, refuse; nil when the host
    /// could not be probed.
    public var action: String?
    public var outcome: Outcome
    /// The agent binary is on the host.
    public var installed: Bool
    public var enrolled: Bool
    /// The agent is running (systemd or the plain supervisor).
    public var running: Bool
    /// The coordinator has a report from it (after the change, for a changed host); nil when not checked.
    public var reporting: Bool?
    /// "systemd" or "plain" (cordon-agent-supervise, on hosts without systemd).
    public var supervisor: String?
    public var systemd: Bool?
    public var agentID: String?
    public var version: String?
    public var previousVersion: String?
    /// How the agent is installed there: "deb" (the Debian package) or "files" (install-agent.sh
    /// from a tarball or a bare binary).
    public var package: String?
    public var detail: String?
    /// Why it failed, one line.
    public var error: String?
    /// The step that failed: precheck, connect, probe, token, upload, install, report.
    public var failedStep: String?
    public var seconds: Double

    public init(host: RolloutInventory.Host, outcome: Outcome) {
        self.segment = host.segment
        self.host = host.name
        self.address = host.endpoint.address
        self.via = host.proxyJump
        self.outcome = outcome
        self.installed = false
        self.enrolled = false
        self.running = false
        self.seconds = 0
    }

    /// The host ended where it should: changed or left alone, and reporting when that was checked.
    public var succeeded: Bool { outcome != .failed && reporting != false }
}

/// The whole run, for `--json`.
public struct RolloutReport: Codable, Sendable, Equatable {
    public struct SegmentResult: Codable, Sendable, Equatable {
        public var name: String
        public var scope: [String]
        /// set, unchanged, would-set (plan), unknown (plan --offline) or failed.
        public var scopeAction: String
        public var previousScope: [String]?
        public var error: String?
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var hosts: Int
        public var installed: Int
        public var upgraded: Int
        public var repaired: Int
        public var unchanged: Int
        public var planned: Int
        public var failed: Int
        public var reporting: Int
        public var withoutSystemd: Int
    }

    public var command: String
    public var inventory: String
    public var coordinator: String
    public var agentVersion: String
    public var agentSHA256: String
    public var startedAt: Date
    public var finishedAt: Date
    public var parallel: Int
    public var segments: [SegmentResult]
    public var hosts: [RolloutHostResult]
    public var summary: Summary

    static func summarize(_ hosts: [RolloutHostResult]) -> Summary {
        func count(_ o: RolloutHostResult.Outcome) -> Int { hosts.filter { $0.outcome == o }.count }
        return Summary(hosts: hosts.count, installed: count(.installed), upgraded: count(.upgraded), repaired: count(.repaired),
                       unchanged: count(.unchanged), planned: count(.planned), failed: count(.failed),
                       reporting: hosts.filter { $0.reporting == true }.count, withoutSystemd: hosts.filter { $0.systemd == false }.count)
    }
}

extension RolloutReport {
    /// The per-host table for people.
    public func renderTable() -> String {
        var lines: [String] = []
        for segment in segments {
            var line = "segment \(segment.name): scope \(segment.scope.joined(separator: " ")) (\(segment.scopeAction)"
            if let previous = segment.previousScope, segment.scopeAction != "unchanged" {
                line += "; was \(previous.isEmpty ? "unrestricted" : previous.joined(separator: " "))"
            }
            line += ")"
            if let error = segment.error { line += ": \(error)" }
            lines.append(line)
        }
        if !lines.isEmpty { lines.append("") }
        let planning = command == "plan"
        var table = TextTable(planning ? ["SEGMENT", "HOST", "ADDRESS", "ACTION", "INSTALLED", "ENROLLED", "RUNNING", "SUPERVISOR", "VERSION", "DETAIL"]
                                       : ["SEGMENT", "HOST", "ADDRESS", "RESULT", "INSTALLED", "ENROLLED", "REPORTING", "SUPERVISOR", "VERSION", "DETAIL"])
        func yes(_ b: Bool?) -> String { b.map { $0 ? "yes" : "no" } ?? "-" }
        for h in hosts {
            let address = h.address + (h.via.map { " via \($0)" } ?? "")
            let version: String
            if let previous = h.previousVersion, let now = h.version, previous != now { version = "\(previous) -> \(now)" } else { version = h.version ?? "-" }
            let detail = h.error.map { "ERROR (\(h.failedStep ?? "?")): \($0)" } ?? h.detail ?? ""
            let first = planning ? (h.outcome == .failed ? "failed" : h.action ?? "?") : h.outcome.rawValue
            // Not probed (plan --offline, or a host that could not be reached): unknown, not "no".
            let known = h.action != nil && h.action != "probe"
            func cell(_ b: Bool?) -> String { known ? yes(b) : "?" }
            table.add([h.segment, h.host, address, first, cell(h.installed), cell(h.enrolled), planning ? cell(h.running) : yes(h.reporting),
                       h.supervisor ?? "-", version, Terminal.sanitize(detail, limit: 400)])
        }
        lines.append(table.render())
        let s = summary
        if planning {
            lines.append("\n\(s.hosts) host(s): \(s.failed) could not be probed. Nothing was changed; `cordon rollout apply` does it.")
        } else {
            lines.append("\n\(s.hosts) host(s): \(s.installed) installed, \(s.upgraded) upgraded, \(s.repaired) repaired, \(s.unchanged) unchanged, "
                + "\(s.failed) failed; \(s.reporting) reporting.")
        }
        if s.withoutSystemd > 0 {
            lines.append("\(s.withoutSystemd) host(s) have no systemd: the agent runs under cordon-agent-supervise (pid file /run/cordon-agent/supervise.pid).")
        }
        return lines.joined(separator: "\n")
    }
}
