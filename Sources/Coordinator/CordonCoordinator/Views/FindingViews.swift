import CordonShared
import Foundation

/// Tables of hosts and findings for people.
public enum FindingViews {
    public static func hostsTable(_ hosts: [HostView]) -> String {
        guard !hosts.isEmpty else { return "No hosts." }
        var table = TextTable(["SEGMENT", "ADDRESS", "NAME", "OS", "OPEN PORTS", "EXPOSED TO", "INFECTED"])
        for h in hosts {
            let open = h.services.filter { $0.observation.state == .open }.map { "\($0.observation.port)" + ($0.observation.proto == .udp ? "/udp" : "") }
            table.add([h.segment, h.address, Terminal.sanitize(h.netbiosName ?? "", limit: 20), Terminal.sanitize(h.osGuess ?? "", limit: 28),
                       open.joined(separator: ","), h.exposedTo.map(\.rawValue).joined(separator: ","),
                       h.infectedBy.isEmpty ? "" : h.infectedBy.map { $0.rawValue.uppercased() }.joined(separator: ",")])
        }
        return table.render()
    }

    public static func findingsTable(_ findings: [FindingView]) -> String {
        guard !findings.isEmpty else { return "No findings." }
        var table = TextTable(["SEVERITY", "KIND", "WORM", "SEGMENT", "WHERE", "DETECTION", "EVIDENCE"])
        for f in findings {
            let place = f.address.map { $0 + (f.port.map { ":\($0)" } ?? "") } ?? "jump host \(f.hostName ?? f.agentID)"
            table.add([f.severity.rawValue + (f.resolvedAt != nil ? " (resolved)" : ""), f.kind.rawValue, f.worm.rawValue, f.segment,
                       Terminal.sanitize(place, limit: 40), f.detectionID, Terminal.sanitize(f.evidence, limit: 70)])
        }
        return table.render()
    }
}
