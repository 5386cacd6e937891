import Foundation

/// A task's lifecycle on the coordinator.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    /// Waiting for a second operator's approval (two-person rule).
    case pendingApproval = "pending-approval"
    case queued
    case delivered
    case running
    case succeeded
    case failed
    case refused
    /// Expired before the agent finished it.
    case expired
    case cancelled
    /// The agent stopped in the middle (killed, rebooted); it did not run it again.
    case interrupted

    public var isFinal: Bool {
        switch self {
        case .pendingApproval, .queued, .delivered, .running: false
        case .succeeded, .failed, .refused, .expired, .cancelled, .interrupted: true
        }
    }
}

/// What one action did on the agent.
public struct ActionResult: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// It changed the host (a backup was kept first).
        case changed
        /// Nothing to do: already in the wanted state.
        case unchanged
        /// Dry run: it would change the host.
        case wouldChange = "would-change"
        case failed
        /// Local policy refused it.
        case refused
        /// Not run: an earlier action failed or was refused.
        case skipped
        /// Nothing on the host matched what the action names (a scheduled-task ID that no longer
        /// matches, a unit or account that does not exist): nothing was done, and this is not a
        /// success. The list goes on (containment should not stop at a stale ID) and ends
        /// `failed`.
        case notFound = "not-found"
    }

    public var action: TaskAction
    public var outcome: Outcome
    public var detail: String
    /// The backup that `restore` can put back.
    public var backupID: String?

    public init(action: TaskAction, outcome: Outcome, detail: String, backupID: String? = nil) {
        self.action = action
        self.outcome = outcome
        self.detail = String(detail.prefix(2000))
        self.backupID = backupID
    }
}

/// A rotated password, encrypted on the agent to the coordinator's escrow key with HPKE
/// (X25519, HKDF-SHA256, ChaCha20-Poly1305). The agent keeps no copy.
public struct EscrowedSecret: Codable, Sendable, Equatable {
    public var user: String
    public var encapsulatedKey: Data
    public var ciphertext: Data
    public var rotatedAt: Date

    public init(user: String, encapsulatedKey: Data, ciphertext: Data, rotatedAt: Date) {
        self.user = user
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
        self.rotatedAt = rotatedAt
    }
}

/// `POST /v1/tasks/:id/status`: the agent says where a task stands.
public struct TaskStatusUpdate: Codable, Sendable, Equatable {
    public var state: TaskState
    public var at: Date
    /// For a final state: what each action did.
    public var results: [ActionResult]
    /// Why it was refused or failed, or what was done before an interruption.
    public var message: String?
    public var secrets: [EscrowedSecret]

    public init(state: TaskState, at: Date, results: [ActionResult] = [], message: String? = nil, secrets: [EscrowedSecret] = []) {
        self.state = state
        self.at = at
        self.results = results
        self.message = message.map { String($0.prefix(4000)) }
        self.secrets = secrets
    }
}

/// The coordinator's answer to a status update.
public struct TaskStatusAck: Codable, Sendable, Equatable {
    public var taskID: String
    public var state: TaskState

    public init(taskID: String, state: TaskState) {
        self.taskID = taskID
        self.state = state
    }
}

/// `POST /v1/tasks/refusals`: a list the agent refused before it could trust anything in it
/// (`cordon-agent apply` of a tampered list, or one for another agent). Nothing ran; the agent
/// keeps the refusal and sends it on its next contact, so that the operator sees that someone
/// tried. The claimed IDs come from an untrusted list and are shown as claims.
public struct LocalRefusal: Codable, Sendable, Equatable {
    /// Made by the agent; the coordinator records each ID once.
    public var id: String
    public var at: Date
    /// `apply`.
    public var source: String
    /// The file's path on the jump host and the SHA-256 of its bytes.
    public var file: String
    public var fileSHA256: String
    public var claimedTaskID: String?
    public var claimedAgentID: String?
    public var reason: String

    public init(id: String, at: Date, source: String, file: String, fileSHA256: String, claimedTaskID: String?, claimedAgentID: String?, reason: String) {
        self.id = id
        self.at = at
        self.source = source
        self.file = String(file.prefix(1024))
        self.fileSHA256 = fileSHA256
        self.claimedTaskID = claimedTaskID.map { String($0.prefix(100)) }
        self.claimedAgentID = claimedAgentID.map { String($0.prefix(100)) }
        self.reason = String(reason.prefix(2000))
    }
}

/// The coordinator's answer to a `LocalRefusal`.
public struct LocalRefusalAck: Codable, Sendable, Equatable {
    public var id: String
    public var duplicate: Bool

    public init(id: String, duplicate: Bool) {
        self.id = id
        self.duplicate = duplicate
    }
}
