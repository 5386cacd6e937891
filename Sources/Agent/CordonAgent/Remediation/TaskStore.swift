import CordonShared
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the agent knows of one task list it accepted: the journal while it runs, the final
/// status afterwards, and whether the coordinator has that status yet.
public struct TaskRecord: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Written before the first action; still `running` at start-up means the agent died.
        case running
        /// `final` holds the status to report.
        case finished
    }

    public enum Source: String, Codable, Sendable {
        case coordinator
        /// `cordon-agent apply FILE`.
        case file
    }

    public var taskID: String
    public var sequence: Int64
    public var source: Source
    public var dryRun: Bool
    public var actions: [TaskAction]
    public var issuedBy: String
    public var startedAt: Date
    public var phase: Phase
    /// Results of the actions done so far (the journal), in order.
    public var results: [ActionResult]
    /// The action started and not yet recorded as done.
    public var inFlight: Int?
    /// Rotated passwords (sealed) whose rotation took effect.
    public var secrets: [EscrowedSecret]
    /// A password sealed for the action in flight, before the tool set it.
    public var pendingSecret: EscrowedSecret?
    /// The status to report once finished.
    public var final: TaskStatusUpdate?
    /// The coordinator has acknowledged `final` (or has no use for it).
    public var delivered: Bool
    /// Why delivery was given up (the coordinator refused the status for good).
    public var deliveryNote: String?

    public init(list: TaskList, source: Source, startedAt: Date) {
        taskID = list.id
        sequence = list.sequence
        self.source = source
        dryRun = list.dryRun
        actions = list.actions
        issuedBy = list.issuedBy
        self.startedAt = startedAt
        phase = .running
        results = []
        secrets = []
        delivered = false
    }

    /// A record that is final from the start (a refusal, a cancellation).
    static func finished(list: TaskList, source: Source, update: TaskStatusUpdate, delivered: Bool) -> TaskRecord {
        var record = TaskRecord(list: list, source: source, startedAt: update.at)
        record.phase = .finished
        record.final = update
        record.delivered = delivered
        return record
    }

    /// Whether the actions of this list were run (or begun): a list with a record is never run
    /// again.
    public var state: TaskState? { final?.state ?? (phase == .running ? .running : nil) }
}

/// The agent's task state in `<state>/tasks/`:
///
/// ```
/// sequence        the sequence numbers accepted (JSON ranges), replaced atomically
/// records/*.json  one TaskRecord per accepted list: journal, then final status and delivery
/// lock            flock(2)ed by whoever processes a list (the service or `apply`)
/// ```
public struct TaskStore: Sendable {
    public let directory: String
    /// Delivered records kept for "already finished" answers; older ones are pruned.
    public var keepDelivered: Int

    public init(directory: String, keepDelivered: Int = 1000) {
        self.directory = directory
        self.keepDelivered = keepDelivered
    }

    var recordsDirectory: String { directory + "/records" }
    var sequenceFile: String { directory + "/sequence" }

    /// `sequence`: the numbers accepted. Older agents wrote only `lastSequence`; such a file
    /// is read as "1 through lastSequence accepted" (what it meant then).
    private struct SequenceFile: Codable {
        var lastSequence: Int64
        var accepted: SequenceSet?
        var taskID: String
        var at: Date
    }

    /// The sequence numbers accepted so far. A file that exists but cannot be read is an
    /// error, never an empty set: that would let old lists be replayed.
    public func acceptedSequences() throws -> SequenceSet {
        guard FileManager.default.fileExists(atPath: sequenceFile) else { return SequenceSet() }
        do {
            let file = try CordonJSON.decode(SequenceFile.self, from: try SecureFile.read(sequenceFile, limit: 1 << 20))
            return file.accepted ?? SequenceSet(through: file.lastSequence)
        } catch {
            throw AgentError.state("\(sequenceFile) is unreadable (\(error)); refusing task lists until it is fixed, to rule out replays")
        }
    }

    /// The highest sequence number accepted so far; 0 before the first.
    public func lastSequence() throws -> Int64 { try acceptedSequences().highest }

    /// Records `sequence` as accepted, durably, before the list runs.
    public func accept(sequence: Int64, taskID: String, now: Date) throws {
        var accepted = try acceptedSequences()
        accepted.insert(sequence)
        try SecureFile.makeDirectory(directory, mode: 0o700)
        try SecureFile.replace(sequenceFile, contents: try CordonJSON.encode(SequenceFile(lastSequence: accepted.highest, accepted: accepted,
                                                                                         taskID: taskID, at: now)), mode: 0o600)
    }

    /// A file name for a task ID: the ID itself when it is a plain name, else its digest.
    static func fileName(_ taskID: String) -> String {
        if CordonName.isValid(taskID) && taskID.utf8.count <= 100 { return taskID + ".json" }
        return "id-" + SHA256.hash(data: Data(taskID.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined() + ".json"
    }

    public func record(_ taskID: String) throws -> TaskRecord? {
        let path = recordsDirectory + "/" + Self.fileName(taskID)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do { return try CordonJSON.decode(TaskRecord.self, from: try SecureFile.read(path, limit: 8 << 20)) } catch {
            throw AgentError.state("task record \(path) is unreadable: \(error)")
        }
    }

    /// Writes the record durably (temporary file, fsync, rename).
    public func save(_ record: TaskRecord) throws {
        try SecureFile.makeDirectory(recordsDirectory, mode: 0o700)
        try SecureFile.replace(recordsDirectory + "/" + Self.fileName(record.taskID), contents: try CordonJSON.encode(record), mode: 0o600)
    }

    /// Every readable record; unreadable files are returned as paths to report.
    public func allRecords() -> (records: [TaskRecord], unreadable: [String]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: recordsDirectory)) ?? []).filter { $0.hasSuffix(".json") }
        var records: [TaskRecord] = [], unreadable: [String] = []
        for name in names.sorted() {
            let path = recordsDirectory + "/" + name
            if let data = try? SecureFile.read(path, limit: 8 << 20), let record = try? CordonJSON.decode(TaskRecord.self, from: data) {
                records.append(record)
            } else {
                unreadable.append(path)
            }
        }
        return (records, unreadable)
    }

    /// Finished records whose status the coordinator has not acknowledged, oldest first.
    public func undelivered() -> [TaskRecord] {
        allRecords().records.filter { $0.phase == .finished && !$0.delivered && $0.final != nil }.sorted { $0.startedAt < $1.startedAt }
    }

    /// Drops the oldest delivered records beyond `keepDelivered`.
    public func prune() {
        let delivered = allRecords().records.filter { $0.phase == .finished && $0.delivered }.sorted { $0.startedAt > $1.startedAt }
        for record in delivered.dropFirst(keepDelivered) {
            unlink(recordsDirectory + "/" + Self.fileName(record.taskID))
        }
    }

    // MARK: Local refusals

    var refusalsDirectory: String { directory + "/refusals" }
    /// At most this many are kept; the oldest go first.
    public static let maxLocalRefusals = 200

    /// Keeps a refusal of an untrusted list until the coordinator has it.
    public func saveLocalRefusal(_ refusal: LocalRefusal) throws {
        try SecureFile.makeDirectory(refusalsDirectory, mode: 0o700)
        try SecureFile.replace(refusalsDirectory + "/" + Self.fileName(refusal.id), contents: try CordonJSON.encode(refusal), mode: 0o600)
        let all = localRefusals()
        for old in all.dropLast(Self.maxLocalRefusals) { removeLocalRefusal(old.id) }
    }

    /// Kept refusals, oldest first (unreadable files are skipped).
    public func localRefusals() -> [LocalRefusal] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: refusalsDirectory)) ?? []).filter { $0.hasSuffix(".json") }
        return names.compactMap { name in
            (try? SecureFile.read(refusalsDirectory + "/" + name, limit: 64 << 10)).flatMap { try? CordonJSON.decode(LocalRefusal.self, from: $0) }
        }.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
    }

    public func removeLocalRefusal(_ id: String) {
        unlink(refusalsDirectory + "/" + Self.fileName(id))
    }

    // MARK: Lock

    /// Runs `body` holding the tasks lock, so that the service and `apply` never run lists (or
    /// read the sequence) at the same time. The kernel drops the lock when the process dies.
    public func withLock<T: Sendable>(timeout: Duration = .seconds(600), _ body: () async throws -> T) async throws -> T {
        try SecureFile.makeDirectory(directory, mode: 0o700)
        let path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.state("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw AgentError.state("cannot lock \(path): \(String(cString: strerror(errno)))") }
            guard ContinuousClock.now < deadline else {
                throw AgentError.state("another process (the agent service or cordon-agent apply) holds \(path); try again when it has finished")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
