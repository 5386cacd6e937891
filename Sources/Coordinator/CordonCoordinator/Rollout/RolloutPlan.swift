import CordonShared
import Foundation

/// What a jump host has now, as `install-agent.sh --probe` reports it (the JSON of its last
/// line, `CORDON-INSTALL {...}`). The same shape comes back after an install, with `result` set.
public struct RemoteAgentState: Codable, Sendable, Equatable {
    /// After an install: installed, upgraded, repaired, unchanged or failed. nil for a probe.
    public var result: String?
    public var message: String?
    public var hostname: String?
    public var os: String?
    /// systemd runs this host (`/run/systemd/system` exists and `systemctl` too).
    public var systemd: Bool
    /// How the agent is kept running: "systemd", "plain" (cordon-agent-supervise), or nil (not set up).
    public var supervisor: String?
    public var installed: Bool
    public var sha256: String?
    public var version: String?
    public var enrolled: Bool
    public var agentID: String?
    public var segment: String?
    public var caFingerprint: String?
    public var running: Bool
    public var pid: Int?
    public var configSHA256: String?
    public var policySHA256: String?
    public var superviseSHA256: String?
    public var unitSHA256: String?
    /// The enrollment token went on cordon-agent's command line (an agent without --token-file).
    public var tokenOnCommandLine: Bool?
    /// How the installed agent got there: "deb" (the Debian package owns the binary, the unit and
    /// the supervisor script), "files" (install-agent.sh put them there), nil (none installed, or
    /// an install script from before packages).
    public var package: String?
    /// dpkg is on the host: the rollout sends the .deb there, the tarball elsewhere.
    public var dpkg: Bool?

    public init(result: String? = nil, message: String? = nil, hostname: String? = nil, os: String? = nil, systemd: Bool = false,
                supervisor: String? = nil, installed: Bool = false, sha256: String? = nil, version: String? = nil, enrolled: Bool = false,
                agentID: String? = nil, segment: String? = nil, caFingerprint: String? = nil, running: Bool = false, pid: Int? = nil,
                configSHA256: String? = nil, policySHA256: String? = nil, superviseSHA256: String? = nil, unitSHA256: String? = nil,
                tokenOnCommandLine: Bool? = nil, package: String? = nil, dpkg: Bool? = nil) {
        self.result = result
        self.message = message
        self.hostname = hostname
        self.os = os
        self.systemd = systemd
        self.supervisor = supervisor
        self.installed = installed
        self.sha256 = sha256
        self.version = version
        self.enrolled = enrolled
        self.agentID = agentID
        self.segment = segment
        self.caFingerprint = caFingerprint
        self.running = running
        self.pid = pid
        self.configSHA256 = configSHA256
        self.policySHA256 = policySHA256
        self.superviseSHA256 = superviseSHA256
        self.unitSHA256 = unitSHA256
        self.tokenOnCommandLine = tokenOnCommandLine
        self.package = package
        self.dpkg = dpkg
    }

    /// The marker of install-agent.sh's machine-readable last line.
    public static let marker = "CORDON-INSTALL "

    /// The state from install-agent.sh's output: its last `CORDON-INSTALL {...}` line.
    public static func parse(output: String) -> RemoteAgentState? {
        for line in output.split(whereSeparator: \.isNewline).reversed() where line.hasPrefix(marker) {
            return try? CordonJSON.decode(RemoteAgentState.self, from: Data(line.dropFirst(marker.count).utf8))
        }
        return nil
    }
}

/// What the rollout wants on a host: computed once per host from the inventory and the local
/// files, compared with ``RemoteAgentState`` by ``RolloutPlanner``.
public struct RolloutTarget: Sendable, Equatable {
    public var host: RolloutInventory.Host
    public var agentSHA256: String
    /// `cordon-agent --version` of the binary to install ("unknown" when it cannot run here).
    public var agentVersion: String
    public var caFingerprint: String
    public var configYAML: String
    public var configSHA256: String
    public var policySHA256: String?
    public var superviseSHA256: String
    public var unitSHA256: String

    public init(host: RolloutInventory.Host, agentSHA256: String, agentVersion: String, caFingerprint: String, configYAML: String,
                policySHA256: String?, superviseSHA256: String, unitSHA256: String) {
        self.host = host
        self.agentSHA256 = agentSHA256
        self.agentVersion = agentVersion
        self.caFingerprint = caFingerprint
        self.configYAML = configYAML
        self.configSHA256 = RolloutFiles.sha256(Data(configYAML.utf8))
        self.policySHA256 = policySHA256
        self.superviseSHA256 = superviseSHA256
        self.unitSHA256 = unitSHA256
    }
}

/// What the rollout does on one host.
public enum RolloutAction: Sendable, Equatable {
    /// No agent binary there: install, enroll, start.
    case install
    /// Another binary there: replace it in place and restart the agent.
    case upgrade(from: String?, to: String)
    /// The binary is right, something else is not (not enrolled, config or policy differ, not running).
    case repair([String])
    /// Same binary, enrolled in the right segment, same config, running: leave it alone.
    case unchanged
    /// The host is in a state the rollout must not change by itself (another segment, another CA,
    /// a newer agent); the reason says what to do.
    case refuse(String)

    public var name: String {
        switch self {
        case .install: "install"
        case .upgrade: "upgrade"
        case .repair: "repair"
        case .unchanged: "unchanged"
        case .refuse: "refuse"
        }
    }

    public var detail: String {
        switch self {
        case .install: "install, enroll, start"
        case .upgrade(let from, let to): "upgrade \(from ?? "?") -> \(to), restart"
        case .repair(let reasons): reasons.joined(separator: "; ")
        case .unchanged: "same binary, enrolled, running"
        case .refuse(let reason): reason
        }
    }

    /// The rollout changes something on the host.
    public var changesHost: Bool {
        switch self {
        case .install, .upgrade, .repair: true
        case .unchanged, .refuse: false
        }
    }
}

/// Decides what to do on a host from what it has and what the inventory wants. Pure.
public enum RolloutPlanner {
    public struct Options: Sendable, Equatable {
        /// Install a binary whose version is older than the one on the host.
        public var allowDowngrade = false
        public init(allowDowngrade: Bool = false) { self.allowDowngrade = allowDowngrade }
    }

    /// - Parameters:
    ///   - fleetAgent: the coordinator's record of the host's enrolled agent, when it has one.
    public static func decide(target: RolloutTarget, remote: RemoteAgentState, fleetAgent: AgentSummary? = nil,
                              options: Options = Options()) -> RolloutAction {
        let host = target.host
        if remote.enrolled {
            if let segment = remote.segment, segment != host.segment {
                return .refuse("enrolled in segment \(segment) as \(remote.agentID ?? "?"), the inventory puts it in \(host.segment): "
                    + "revoke that agent (`cordon agents revoke`) and move /var/lib/cordon-agent aside on the host to re-enroll it, or fix the inventory")
            }
            if let fingerprint = remote.caFingerprint, Fingerprint.normalize(fingerprint) != Fingerprint.normalize(target.caFingerprint) {
                return .refuse("enrolled with another coordinator (CA \(fingerprint.prefix(23))...): move /var/lib/cordon-agent aside on the host to re-enroll it here")
            }
            if let agent = fleetAgent, agent.state == .revoked || agent.revokedAt != nil {
                return .refuse("its agent \(agent.id) is revoked on the coordinator: move /var/lib/cordon-agent aside on the host to enroll it again")
            }
        }
        guard remote.installed else { return .install }
        if remote.sha256?.lowercased() != target.agentSHA256.lowercased() {
            if !options.allowDowngrade, let there = remote.version, let here = SemanticVersion(target.agentVersion),
               let installed = SemanticVersion(there), installed > here {
                return .refuse("the host runs \(there), newer than \(target.agentVersion): pass --allow-downgrade to install the older one")
            }
            return .upgrade(from: remote.version, to: target.agentVersion)
        }
        var reasons: [String] = []
        if !remote.enrolled { reasons.append("not enrolled") }
        if remote.configSHA256 != target.configSHA256 { reasons.append(remote.configSHA256 == nil ? "no agent.yaml" : "agent.yaml differs") }
        if let policy = target.policySHA256, remote.policySHA256 != policy {
            reasons.append(remote.policySHA256 == nil ? "no policy.yaml" : "policy.yaml differs")
        }
        let wanted = remote.systemd ? "systemd" : "plain"
        if remote.supervisor != wanted {
            reasons.append(remote.supervisor.map { "runs under \($0), wants \(wanted)" } ?? "no \(wanted == "systemd" ? "systemd unit" : "supervisor") installed")
        } else if remote.package == "deb" {
            // The package's own unit and supervisor script: they change with the package, whose
            // binary's SHA-256 is compared above.
        } else if wanted == "systemd", remote.unitSHA256 != target.unitSHA256 {
            reasons.append("systemd unit differs")
        } else if wanted == "plain", remote.superviseSHA256 != target.superviseSHA256 {
            reasons.append("cordon-agent-supervise differs")
        }
        if !remote.running { reasons.append("agent not running") }
        return reasons.isEmpty ? .unchanged : .repair(reasons)
    }

    /// The coordinator's agent for an inventory host: by agent ID when known, else the newest
    /// agent of the host's segment enrolled under its name.
    public static func fleetAgent(for host: RolloutInventory.Host, agentID: String?, in agents: [AgentSummary]) -> AgentSummary? {
        if let agentID, let agent = agents.first(where: { $0.id == agentID }) { return agent }
        return agents.filter { $0.segment == host.segment && $0.hostname == host.name }
            .sorted { ($0.revokedAt == nil ? 1 : 0, $0.enrolledAt) > ($1.revokedAt == nil ? 1 : 0, $1.enrolledAt) }.first
    }
}

/// MAJOR.MINOR.PATCH with an optional pre-release after '-' (ordered before the release).
public struct SemanticVersion: Comparable, Sendable, CustomStringConvertible {
    public var numbers: [Int]
    public var prerelease: String?

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let core = trimmed.split(separator: "+", maxSplits: 1).first.map(String.init) ?? trimmed
        let parts = core.split(separator: "-", maxSplits: 1)
        guard let first = parts.first else { return nil }
        let numbers = first.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...4).contains(numbers.count), numbers.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        self.numbers = numbers.map { $0! } + Array(repeating: 0, count: 4 - numbers.count)
        self.prerelease = parts.count == 2 ? String(parts[1]) : nil
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.numbers != rhs.numbers { return lhs.numbers.lexicographicallyPrecedes(rhs.numbers) }
        switch (lhs.prerelease, rhs.prerelease) {
        case (nil, nil), (nil, _?): return false
        case (_?, nil): return true
        case (let a?, let b?): return a < b
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.numbers == rhs.numbers && lhs.prerelease == rhs.prerelease }

    public var description: String { numbers.prefix(3).map(String.init).joined(separator: ".") + (prerelease.map { "-" + $0 } ?? "") }
}
