import Foundation

/// Which way a port block applies.
public enum TrafficDirection: String, Codable, Sendable, CaseIterable {
    case inbound, outbound, both
}

/// The closed vocabulary of remediation actions. There is no action that runs a shell string:
/// an agent executes only these, with typed, validated parameters.
///
/// In a task file (YAML) each action is a one-key mapping:
/// ```yaml
/// - rotate-password: {user: root, length: 24}
/// - remove-scheduled-task: {id: "cron:3f2a9c0d1e4b5a67", source: /etc/cron.d/sysupdate}  # source optional
/// - purge-at-jobs: {user: alice}        # user optional: all users
/// - lock-account: {user: toor}          # password locked, shell /usr/sbin/nologin
/// - block-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}
/// - unblock-ports: {tcp: [445], direction: inbound}
/// - stop-service: {unit: smbd.service}
/// - disable-service: {unit: smbd.service}
/// - rescan: {}
/// - refresh-inventory: {}
/// - restore: {backup: "bk-..."}
/// ```
public enum TaskAction: Sendable, Equatable, Hashable {
    case rotatePassword(user: String, length: Int)
    /// `source`: the file the inventory saw the entry in (the plan fills it in), so that an ID
    /// that no longer matches can be explained by what that file holds now.
    case removeScheduledTask(id: String, source: String? = nil)
    case purgeAtJobs(user: String?)
    /// Locks the password (`usermod -L`) and sets the shell to nologin: for a backdoor account
    /// (a second UID 0 such as `toor`) that must not log in, where a new password would only
    /// hand the attacker's account an escrowed one.
    case lockAccount(user: String)
    case blockPorts(tcp: [Int], udp: [Int], direction: TrafficDirection)
    case unblockPorts(tcp: [Int], udp: [Int], direction: TrafficDirection)
    case stopService(unit: String)
    case disableService(unit: String)
    case rescan
    case refreshInventory
    case restore(backup: String)

    /// The action's name in task files, policies and reports.
    public var name: String {
        switch self {
        case .rotatePassword: "rotate-password"
        case .removeScheduledTask: "remove-scheduled-task"
        case .purgeAtJobs: "purge-at-jobs"
        case .lockAccount: "lock-account"
        case .blockPorts: "block-ports"
        case .unblockPorts: "unblock-ports"
        case .stopService: "stop-service"
        case .disableService: "disable-service"
        case .rescan: "rescan"
        case .refreshInventory: "refresh-inventory"
        case .restore: "restore"
        }
    }

    public static let allNames = ["rotate-password", "remove-scheduled-task", "purge-at-jobs", "lock-account", "block-ports", "unblock-ports",
                                  "stop-service", "disable-service", "rescan", "refresh-inventory", "restore"]

    /// Default and bounds of a generated password's length.
    public static let defaultPasswordLength = 24
    public static let passwordLengths = 16...128

    /// A one-line description for people.
    public var summary: String {
        switch self {
        case .rotatePassword(let user, let length): "rotate the password of \(user) (\(length) characters, escrowed)"
        case .removeScheduledTask(let id, let source): "remove scheduled task \(id)" + (source.map { " (\($0))" } ?? "")
        case .purgeAtJobs(let user): "delete all at jobs" + (user.map { " of \($0)" } ?? "")
        case .lockAccount(let user): "lock the account \(user) (password locked, shell nologin)"
        case .blockPorts(let tcp, let udp, let direction): "block \(Self.ports(tcp, udp)) \(direction.rawValue)"
        case .unblockPorts(let tcp, let udp, let direction): "unblock \(Self.ports(tcp, udp)) \(direction.rawValue)"
        case .stopService(let unit): "stop \(unit)"
        case .disableService(let unit): "disable \(unit)"
        case .rescan: "scan the segment now"
        case .refreshInventory: "collect the inventory now"
        case .restore(let backup): "restore backup \(backup)"
        }
    }

    static func ports(_ tcp: [Int], _ udp: [Int]) -> String {
        (tcp.map { "tcp/\($0)" } + udp.map { "udp/\($0)" }).joined(separator: ", ")
    }

    /// Checks every parameter; a task list with one invalid action is refused whole.
    public func validate() throws {
        func fail(_ message: String) -> CordonError { .invalidArgument("\(name): \(message)") }
        switch self {
        case .rotatePassword(let user, let length):
            guard Self.isAccountName(user) else { throw fail("user \(user.prefix(40).debugDescription) is not a valid account name") }
            guard Self.passwordLengths.contains(length) else { throw fail("length must be \(Self.passwordLengths.lowerBound)-\(Self.passwordLengths.upperBound)") }
        case .removeScheduledTask(let id, let source):
            guard Self.isTaskID(id) else { throw fail("id \(id.prefix(60).debugDescription) is not a scheduled-task ID from the inventory (like cron:0123456789abcdef)") }
            if let source, !Self.isSourcePath(source) {
                throw fail("source \(source.prefix(60).debugDescription) is not an absolute path (at most 1024 bytes, no '..', no control characters)")
            }
        case .purgeAtJobs(let user):
            if let user, !Self.isAccountName(user) { throw fail("user \(user.prefix(40).debugDescription) is not a valid account name") }
        case .lockAccount(let user):
            guard Self.isAccountName(user) else { throw fail("user \(user.prefix(40).debugDescription) is not a valid account name") }
        case .blockPorts(let tcp, let udp, _), .unblockPorts(let tcp, let udp, _):
            guard !(tcp.isEmpty && udp.isEmpty) else { throw fail("name at least one tcp or udp port") }
            guard tcp.count + udp.count <= 1024 else { throw fail("at most 1024 ports") }
            for port in tcp + udp where !(1...65535).contains(port) { throw fail("port \(port) is not 1-65535") }
        case .stopService(let unit), .disableService(let unit):
            guard Self.isUnitName(unit) else { throw fail("unit \(unit.prefix(60).debugDescription) is not a systemd unit name like smbd.service") }
        case .rescan, .refreshInventory:
            break
        case .restore(let backup):
            guard Self.isBackupID(backup) else { throw fail("backup \(backup.prefix(60).debugDescription) is not a backup ID (bk-...)") }
        }
    }

    /// POSIX-ish account names: what useradd accepts on Debian.
    public static func isAccountName(_ s: String) -> Bool {
        guard (1...32).contains(s.utf8.count), let first = s.utf8.first, first != 0x2D else { return false }
        return s.utf8.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2E || c == 0x24 }
    }

    /// `kind:hex` as the inventory makes them.
    public static func isTaskID(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, ["cron", "at", "systemd-timer"].contains(String(parts[0])),
              (8...64).contains(parts[1].count) else { return false }
        return parts[1].allSatisfy { $0.isHexDigit }
    }

    /// An absolute file path as the inventory names a scheduled task's source.
    public static func isSourcePath(_ s: String) -> Bool {
        s.hasPrefix("/") && s.utf8.count <= 1024 && !s.split(separator: "/").contains("..") && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    public static func isUnitName(_ s: String) -> Bool {
        guard (3...128).contains(s.utf8.count), let dot = s.lastIndex(of: ".") else { return false }
        let suffix = s[s.index(after: dot)...]
        guard ["service", "timer", "socket", "target", "path"].contains(String(suffix)) else { return false }
        return s.utf8.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D || c == 0x2E || c == 0x40 || c == 0x3A }
            && !s.hasPrefix("-")
    }

    public static func isBackupID(_ s: String) -> Bool {
        s.hasPrefix("bk-") && (4...80).contains(s.utf8.count) && s.utf8.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D }
    }
}

extension TaskAction: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Params: Codable {
        var user: String?
        var length: Int?
        var id: String?
        var tcp: [Int]?
        var udp: [Int]?
        var direction: TrafficDirection?
        var unit: String?
        var backup: String?
        var source: String?
    }

    /// Parameters a given action accepts: anything else is an error, not silently ignored.
    private static let allowedParams: [String: Set<String>] = [
        "rotate-password": ["user", "length"], "remove-scheduled-task": ["id", "source"], "purge-at-jobs": ["user"], "lock-account": ["user"],
        "block-ports": ["tcp", "udp", "direction"], "unblock-ports": ["tcp", "udp", "direction"],
        "stop-service": ["unit"], "disable-service": ["unit"], "rescan": [], "refresh-inventory": [], "restore": ["backup"],
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "each action is a mapping with exactly one key: the action's name (\(Self.allNames.joined(separator: ", ")))"))
        }
        guard let allowed = Self.allowedParams[key.stringValue] else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [key],
                                                    debugDescription: "unknown action '\(key.stringValue.prefix(40))'; actions are \(Self.allNames.joined(separator: ", "))"))
        }
        let nested = try? container.nestedContainer(keyedBy: Key.self, forKey: key)
        for extra in nested?.allKeys ?? [] where !allowed.contains(extra.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [key, extra],
                                                    debugDescription: "\(key.stringValue) takes no parameter '\(extra.stringValue.prefix(40))' (it takes: \(allowed.sorted().joined(separator: ", ")))"))
        }
        let p = (try? container.decodeNil(forKey: key)) == true ? Params() : try container.decode(Params.self, forKey: key)
        func require<T>(_ value: T?, _ name: String) throws -> T {
            guard let value else {
                throw DecodingError.keyNotFound(Key(stringValue: name), .init(codingPath: decoder.codingPath + [key], debugDescription: "\(key.stringValue) needs '\(name)'"))
            }
            return value
        }
        switch key.stringValue {
        case "rotate-password": self = .rotatePassword(user: try require(p.user, "user"), length: p.length ?? Self.defaultPasswordLength)
        case "remove-scheduled-task": self = .removeScheduledTask(id: try require(p.id, "id"), source: p.source)
        case "purge-at-jobs": self = .purgeAtJobs(user: p.user)
        case "lock-account": self = .lockAccount(user: try require(p.user, "user"))
        case "block-ports": self = .blockPorts(tcp: p.tcp ?? [], udp: p.udp ?? [], direction: p.direction ?? .inbound)
        case "unblock-ports": self = .unblockPorts(tcp: p.tcp ?? [], udp: p.udp ?? [], direction: p.direction ?? .inbound)
        case "stop-service": self = .stopService(unit: try require(p.unit, "unit"))
        case "disable-service": self = .disableService(unit: try require(p.unit, "unit"))
        case "rescan": self = .rescan
        case "refresh-inventory": self = .refreshInventory
        default: self = .restore(backup: try require(p.backup, "backup"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        var p = Params()
        switch self {
        case .rotatePassword(let user, let length): p.user = user; p.length = length
        case .removeScheduledTask(let id, let source): p.id = id; p.source = source
        case .purgeAtJobs(let user): p.user = user
        case .lockAccount(let user): p.user = user
        case .blockPorts(let tcp, let udp, let direction), .unblockPorts(let tcp, let udp, let direction):
            p.tcp = tcp.isEmpty ? nil : tcp
            p.udp = udp.isEmpty ? nil : udp
            p.direction = direction
        case .stopService(let unit), .disableService(let unit): p.unit = unit
        case .rescan, .refreshInventory: break
        case .restore(let backup): p.backup = backup
        }
        try container.encode(p, forKey: Key(stringValue: name))
    }
}
