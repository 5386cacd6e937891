import CordonShared
import CordonTransport
import Crypto
import Foundation
import Logging
import Synchronization
@testable import CordonAgent

#if canImport(Glibc)
import Glibc
#endif

/// A host in memory: accounts, units, the `inet cordon` table, and the files cron and at read.
/// Every change is recorded, so that a test can assert that nothing changed.
final class FakeSystem: AccountSystem, RemediationFiles, ServiceManager, CordonFirewall, SchedulerSystem, @unchecked Sendable {
    struct State: Equatable {
        var shadow: [String: String] = [:]  // user -> hash
        /// user -> the rest of the shadow line after the hash (ageing fields)
        var ageing: [String: String] = [:]
        /// user -> passwd line (absent: a default one with /bin/sh)
        var passwd: [String: String] = [:]
        var units: [String: UnitState] = [:]
        var table: CordonPortSets?
        var files: [String: FileSnapshot] = [:]
    }

    private let lock = NSLock()
    private var _state = State()
    private var _calls: [String] = []
    /// Entries `collect()` returns; nil: computed by nothing (an empty inventory).
    var scheduled: InventorySection<ScheduledTaskInventory> = .ok(ScheduledTaskInventory(entries: [], sources: [], unreadable: [], truncated: false, skippedLines: 0, notes: []))

    // Failure injection.
    var chpasswdFails = false
    var chpasswdChangesNothing = false
    var systemdMissing = false
    var nftFails = false
    var nftDropsPort: Int?
    var failWritesTo: Set<String> = []
    var atDaemonNotified = 0
    /// Called when setPassword runs (tests check that the journal had the secret first).
    var onSetPassword: (@Sendable () -> Void)?

    var state: State {
        get { lock.withLock { _state } }
        set { lock.withLock { _state = newValue } }
    }

    var calls: [String] { lock.withLock { _calls } }

    private func record(_ call: String) { lock.withLock { _calls.append(call) } }

    /// The fake hash of a password: the test can check an escrowed password against it.
    static func hash(_ password: [UInt8]) -> String {
        "$y$fake$" + SHA256.hash(data: Data(password)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    var system: RemediationSystem {
        RemediationSystem(accounts: self, files: self, scheduler: self, services: self, firewall: self)
    }

    // AccountSystem
    func shadowEntry(user: String) throws -> ShadowEntry? {
        let current = state
        guard let hash = current.shadow[user] else { return nil }
        return ShadowEntry(user: user, hash: hash, line: "\(user):\(hash):" + (current.ageing[user] ?? "19000:0:99999:7:::"))
    }

    func passwdEntry(user: String) throws -> PasswdEntry? {
        let current = state
        guard current.shadow[user] != nil else { return nil }
        let line = current.passwd[user] ?? "\(user):x:1000:1000::/home/\(user):/bin/sh"
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        return PasswdEntry(user: user, uid: Int(fields[2]), shell: String(fields[6]), line: line)
    }

    func lock(user: String, shell: String) throws {
        record("usermod -L -s \(shell) \(user)")
        guard let entry = try passwdEntry(user: user) else { throw AgentError.remediation("usermod: user '\(user)' does not exist") }
        var fields = entry.line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        fields[6] = shell
        lock.withLock {
            if let hash = _state.shadow[user], !hash.hasPrefix("!") { _state.shadow[user] = "!" + hash }
            _state.passwd[user] = fields.joined(separator: ":")
        }
    }

    func replaceEntries(user: String, shadowLine: String, passwdLine: String?) throws {
        record("replace entries \(user)")
        let fields = shadowLine.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        lock.withLock {
            _state.shadow[user] = fields[1]
            _state.ageing[user] = fields.count > 2 ? fields[2] : ""
            if let passwdLine { _state.passwd[user] = passwdLine }
        }
    }

    /// Like the real chpasswd, a change dates the password today.
    static let today = "20500:0:99999:7:::"

    func setPassword(user: String, password: SecretBytes) throws {
        record("chpasswd \(user)")
        onSetPassword?()
        if chpasswdFails { throw AgentError.remediation("chpasswd did not change the password of \(user): exit status 1") }
        guard state.shadow[user] != nil else { throw AgentError.remediation("chpasswd: no such user") }
        if chpasswdChangesNothing { return }
        lock.withLock {
            _state.shadow[user] = Self.hash(password.bytes)  // PAM unlocks, like the real one
            _state.ageing[user] = Self.today
        }
    }

    func setPasswordHash(user: String, hash: String) throws {
        record("chpasswd -e \(user)")
        if chpasswdFails { throw AgentError.remediation("chpasswd -e failed") }
        lock.withLock {
            _state.shadow[user] = hash
            _state.ageing[user] = Self.today
        }
    }

    // RemediationFiles
    func read(_ path: String) throws -> FileSnapshot? { state.files[path] }

    func write(_ path: String, _ snapshot: FileSnapshot) throws {
        record("write \(path)")
        if failWritesTo.contains(path) { throw AgentError.remediation("cannot write \(path): No space left on device") }
        lock.withLock { _state.files[path] = snapshot }
    }

    func remove(_ path: String) throws {
        record("remove \(path)")
        lock.withLock { _ = _state.files.removeValue(forKey: path) }
    }

    func list(_ directory: String) throws -> [String] {
        state.files.keys.filter { ($0 as NSString).deletingLastPathComponent == directory }.map { ($0 as NSString).lastPathComponent }.sorted()
    }

    // SchedulerSystem
    func collect() -> InventorySection<ScheduledTaskInventory> { scheduled }
    func notifyAtDaemon() { lock.withLock { atDaemonNotified += 1 } }

    // ServiceManager
    func state(of unit: String) throws -> UnitState {
        if systemdMissing { throw AgentError.remediation("systemd is not running on this host (no /run/systemd/system; PID 1 is sh): cannot read the state of \(unit)") }
        return state.units[unit] ?? UnitState(loadState: "not-found", activeState: "inactive", unitFileState: "")
    }

    func perform(_ verb: UnitVerb, unit: String) throws {
        record("systemctl \(verb.rawValue) \(unit)")
        if systemdMissing { throw AgentError.remediation("systemd is not running on this host") }
        lock.withLock {
            guard var s = _state.units[unit] else { return }
            switch verb {
            case .stop: s.activeState = "inactive"
            case .start: s.activeState = "active"
            case .enable: s.unitFileState = "enabled"
            case .disable: s.unitFileState = "disabled"
            case .disableNow:
                s.unitFileState = "disabled"
                s.activeState = "inactive"
            }
            _state.units[unit] = s
        }
    }

    // CordonFirewall
    func read() throws -> CordonTableSnapshot? {
        guard let sets = state.table else { return nil }
        return CordonTableSnapshot(sets: sets, json: Data("{\"fake\":true}".utf8))
    }

    func apply(_ sets: CordonPortSets) throws {
        record("nft -f - (\(sets.summary))")
        if nftFails { throw AgentError.remediation("nft -f - did not apply the table inet cordon: exit status 1: Error: Could not process rule") }
        lock.withLock {
            var applied = sets
            if let drop = nftDropsPort { applied = CordonPortSets(inboundTCP: sets.inboundTCP.filter { $0 != drop }, inboundUDP: sets.inboundUDP,
                                                                   outboundTCP: sets.outboundTCP, outboundUDP: sets.outboundUDP) }
            _state.table = applied.isEmpty ? nil : applied
        }
    }
}

/// Hooks that count what was asked.
final class RecordingHooks: RemediationHooks, @unchecked Sendable {
    private let count = Mutex<(rescans: Int, refreshes: Int)>((0, 0))
    var fail = false
    var rescans: Int { count.withLock { $0.rescans } }
    var refreshes: Int { count.withLock { $0.refreshes } }

    func requestRescan() async throws -> String {
        if fail { throw AgentError.remediation("the scanner is not running") }
        count.withLock { $0.rescans += 1 }
        return "scan requested"
    }

    func requestInventoryRefresh() async throws -> String {
        count.withLock { $0.refreshes += 1 }
        return "inventory collection requested"
    }
}

/// Keys, a state directory and signed lists, as enrollment and the coordinator would make them.
struct RemediationFixture {
    static let agentID = "jump-dmz"
    let signingKey = Curve25519.Signing.PrivateKey()
    let escrowKey = Curve25519.KeyAgreement.PrivateKey()
    let directory: String
    let stateDir: AgentStateDir
    let policyFile: String
    let fake = FakeSystem()
    let hooks = RecordingHooks()
    let clock = TestClock()

    init(policy: String? = RemediationFixture.allowAll) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-rem-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        stateDir = AgentStateDir(directory + "/state")
        policyFile = directory + "/policy.yaml"
        if let policy { try Data(policy.utf8).write(to: URL(fileURLWithPath: policyFile)) }
        try Self.prepare(stateDir, signingKey: signingKey.publicKey, escrowKey: escrowKey.publicKey)
    }

    /// enrollment.json and the pinned keys, as `cordon-agent enroll` leaves them.
    static func prepare(_ stateDir: AgentStateDir, signingKey: Curve25519.Signing.PublicKey, escrowKey: Curve25519.KeyAgreement.PublicKey,
                        agentID: String = agentID) throws {
        let record = EnrollmentRecord(agentID: agentID, segment: "dmz", coordinator: "https://coordinator.example:8443", caFingerprint: "SHA256:00",
                                      enrolledAt: Date(timeIntervalSince1970: 1_700_000_000), certificateNotBefore: Date(timeIntervalSince1970: 1_700_000_000),
                                      certificateNotAfter: Date(timeIntervalSince1970: 1_900_000_000))
        try stateDir.saveEnrollment(record)
        try SecureFile.replace(stateDir.taskSigningKey, contents: Data(Curve25519PEM.pem(signingKey).utf8), mode: 0o644)
        try SecureFile.replace(stateDir.escrowKey, contents: Data(Curve25519PEM.pem(escrowKey).utf8), mode: 0o644)
    }

    static let allowAll = """
        allowedActions: [rotate-password, remove-scheduled-task, purge-at-jobs, block-ports, unblock-ports,
                         stop-service, disable-service, rescan, refresh-inventory, restore]
        protectedAccounts: [operator]
        protectedUnits: [nginx.service]
        """

    var now: Date { clock.now }

    func list(_ actions: [TaskAction], sequence: Int64, id: String? = nil, agentID: String = agentID, expiresIn: Double = 3600,
              dryRun: Bool = false) -> TaskList {
        TaskList(id: id ?? "run-\(sequence)", agentID: agentID, sequence: sequence, issuedAt: now, expiresAt: now.addingTimeInterval(expiresIn),
                 dryRun: dryRun, description: "test", actions: actions, issuedBy: "alice")
    }

    func signed(_ list: TaskList, key: Curve25519.Signing.PrivateKey? = nil) throws -> SignedTaskList {
        try SignedTaskList.sign(list, with: key ?? signingKey)
    }

    func signed(_ actions: [TaskAction], sequence: Int64, dryRun: Bool = false) throws -> SignedTaskList {
        try signed(list(actions, sequence: sequence, dryRun: dryRun))
    }

    var backups: BackupStore { BackupStore(directory: stateDir.backupsDirectory) }

    func executor(system: RemediationSystem? = nil) -> RemediationExecutor {
        let clock = self.clock
        return RemediationExecutor(system: system ?? fake.system, backups: backups, hooks: hooks, now: { clock.now },
                                   logger: Logger(label: "test.remediation"))
    }

    func processor(system: RemediationSystem? = nil, policyFile: String? = nil) -> TaskProcessor {
        let clock = self.clock
        return TaskProcessor(stateDir: stateDir, agentID: Self.agentID, policyFile: policyFile ?? self.policyFile, executor: executor(system: system),
                             policyContext: .init(coordinatorTCPPorts: [8443]), now: { clock.now }, logger: Logger(label: "test.remediation"))
    }

    func context(dryRun: Bool = false, taskID: String = "run-1") -> RemediationExecutor.Context {
        RemediationExecutor.Context(agentID: Self.agentID, taskID: taskID, escrowKey: escrowKey.publicKey, dryRun: dryRun)
    }

    var store: TaskStore { TaskStore(directory: stateDir.tasksDirectory) }

    /// Files below the state directory's tasks folder and the sequence, for "nothing changed".
    func taskStateSnapshot() -> [String: Data] {
        var out: [String: Data] = [:]
        let base = stateDir.tasksDirectory
        for sub in (try? FileManager.default.subpathsOfDirectory(atPath: base)) ?? [] where sub != "lock" {
            if let data = FileManager.default.contents(atPath: base + "/" + sub) { out[sub] = data }
        }
        return out
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The uplink in memory: lists to hand out, statuses received, and failure modes.
final class FakeTaskUplink: TaskUplink, @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [SignedTaskList] = []
    private var _posted: [(String, TaskStatusUpdate)] = []
    var unreachable = false
    /// Status codes to answer for a task's `running` post.
    var runningAnswer: [String: Int] = [:]
    /// Status code to answer for a task's final post.
    var finalAnswer: [String: Int] = [:]

    var posted: [(taskID: String, update: TaskStatusUpdate)] { lock.withLock { _posted.map { ($0.0, $0.1) } } }

    func enqueue(_ list: SignedTaskList) { lock.withLock { queue.append(list) } }

    func nextTask(wait: Double) async throws -> SignedTaskList? {
        if unreachable { throw TransportError.unreachable("connection refused") }
        let next: SignedTaskList? = lock.withLock { queue.isEmpty ? nil : queue.removeFirst() }
        if next == nil { try await Task.sleep(for: .milliseconds(20)) }
        return next
    }

    func shutdown() async { lock.withLock { shutDown = true } }
    private(set) var shutDown = false

    private var _refusals: [LocalRefusal] = []
    var refusals: [LocalRefusal] { lock.withLock { _refusals } }

    func postLocalRefusal(_ refusal: LocalRefusal) async throws {
        if unreachable { throw TransportError.unreachable("connection refused") }
        lock.withLock { _refusals.append(refusal) }
    }

    private var _acknowledged: [String] = []
    /// Receipts the agent acknowledged (`delivered`), kept apart from the statuses.
    var acknowledged: [String] { lock.withLock { _acknowledged } }

    func postTaskStatus(taskID: String, _ update: TaskStatusUpdate) async throws {
        if unreachable { throw TransportError.unreachable("connection refused") }
        if update.state == .delivered {
            lock.withLock { _acknowledged.append(taskID) }
            return
        }
        let code = update.state == .running ? runningAnswer[taskID] : finalAnswer[taskID]
        if let code { throw TransportError.refused(status: code, body: nil, "coordinator answered \(code)") }
        lock.withLock { _posted.append((taskID, update)) }
    }
}

/// A settable clock shared with the code under test.
final class TestClock: Sendable {
    private let value = Mutex<Date>(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A scratch directory, optionally a copy of an inventory fixture tree. Removed with
/// `FileManager.removeItem` only: it deletes links without following them. (The inventory's
/// `ScratchTree.remove()` first chmods every path, which follows the fixture's absolute links,
/// such as `apt-daily.timer -> /dev/null`, to files of the machine itself.)
struct RemediationScratch {
    let path: String

    init(copying fixture: String? = nil) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-rem-tree-\(UUID().uuidString)").path
        if let fixture {
            try FileManager.default.copyItem(atPath: InventoryFixtures.path(fixture), toPath: path)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    func write(_ relative: String, _ contents: String, mode: mode_t = 0o644) throws {
        let url = URL(fileURLWithPath: path + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: url)
        _ = Glibc.chmod(url.path, mode)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
