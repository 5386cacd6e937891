import Foundation

/// Where a task goes: one agent, or every agent of a segment.
public enum TaskTarget: Codable, Sendable, Equatable, CustomStringConvertible {
    case agent(String)
    case segment(String)

    public var description: String {
        switch self {
        case .agent(let id): "agent:\(id)"
        case .segment(let name): "segment:\(name)"
        }
    }
}

/// `POST /v1/tasks`: push a task file to a segment or an agent.
public struct TaskPushRequest: Codable, Sendable, Equatable {
    public var target: TaskTarget
    public var file: TaskFile
    public var dryRun: Bool
    /// Seconds until the task expires (max 7 days).
    public var expiresIn: Double
    /// Two-person rule: a different operator must approve before it is sent.
    public var requireApproval: Bool

    public init(target: TaskTarget, file: TaskFile, dryRun: Bool = false, expiresIn: Double = 3600, requireApproval: Bool = false) {
        self.target = target
        self.file = file
        self.dryRun = dryRun
        self.expiresIn = expiresIn
        self.requireApproval = requireApproval
    }
}

/// One agent's copy of a task, and where it stands.
public struct TaskRunView: Codable, Sendable, Equatable {
    /// The task list ID the agent sees.
    public var id: String
    public var agentID: String
    public var hostName: String
    public var sequence: Int64
    public var state: TaskState
    public var updatedAt: Date
    public var message: String?
    public var results: [ActionResult]
    public var events: [TaskEvent]

    public init(id: String, agentID: String, hostName: String, sequence: Int64, state: TaskState, updatedAt: Date, message: String?,
                results: [ActionResult], events: [TaskEvent]) {
        self.id = id
        self.agentID = agentID
        self.hostName = hostName
        self.sequence = sequence
        self.state = state
        self.updatedAt = updatedAt
        self.message = message
        self.results = results
        self.events = events
    }
}

/// A state change of a task run, with its time.
public struct TaskEvent: Codable, Sendable, Equatable {
    public var at: Date
    public var state: TaskState
    public var message: String?

    public init(at: Date, state: TaskState, message: String?) {
        self.at = at
        self.state = state
        self.message = message
    }
}

/// A pushed task: what, where, by whom, and each agent's run.
public struct TaskView: Codable, Sendable, Equatable {
    public var id: String
    public var description: String?
    public var target: String
    public var actions: [TaskAction]
    public var dryRun: Bool
    public var createdAt: Date
    public var createdBy: String
    public var requireApproval: Bool
    public var approvedBy: String?
    public var approvedAt: Date?
    public var expiresAt: Date
    public var runs: [TaskRunView]

    public init(id: String, description: String?, target: String, actions: [TaskAction], dryRun: Bool, createdAt: Date, createdBy: String,
                requireApproval: Bool, approvedBy: String?, approvedAt: Date?, expiresAt: Date, runs: [TaskRunView]) {
        self.id = id
        self.description = description
        self.target = target
        self.actions = actions
        self.dryRun = dryRun
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.requireApproval = requireApproval
        self.approvedBy = approvedBy
        self.approvedAt = approvedAt
        self.expiresAt = expiresAt
        self.runs = runs
    }

    /// Every agent has finished (or the task can no longer run).
    public var isFinished: Bool { runs.allSatisfy(\.state.isFinal) }

    /// Counts of runs per state.
    public var stateCounts: [TaskState: Int] { runs.reduce(into: [:]) { $0[$1.state, default: 0] += 1 } }
}

/// `GET /v1/secrets?agent=&user=`: escrowed passwords, decrypted for an operator (audited).
public struct SecretView: Codable, Sendable, Equatable {
    public var agentID: String
    public var hostName: String
    public var user: String
    public var rotatedAt: Date
    public var taskRunID: String
    public var password: String

    public init(agentID: String, hostName: String, user: String, rotatedAt: Date, taskRunID: String, password: String) {
        self.agentID = agentID
        self.hostName = hostName
        self.user = user
        self.rotatedAt = rotatedAt
        self.taskRunID = taskRunID
        self.password = password
    }
}
