import Foundation

/// One proposed action with the reason it is proposed.
public struct PlannedAction: Codable, Sendable, Equatable {
    public var action: TaskAction
    public var because: String

    public init(action: TaskAction, because: String) {
        self.action = action
        self.because = because
    }
}

/// The proposed task list for one agent's jump host.
public struct AgentPlan: Codable, Sendable, Equatable {
    public var agentID: String
    public var hostName: String
    public var actions: [PlannedAction]
    /// Actions the findings call for that the jump host's local policy would refuse; `because`
    /// says why. They are comments in the YAML, not tasks.
    public var leftOut: [PlannedAction]
    /// The task file, as YAML with a comment on each action saying why.
    public var yaml: String

    public init(agentID: String, hostName: String, actions: [PlannedAction], leftOut: [PlannedAction] = [], yaml: String) {
        self.agentID = agentID
        self.hostName = hostName
        self.actions = actions
        self.leftOut = leftOut
        self.yaml = yaml
    }
}

/// What must be done by hand on a Windows host that Cordon cannot change itself.
public struct WindowsWorkItem: Codable, Sendable, Equatable {
    public var address: String
    public var name: String?
    public var os: String?
    /// Worms with open indicators of compromise: isolate first.
    public var infectedBy: [Worm]
    public var exposedTo: [Worm]
    /// Bulletins and KB articles to install.
    public var updates: [String]
    public var disableSMBv1: Bool
    public var disableAutoRun: Bool
    public var changePasswords: Bool
    public var deleteScheduledJobs: Bool
    /// Other steps, in the order to take them.
    public var steps: [String]

    public init(address: String, name: String?, os: String?, infectedBy: [Worm], exposedTo: [Worm], updates: [String], disableSMBv1: Bool,
                disableAutoRun: Bool, changePasswords: Bool, deleteScheduledJobs: Bool, steps: [String]) {
        self.address = address
        self.name = name
        self.os = os
        self.infectedBy = infectedBy
        self.exposedTo = exposedTo
        self.updates = updates
        self.disableSMBv1 = disableSMBv1
        self.disableAutoRun = disableAutoRun
        self.changePasswords = changePasswords
        self.deleteScheduledJobs = deleteScheduledJobs
        self.steps = steps
    }
}

/// `GET /v1/plan?segment=S`: the proposal for a segment.
public struct SegmentPlan: Codable, Sendable, Equatable {
    public var segment: String
    public var generatedAt: Date
    public var agents: [AgentPlan]
    public var windowsWork: [WindowsWorkItem]
    public var windowsCSV: String
    public var windowsMarkdown: String

    public init(segment: String, generatedAt: Date, agents: [AgentPlan], windowsWork: [WindowsWorkItem], windowsCSV: String, windowsMarkdown: String) {
        self.segment = segment
        self.generatedAt = generatedAt
        self.agents = agents
        self.windowsWork = windowsWork
        self.windowsCSV = windowsCSV
        self.windowsMarkdown = windowsMarkdown
    }
}

extension TaskAction {
    /// The action as one YAML flow line, `- name: {k: v}`, as task files write them.
    public var yamlLine: String {
        func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        func list(_ ports: [Int]) -> String { "[" + ports.map(String.init).joined(separator: ", ") + "]" }
        var params: [String] = []
        switch self {
        case .rotatePassword(let user, let length): params = ["user: \(quote(user))", "length: \(length)"]
        case .removeScheduledTask(let id, let source): params = ["id: \(quote(id))"] + (source.map { ["source: \(quote($0))"] } ?? [])
        case .purgeAtJobs(let user): params = user.map { ["user: \(quote($0))"] } ?? []
        case .lockAccount(let user): params = ["user: \(quote(user))"]
        case .blockPorts(let tcp, let udp, let direction), .unblockPorts(let tcp, let udp, let direction):
            if !tcp.isEmpty { params.append("tcp: \(list(tcp))") }
            if !udp.isEmpty { params.append("udp: \(list(udp))") }
            params.append("direction: \(direction.rawValue)")
        case .stopService(let unit), .disableService(let unit): params = ["unit: \(quote(unit))"]
        case .rescan, .refreshInventory: params = []
        case .restore(let backup): params = ["backup: \(quote(backup))"]
        }
        return "- \(name): {\(params.joined(separator: ", "))}"
    }
}
