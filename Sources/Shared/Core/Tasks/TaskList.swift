import Crypto
import Foundation

/// What an operator writes: a YAML task file.
///
/// ```yaml
/// description: Conficker response in dmz
/// tasks:
///   - rotate-password: {user: root}
///   - block-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}
/// ```
public struct TaskFile: Codable, Sendable, Equatable {
    public var description: String?
    public var tasks: [TaskAction]

    public init(description: String? = nil, tasks: [TaskAction]) {
        self.description = description
        self.tasks = tasks
    }

    public static let maxActions = 100

    /// Parses and validates a task file; every error names the problem.
    public static func parse(yaml: String, origin: String) throws -> TaskFile {
        let file = try ConfigFile.decode(TaskFile.self, yaml: yaml, origin: origin,
                                         schema: .mapping(["description": .scalar, "tasks": .list(.any)]))
        try file.validate(origin: origin)
        return file
    }

    public func validate(origin: String) throws {
        guard !tasks.isEmpty else { throw CordonError.invalidArgument("\(origin): the task list is empty") }
        guard tasks.count <= Self.maxActions else { throw CordonError.invalidArgument("\(origin): at most \(Self.maxActions) actions per list") }
        if let description, description.utf8.count > 500 { throw CordonError.invalidArgument("\(origin): description is longer than 500 bytes") }
        for (index, action) in tasks.enumerated() {
            do { try action.validate() } catch let error as CordonError {
                throw CordonError.invalidArgument("\(origin): tasks[\(index)]: \(error.reason)")
            }
        }
    }
}

/// A task list for one agent, as the coordinator signs it. The agent checks the signature,
/// that it names this agent, that the sequence number is new and that it has not expired,
/// then its local policy, before anything runs.
public struct TaskList: Codable, Sendable, Equatable {
    public var id: String
    public var agentID: String
    /// Increasing per agent as the coordinator issues them; an agent refuses a number it has
    /// already accepted (`SequenceSet`), and runs one it never accepted even when a higher one
    /// ran first.
    public var sequence: Int64
    public var issuedAt: Date
    public var expiresAt: Date
    /// Report what would change, change nothing.
    public var dryRun: Bool
    public var description: String?
    public var actions: [TaskAction]
    /// Who pushed it (and approved it), for the agent's log.
    public var issuedBy: String

    public init(id: String, agentID: String, sequence: Int64, issuedAt: Date, expiresAt: Date, dryRun: Bool, description: String?,
                actions: [TaskAction], issuedBy: String) {
        self.id = id
        self.agentID = agentID
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.dryRun = dryRun
        self.description = description
        self.actions = actions
        self.issuedBy = issuedBy
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case id, agentID, sequence, issuedAt, expiresAt, dryRun, description, actions, issuedBy
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Strict: a signed list with a field this agent does not know is refused, not half
    /// understood (the actions are strict too, see `TaskAction`).
    public init(from decoder: any Decoder) throws {
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [unknown],
                                                    debugDescription: "unknown field '\(unknown.stringValue.prefix(40))' in a task list"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        agentID = try c.decode(String.self, forKey: .agentID)
        sequence = try c.decode(Int64.self, forKey: .sequence)
        issuedAt = try c.decode(Date.self, forKey: .issuedAt)
        expiresAt = try c.decode(Date.self, forKey: .expiresAt)
        dryRun = try c.decode(Bool.self, forKey: .dryRun)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        actions = try c.decode([TaskAction].self, forKey: .actions)
        issuedBy = try c.decode(String.self, forKey: .issuedBy)
    }
}

/// A task list with the coordinator's Ed25519 signature over its exact JSON bytes.
public struct SignedTaskList: Codable, Sendable, Equatable {
    /// The TaskList's JSON, exactly as signed.
    public var payload: Data
    public var signature: Data

    public init(payload: Data, signature: Data) {
        self.payload = payload
        self.signature = signature
    }

    public static func sign(_ list: TaskList, with key: Curve25519.Signing.PrivateKey) throws -> SignedTaskList {
        let payload = try CordonJSON.encode(list)
        return SignedTaskList(payload: payload, signature: try key.signature(for: payload))
    }

    /// Why an agent refuses a task list.
    public enum Refusal: Error, Equatable, Sendable {
        case badSignature
        case malformed(String)
        case otherAgent(String)
        /// Expired by this host's clock; the text says when, by which clock, and how far this
        /// host's clock is ahead if the list arrived right after it was issued.
        case expired(String)
        case replayed(sequence: Int64, lastSeen: Int64)
        case badSequence(Int64)

        public var reason: String {
            switch self {
            case .badSignature: return "the signature does not verify with the coordinator's task key"
            case .malformed(let why): return "the task list is malformed: \(why)"
            case .otherAgent(let id): return "the task list is for agent \(id), not this one"
            case .expired(let why): return why
            case .replayed(let sequence, let lastSeen): return "sequence \(sequence) was already accepted by this agent (highest \(lastSeen)): a replay"
            case .badSequence(let sequence): return "sequence \(sequence) is not a positive number"
            }
        }
    }

    /// Why a list is expired, with both clocks: the expiry is checked by this host's clock, and a
    /// list that arrived right after it was issued says how far that clock is ahead.
    static func expiryReason(_ list: TaskList, now: Date) -> String {
        let ahead = HumanDuration.format(max(0, now.timeIntervalSince(list.issuedAt)))
        return "the task list expired at \(CordonTime.format(list.expiresAt)) by this host's clock (now \(CordonTime.format(now))); "
            + "the coordinator issued it at \(CordonTime.format(list.issuedAt)) by its clock: if it arrived just after that, "
            + "this host's clock is about \(ahead) ahead (check NTP)"
    }

    /// Verifies the signature first (nothing in an unsigned payload is trusted), then the
    /// agent, the expiry and the sequence.
    public func verify(key: Curve25519.Signing.PublicKey, agentID: String, lastSequence: Int64, now: Date) -> Result<TaskList, Refusal> {
        verify(key: key, agentID: agentID, accepted: SequenceSet(through: lastSequence), now: now)
    }

    /// The same, with the set of sequence numbers the agent has accepted: only those are replays.
    public func verify(key: Curve25519.Signing.PublicKey, agentID: String, accepted: SequenceSet, now: Date) -> Result<TaskList, Refusal> {
        guard payload.count <= 1 << 20, key.isValidSignature(signature, for: payload) else { return .failure(.badSignature) }
        let list: TaskList
        do { list = try CordonJSON.decode(TaskList.self, from: payload) } catch { return .failure(.malformed(CordonJSON.describe(error))) }
        guard list.agentID == agentID else { return .failure(.otherAgent(list.agentID)) }
        guard list.expiresAt > now else { return .failure(.expired(Self.expiryReason(list, now: now))) }
        guard list.sequence >= 1 else { return .failure(.badSequence(list.sequence)) }
        guard !accepted.contains(list.sequence) else { return .failure(.replayed(sequence: list.sequence, lastSeen: accepted.highest)) }
        do {
            try TaskFile(description: list.description, tasks: list.actions).validate(origin: "task list \(list.id)")
        } catch let error as CordonError {
            return .failure(.malformed(error.reason))
        } catch {
            return .failure(.malformed("\(error)"))
        }
        return .success(list)
    }
}
