import CordonShared
import Foundation

/// The files a rollout puts in a host's temporary directory.
public enum RolloutUpload: String, Sendable, Equatable, CaseIterable {
    case binary = "cordon-agent"
    case installScript = "install-agent.sh"
    case supervise = "cordon-agent-supervise"
    case unit = "systemd/cordon-agent.service"
    case config = "agent.yaml"
    case policy = "policy.yaml"
    /// The enrollment token, 0600 in the 0700 directory; install-agent.sh deletes it after reading.
    case token = "token"
}

/// One host's rollout as a state machine: probe, decide, (token), upload, install, wait for the
/// first report. Pure: the engine performs each ``Action`` and feeds back an ``Event``. A failure
/// in any step finishes the host with the step and one line; it never touches another host.
public struct HostRolloutMachine: Sendable {
    public enum Mode: Sendable { case plan, apply }

    public struct Settings: Sendable, Equatable {
        /// How long to wait for the agent's first report after a change.
        public var reportTimeout: Double
        /// Between two looks at the fleet while waiting.
        public var pollInterval: Duration
        /// Skip the wait (the result says reporting: nil).
        public var waitForReport: Bool
        public var planner: RolloutPlanner.Options

        public init(reportTimeout: Double = 120, pollInterval: Duration = .seconds(1), waitForReport: Bool = true,
                    planner: RolloutPlanner.Options = .init()) {
            self.reportTimeout = reportTimeout
            self.pollInterval = pollInterval
            self.waitForReport = waitForReport
            self.planner = planner
        }
    }

    public enum Action: Sendable, Equatable {
        case probe
        case createToken(segment: String)
        /// mktemp -d on the host (and the systemd/ subdirectory).
        case makeDirectory
        case upload(RolloutUpload, directory: String)
        /// Runs install-agent.sh from the directory, then removes the directory.
        case install(directory: String, sendsBinary: Bool, sendsToken: Bool, sendsPolicy: Bool)
        /// Remove the directory after a failed upload (best effort; the result is already decided).
        case removeDirectory(String, then: RolloutHostResult)
        /// Look at the fleet for the agent (after `after`).
        case pollFleet(agentID: String, after: Duration)
        /// Read the end of the agent's log on the host, to say why it does not report.
        case readAgentLog
        case finish(RolloutHostResult)
    }

    public enum Event: Sendable {
        case probed(RemoteAgentState, fleetAgent: AgentSummary?)
        case probeFailed(String, connect: Bool)
        case tokenCreated(String)
        case tokenFailed(String)
        case directoryMade(String)
        case directoryFailed(String)
        case uploaded
        case uploadFailed(String)
        /// `baselineReportAt`: the agent's last report before the install (nil for a new agent).
        case installed(RemoteAgentState, baselineReportAt: Date?, now: Date)
        case installFailed(String, RemoteAgentState?)
        case fleetPolled(AgentSummary?, now: Date)
        case fleetFailed(String, now: Date)
        case agentLog(String)
    }

    enum State: Sendable {
        case start
        case probing
        case awaitingToken
        case makingDirectory
        case uploading(directory: String, remaining: [RolloutUpload])
        case installing
        case waiting(agentID: String, deadline: Date, baseline: Date?, lastError: String?)
        case readingLog
        case done
    }

    public let target: RolloutTarget
    public let mode: Mode
    public let settings: Settings
    var state: State = .start
    /// What was decided after the probe.
    public private(set) var action: RolloutAction?
    public private(set) var remote: RemoteAgentState?
    public private(set) var result: RolloutHostResult
    var token: String?
    var uploads: [RolloutUpload] = []

    public init(target: RolloutTarget, mode: Mode, settings: Settings = Settings()) {
        self.target = target
        self.mode = mode
        self.settings = settings
        self.result = RolloutHostResult(host: target.host, outcome: .failed)
    }

    /// The enrollment token, for the engine to upload (never logged, never on a command line).
    public var tokenToUpload: String? { token }

    public mutating func start() -> Action {
        state = .probing
        return .probe
    }

    public mutating func event(_ event: Event) -> Action {
        switch (state, event) {
        case (.probing, .probeFailed(let reason, let connect)):
            return fail(connect ? "connect" : "probe", reason)

        case (.probing, .probed(let remote, let fleetAgent)):
            self.remote = remote
            absorb(remote)
            let decided = RolloutPlanner.decide(target: target, remote: remote, fleetAgent: fleetAgent, options: settings.planner)
            action = decided
            result.action = decided.name
            result.previousVersion = remote.version
            if mode == .plan {
                result.outcome = .planned
                result.detail = noteSystemd(decided.detail)
                if case .refuse(let reason) = decided {
                    result.error = reason
                    result.failedStep = "probe"
                    result.detail = nil
                }
                return finish()
            }
            switch decided {
            case .refuse(let reason):
                return fail("probe", reason)
            case .unchanged:
                result.outcome = .unchanged
                result.reporting = fleetAgent.map { Self.isReporting($0) } ?? false
                result.detail = noteSystemd(result.reporting == true ? "left alone" : "left alone, but the coordinator has no recent report from it"
                    + (fleetAgent.map { " (state \($0.state.rawValue))" } ?? " (no agent of that name on the coordinator)"))
                return finish()
            case .install, .upgrade, .repair:
                if !remote.enrolled {
                    state = .awaitingToken
                    return .createToken(segment: target.host.segment)
                }
                state = .makingDirectory
                return .makeDirectory
            }

        case (.awaitingToken, .tokenCreated(let token)):
            self.token = token
            state = .makingDirectory
            return .makeDirectory
        case (.awaitingToken, .tokenFailed(let reason)):
            return fail("token", reason)

        case (.makingDirectory, .directoryFailed(let reason)):
            return fail("upload", reason)
        case (.makingDirectory, .directoryMade(let directory)):
            let sendsBinary = remote?.sha256?.lowercased() != target.agentSHA256.lowercased() || remote?.installed != true
            uploads = (sendsBinary ? [.binary] : []) + [.installScript, .supervise, .unit, .config]
                + (target.policySHA256 != nil ? [.policy] : []) + (token != nil ? [.token] : [])
            return nextUpload(directory: directory, remaining: uploads)

        case (.uploading(let directory, _), .uploadFailed(let reason)):
            result.error = reason
            result.failedStep = "upload"
            result.outcome = .failed
            state = .done
            return .removeDirectory(directory, then: result)
        case (.uploading(let directory, let remaining), .uploaded):
            return nextUpload(directory: directory, remaining: Array(remaining.dropFirst()))

        case (.installing, .installFailed(let reason, let state)):
            if let state { absorb(state) }
            return fail("install", reason)
        case (.installing, .installed(let remote, let baseline, let now)):
            absorb(remote)
            switch remote.result {
            case "installed": result.outcome = .installed
            case "upgraded": result.outcome = .upgraded
            case "unchanged": result.outcome = .unchanged
            default: result.outcome = .repaired
            }
            var notes: [String] = []
            // "installed cordon-agent_0.1.0_amd64.deb with dpkg", "installed from ...tar.gz".
            if let message = remote.message, !message.isEmpty { notes.append(message) }
            if remote.tokenOnCommandLine == true {
                notes.append("this cordon-agent has no --token-file: the token was on its command line during enrollment")
            }
            result.detail = noteSystemd(([action?.detail ?? ""] + notes).filter { !$0.isEmpty }.joined(separator: "; "))
            guard settings.waitForReport else { return finish() }
            guard let agentID = remote.agentID else { return fail("install", "install-agent.sh did not say which agent it enrolled") }
            state = .waiting(agentID: agentID, deadline: now.addingTimeInterval(settings.reportTimeout), baseline: baseline, lastError: nil)
            return .pollFleet(agentID: agentID, after: .zero)

        case (.waiting(let agentID, let deadline, let baseline, _), .fleetPolled(let agent, let now)):
            if let agent, Self.isReporting(agent), let at = agent.lastReportAt, baseline.map({ at > $0 }) ?? true {
                result.reporting = true
                result.version = agent.agentVersion.isEmpty ? result.version : agent.agentVersion
                return finish()
            }
            if now >= deadline {
                result.reporting = false
                result.error = "no report from agent \(agentID) within \(HumanDuration.format(settings.reportTimeout))"
                    + (agent.map { " (state \($0.state.rawValue), last report \($0.lastReportAt.map { CordonTime.format($0) } ?? "never"))" } ?? " (the coordinator does not list it)")
                result.failedStep = "report"
                result.outcome = .failed
                state = .readingLog
                return .readAgentLog
            }
            return .pollFleet(agentID: agentID, after: settings.pollInterval)
        case (.waiting(let agentID, let deadline, let baseline, _), .fleetFailed(let reason, let now)):
            if now >= deadline {
                result.reporting = false
                return fail("report", "cannot see the fleet: \(reason)")
            }
            state = .waiting(agentID: agentID, deadline: deadline, baseline: baseline, lastError: reason)
            return .pollFleet(agentID: agentID, after: settings.pollInterval)

        case (.readingLog, .agentLog(let log)):
            let line = log.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
            if let line { result.error = (result.error ?? "") + "; agent log: " + Terminal.sanitize(line, limit: 240) }
            return finish()

        default:
            return fail("internal", "unexpected event \(event) in state \(state)")
        }
    }

    private mutating func nextUpload(directory: String, remaining: [RolloutUpload]) -> Action {
        if let next = remaining.first {
            state = .uploading(directory: directory, remaining: remaining)
            return .upload(next, directory: directory)
        }
        state = .installing
        return .install(directory: directory, sendsBinary: uploads.contains(.binary), sendsToken: uploads.contains(.token),
                        sendsPolicy: uploads.contains(.policy))
    }

    private mutating func absorb(_ remote: RemoteAgentState) {
        result.installed = remote.installed
        result.enrolled = remote.enrolled
        result.running = remote.running
        result.supervisor = remote.supervisor
        result.systemd = remote.systemd
        result.agentID = remote.agentID ?? result.agentID
        result.version = remote.version ?? result.version
        result.package = remote.package ?? result.package
    }

    private func noteSystemd(_ detail: String) -> String {
        guard remote?.systemd == false else { return detail }
        let note = "no systemd: plain supervisor"
        return detail.isEmpty ? note : "\(detail); \(note)"
    }

    private mutating func fail(_ step: String, _ reason: String) -> Action {
        result.outcome = .failed
        result.error = reason
        result.failedStep = step
        return finish()
    }

    private mutating func finish() -> Action {
        state = .done
        return .finish(result)
    }

    /// Online (or late) with a report.
    public static func isReporting(_ agent: AgentSummary) -> Bool {
        (agent.state == .online || agent.state == .late) && agent.lastReportAt != nil && agent.revokedAt == nil
    }
}
