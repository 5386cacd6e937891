import CordonShared
import Foundation

/// Everything remediation does to the host, behind narrow interfaces: the executor decides what
/// to change and keeps the backups; these only read and change the system. Unit tests give the
/// executor a fake; production gives it `RemediationSystem.live()`.
public struct RemediationSystem: Sendable {
    public var accounts: any AccountSystem
    public var files: any RemediationFiles
    public var scheduler: any SchedulerSystem
    public var services: any ServiceManager
    public var firewall: any CordonFirewall

    public init(accounts: any AccountSystem, files: any RemediationFiles, scheduler: any SchedulerSystem,
                services: any ServiceManager, firewall: any CordonFirewall) {
        self.accounts = accounts
        self.files = files
        self.scheduler = scheduler
        self.services = services
        self.firewall = firewall
    }

    /// The real system: chpasswd, the cron and at spools, systemctl, nft.
    public static func live(runner: any RemediationCommandRunner = RemediationProcessRunner()) -> RemediationSystem {
        RemediationSystem(accounts: LiveAccountSystem(runner: runner), files: LiveRemediationFiles(),
                          scheduler: LiveSchedulerSystem(), services: LiveServiceManager(runner: runner),
                          firewall: LiveCordonFirewall(runner: runner))
    }
}

// MARK: Accounts

/// An account's entry in `/etc/shadow`.
public struct ShadowEntry: Sendable, Equatable {
    public var user: String
    /// The hash field: `$y$...`, `!$6$...` (locked), `*`, `!` or empty.
    public var hash: String
    /// The whole line, for the backup (it stays on the host, mode 0600).
    public var line: String

    public init(user: String, hash: String, line: String) {
        self.user = user
        self.hash = hash
        self.line = line
    }

    /// A hash with which no password logs in: `!...` (usermod -L), `*`, or `!`.
    public var isLocked: Bool { hash.hasPrefix("!") || hash.hasPrefix("*") }
}

/// An account's entry in `/etc/passwd`.
public struct PasswdEntry: Sendable, Equatable {
    public var user: String
    public var uid: Int?
    public var shell: String
    /// The whole line, for the backup.
    public var line: String

    public init(user: String, uid: Int?, shell: String, line: String) {
        self.user = user
        self.uid = uid
        self.shell = shell
        self.line = line
    }
}

/// Passwords, through the system's own tools (chpasswd, usermod).
public protocol AccountSystem: Sendable {
    /// The account's shadow entry; nil when there is no such account.
    func shadowEntry(user: String) throws -> ShadowEntry?
    /// Sets a new password. The password reaches the tool on its standard input only, never in
    /// argv or the environment; the tool's exit status is checked.
    func setPassword(user: String, password: SecretBytes) throws
    /// Sets an already-hashed password (`chpasswd -e`): re-locking after a rotation.
    func setPasswordHash(user: String, hash: String) throws
    /// The account's passwd entry; nil when there is no such account.
    func passwdEntry(user: String) throws -> PasswdEntry?
    /// Locks the password and sets the login shell (`usermod -L -s SHELL`).
    func lock(user: String, shell: String) throws
    /// Puts back the account's lines exactly, byte for byte (every field, the last-change day
    /// included), under the passwd files' lock: restore. `passwdLine` nil leaves /etc/passwd.
    func replaceEntries(user: String, shadowLine: String, passwdLine: String?) throws
}

/// A secret's bytes, zeroed when released. Swift may still have copied them (a `String` made
/// for escrow cannot be zeroed): this keeps the copies we control short-lived.
public final class SecretBytes: @unchecked Sendable {
    public private(set) var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Overwrites the bytes with zeros now (also done on release).
    public func wipe() {
        for index in bytes.indices { bytes[index] = 0 }
    }

    deinit { wipe() }
}

// MARK: Files

/// A file's contents and ownership.
public struct FileSnapshot: Sendable, Equatable {
    public var contents: Data
    public var uid: UInt32
    public var gid: UInt32
    /// Permission bits (07777).
    public var mode: UInt32

    public init(contents: Data, uid: UInt32, gid: UInt32, mode: UInt32) {
        self.contents = contents
        self.uid = uid
        self.gid = gid
        self.mode = mode
    }

    public func with(contents: Data) -> FileSnapshot {
        var copy = self
        copy.contents = contents
        return copy
    }
}

/// The files that cron, at and systemd read, by their absolute paths on the host.
public protocol RemediationFiles: Sendable {
    /// The file, or nil when it does not exist. Only regular files (a link is refused).
    func read(_ path: String) throws -> FileSnapshot?
    /// Creates or replaces `path` atomically with exactly these contents, owner, group and mode:
    /// a temporary file in the same directory (named so that cron and atd skip it), fsync, rename.
    func write(_ path: String, _ snapshot: FileSnapshot) throws
    /// Deletes the file; deleting a missing file is not an error.
    func remove(_ path: String) throws
    /// The names in a directory (empty when it does not exist).
    func list(_ directory: String) throws -> [String]
}

// MARK: Scheduled tasks

/// The scheduled tasks the inventory reports, with the same stable IDs.
public protocol SchedulerSystem: Sendable {
    /// Collects cron entries, at jobs and timers (`ScheduledTaskCollector`).
    func collect() -> InventorySection<ScheduledTaskInventory>
    /// Tells atd that its spool changed (after a restored job), as at(1) does; best effort.
    func notifyAtDaemon()
}

// MARK: Services

/// What systemd says about a unit.
public struct UnitState: Codable, Sendable, Equatable {
    /// `loaded`, `not-found`, `masked`, ...
    public var loadState: String
    /// `active`, `inactive`, `failed`, `activating`, ...
    public var activeState: String
    /// `enabled`, `disabled`, `static`, `masked`, ... (empty when systemd gives none).
    public var unitFileState: String

    public init(loadState: String, activeState: String, unitFileState: String) {
        self.loadState = loadState
        self.activeState = activeState
        self.unitFileState = unitFileState
    }

    public var exists: Bool { loadState != "not-found" }
    public var isRunning: Bool { ["active", "activating", "reloading", "deactivating"].contains(activeState) }
    public var isEnabled: Bool { ["enabled", "enabled-runtime", "linked", "linked-runtime", "alias"].contains(unitFileState) }
}

public enum UnitVerb: String, Sendable {
    case stop, start, enable, disable
    /// `disable --now`: disable and stop.
    case disableNow = "disable --now"
}

/// systemd, through systemctl. Throws `AgentError.remediation` with a clear reason when
/// systemd is not running (containers, the lab).
public protocol ServiceManager: Sendable {
    func state(of unit: String) throws -> UnitState
    func perform(_ verb: UnitVerb, unit: String) throws
}

// MARK: Firewall

/// The ports Cordon blocks, in its own nftables table `inet cordon`. Sorted, no duplicates.
public struct CordonPortSets: Codable, Sendable, Equatable {
    public var inboundTCP: [Int]
    public var inboundUDP: [Int]
    public var outboundTCP: [Int]
    public var outboundUDP: [Int]

    public init(inboundTCP: [Int] = [], inboundUDP: [Int] = [], outboundTCP: [Int] = [], outboundUDP: [Int] = []) {
        self.inboundTCP = Array(Set(inboundTCP)).sorted()
        self.inboundUDP = Array(Set(inboundUDP)).sorted()
        self.outboundTCP = Array(Set(outboundTCP)).sorted()
        self.outboundUDP = Array(Set(outboundUDP)).sorted()
    }

    public static let empty = CordonPortSets()
    public var isEmpty: Bool { inboundTCP.isEmpty && inboundUDP.isEmpty && outboundTCP.isEmpty && outboundUDP.isEmpty }

    /// These sets with `tcp`/`udp` added (`block`) or removed in `direction`.
    public func changing(tcp: [Int], udp: [Int], direction: TrafficDirection, block: Bool) -> CordonPortSets {
        func apply(_ current: [Int], _ ports: [Int]) -> [Int] {
            block ? Array(Set(current).union(ports)) : Array(Set(current).subtracting(ports))
        }
        let inbound = direction != .outbound, outbound = direction != .inbound
        return CordonPortSets(
            inboundTCP: inbound ? apply(inboundTCP, tcp) : inboundTCP, inboundUDP: inbound ? apply(inboundUDP, udp) : inboundUDP,
            outboundTCP: outbound ? apply(outboundTCP, tcp) : outboundTCP, outboundUDP: outbound ? apply(outboundUDP, udp) : outboundUDP)
    }

    /// `in tcp/445, udp/137; out tcp/445`, or `nothing blocked`.
    public var summary: String {
        func part(_ label: String, _ tcp: [Int], _ udp: [Int]) -> String? {
            let ports = tcp.map { "tcp/\($0)" } + udp.map { "udp/\($0)" }
            return ports.isEmpty ? nil : "\(label) " + ports.joined(separator: ", ")
        }
        let parts = [part("in", inboundTCP, inboundUDP), part("out", outboundTCP, outboundUDP)].compactMap { $0 }
        return parts.isEmpty ? "nothing blocked" : parts.joined(separator: "; ")
    }
}

/// The table `inet cordon` as nft lists it.
public struct CordonTableSnapshot: Sendable, Equatable {
    public var sets: CordonPortSets
    /// `nft -j list table inet cordon`, verbatim (kept in the backup).
    public var json: Data
    /// Objects in the table that Cordon did not make (a rule or set added by hand); they do not
    /// survive a change.
    public var foreign: [String]

    public init(sets: CordonPortSets, json: Data, foreign: [String] = []) {
        self.sets = sets
        self.json = json
        self.foreign = foreign
    }
}

/// Cordon's own nftables table `inet cordon`, and nothing else: other tables are never touched.
public protocol CordonFirewall: Sendable {
    /// The table as it is; nil when it does not exist.
    func read() throws -> CordonTableSnapshot?
    /// Replaces the table atomically (one nft transaction) with one holding exactly `sets`;
    /// empty sets delete the table.
    func apply(_ sets: CordonPortSets) throws
}
