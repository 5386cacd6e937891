import Foundation

/// The jump host's own limits on remediation: `/etc/cordon/policy.yaml`.
///
/// The coordinator's signature says that a task list is genuine; this file says what this host
/// accepts from it. A list with one action the policy refuses is refused whole, before anything
/// runs. Without a policy file only the harmless actions (`rescan`, `refresh-inventory`) may run.
///
/// ```yaml
/// allowedActions: [rotate-password, remove-scheduled-task, purge-at-jobs, lock-account, block-ports,
///                  unblock-ports, stop-service, disable-service, rescan, refresh-inventory, restore]
/// protectedAccounts: [backup-admin]     # rotate-password and lock-account never touch these
/// protectedUnits: [nginx.service]       # plus, always: cordon-agent.service, ssh.service, ...
/// protectedPorts: {tcp: [8443], udp: [53]}   # plus, always: tcp/22 and the coordinator's port
/// minPasswordLength: 20
/// maxPasswordLength: 64
/// ```
/// It lives in Shared because the agent reports it in its facts and the coordinator's planner
/// leaves out what it would refuse, with the same rules.
public struct RemediationPolicy: Codable, Sendable, Equatable {
    /// Action names (`TaskAction.name`) that may run.
    public var allowedActions: Set<String>
    /// Accounts whose password `rotate-password` never changes.
    public var protectedAccounts: Set<String>
    /// Units never stopped or disabled (the implicit ones are added by `isProtected(unit:)`).
    public var protectedUnits: Set<String>
    /// Ports `block-ports` never blocks, in either direction (plus the implicit ones).
    public var protectedTCPPorts: Set<Int>
    public var protectedUDPPorts: Set<Int>
    /// Bounds on a rotated password's length, within `TaskAction.passwordLengths`.
    public var minPasswordLength: Int
    public var maxPasswordLength: Int
    /// The file this came from; nil for the built-in policy of a host without a policy file.
    public var origin: String?

    /// The agent itself and the way operators reach the jump host: never stopped or disabled.
    public static let implicitProtectedUnits: Set<String> = ["cordon-agent.service", "ssh.service", "sshd.service", "ssh.socket"]
    /// SSH: blocking it would cut the operators off the jump host.
    public static let implicitProtectedTCPPorts: Set<Int> = [22]
    /// What runs without a policy file: actions that change nothing on the host.
    public static let harmlessActions: Set<String> = ["rescan", "refresh-inventory"]
    public static let defaultPath = "/etc/cordon/policy.yaml"

    public init(allowedActions: Set<String>, protectedAccounts: Set<String> = [], protectedUnits: Set<String> = [],
                protectedTCPPorts: Set<Int> = [], protectedUDPPorts: Set<Int> = [],
                minPasswordLength: Int = TaskAction.passwordLengths.lowerBound, maxPasswordLength: Int = TaskAction.passwordLengths.upperBound,
                origin: String? = nil) {
        self.allowedActions = allowedActions
        self.protectedAccounts = protectedAccounts
        self.protectedUnits = protectedUnits
        self.protectedTCPPorts = protectedTCPPorts
        self.protectedUDPPorts = protectedUDPPorts
        self.minPasswordLength = minPasswordLength
        self.maxPasswordLength = maxPasswordLength
        self.origin = origin
    }

    /// The policy of a host without a policy file: only the harmless actions; `missingPath`
    /// is named in every refusal so that the operator knows what to create.
    public static func withoutFile(missingPath: String) -> RemediationPolicy {
        var policy = RemediationPolicy(allowedActions: harmlessActions)
        policy.missingPath = missingPath
        return policy
    }

    /// Set when there was no policy file at this path.
    public private(set) var missingPath: String?

    public func isProtected(unit: String) -> Bool {
        Self.implicitProtectedUnits.contains(unit) || protectedUnits.contains(unit)
    }

    // MARK: Loading

    private struct File: Codable {
        struct Ports: Codable {
            var tcp: [Int]?
            var udp: [Int]?
        }

        var allowedActions: [String]?
        var protectedAccounts: [String]?
        var protectedUnits: [String]?
        var protectedPorts: Ports?
        var minPasswordLength: Int?
        var maxPasswordLength: Int?
    }

    static let schema: ConfigSchema = .mapping([
        "allowedActions": .list(.scalar), "protectedAccounts": .list(.scalar), "protectedUnits": .list(.scalar),
        "protectedPorts": .mapping(["tcp": .list(.scalar), "udp": .list(.scalar)]),
        "minPasswordLength": .scalar, "maxPasswordLength": .scalar,
    ])

    /// Loads the policy at `path` strictly (unknown keys and bad values are errors naming the
    /// key); a missing file gives the harmless-only policy.
    public static func load(path: String) throws -> RemediationPolicy {
        guard FileManager.default.fileExists(atPath: path) else { return withoutFile(missingPath: path) }
        let file = try ConfigFile.load(File.self, path: path, schema: schema)
        return try make(file, origin: path)
    }

    /// Parses policy YAML (tests, and `load`).
    public static func parse(yaml: String, origin: String) throws -> RemediationPolicy {
        try make(try ConfigFile.decode(File.self, yaml: yaml, origin: origin, schema: schema), origin: origin)
    }

    private static func make(_ file: File, origin: String) throws -> RemediationPolicy {
        func fail(_ message: String) -> CordonError { .invalidArgument("\(origin): \(message)") }
        let actions = file.allowedActions ?? Array(harmlessActions)
        for name in actions where !TaskAction.allNames.contains(name) {
            throw fail("allowedActions: unknown action '\(name.prefix(40))' (actions are \(TaskAction.allNames.joined(separator: ", ")))")
        }
        for user in file.protectedAccounts ?? [] where !TaskAction.isAccountName(user) {
            throw fail("protectedAccounts: \(user.prefix(40).debugDescription) is not an account name")
        }
        for unit in file.protectedUnits ?? [] where !TaskAction.isUnitName(unit) {
            throw fail("protectedUnits: \(unit.prefix(60).debugDescription) is not a unit name with its suffix, like nginx.service")
        }
        for port in (file.protectedPorts?.tcp ?? []) + (file.protectedPorts?.udp ?? []) where !(1...65535).contains(port) {
            throw fail("protectedPorts: \(port) is not a port (1-65535)")
        }
        let bounds = TaskAction.passwordLengths
        let minimum = file.minPasswordLength ?? bounds.lowerBound
        let maximum = file.maxPasswordLength ?? bounds.upperBound
        guard bounds.contains(minimum) else { throw fail("minPasswordLength must be \(bounds.lowerBound)-\(bounds.upperBound)") }
        guard bounds.contains(maximum) else { throw fail("maxPasswordLength must be \(bounds.lowerBound)-\(bounds.upperBound)") }
        guard minimum <= maximum else { throw fail("minPasswordLength (\(minimum)) is above maxPasswordLength (\(maximum))") }
        return RemediationPolicy(
            allowedActions: Set(actions), protectedAccounts: Set(file.protectedAccounts ?? []), protectedUnits: Set(file.protectedUnits ?? []),
            protectedTCPPorts: Set(file.protectedPorts?.tcp ?? []), protectedUDPPorts: Set(file.protectedPorts?.udp ?? []),
            minPasswordLength: minimum, maxPasswordLength: maximum, origin: origin)
    }

    // MARK: Checking

    /// What the check knows besides the list: ports that must stay open (the coordinator's).
    public struct Context: Codable, Sendable, Equatable {
        public var coordinatorTCPPorts: Set<Int>
        public init(coordinatorTCPPorts: Set<Int> = []) { self.coordinatorTCPPorts = coordinatorTCPPorts }
    }

    /// Why the policy refuses `action`, or nil when it may run.
    public func refusal(of action: TaskAction, context: Context = .init()) -> String? {
        guard allowedActions.contains(action.name) else {
            if let missingPath {
                return "\(action.name) is not allowed: there is no local policy file \(missingPath), so only "
                    + "\(Self.harmlessActions.sorted().joined(separator: " and ")) may run (see Deploy/policy.yaml.example)"
            }
            return "\(action.name) is not allowed by the local policy \(origin ?? "") (allowedActions: \(allowedActions.sorted().joined(separator: ", ")))"
        }
        switch action {
        case .rotatePassword(let user, let length):
            if protectedAccounts.contains(user) { return "\(user) is a protected account in the local policy \(origin ?? "")" }
            if length < minPasswordLength { return "a \(length)-character password is shorter than the local minimum \(minPasswordLength)" }
            if length > maxPasswordLength { return "a \(length)-character password is longer than the local maximum \(maxPasswordLength)" }
        case .lockAccount(let user):
            if user == "root" { return "root is never locked by Cordon: it could leave the host without a way in; rotate its password instead" }
            if protectedAccounts.contains(user) { return "\(user) is a protected account in the local policy \(origin ?? "")" }
        case .stopService(let unit), .disableService(let unit):
            if isProtected(unit: unit) { return protectedUnitReason(unit) }
        case .blockPorts(let tcp, let udp, _):
            let tcpProtected = Self.implicitProtectedTCPPorts.union(protectedTCPPorts).union(context.coordinatorTCPPorts)
            let hit = tcp.filter { tcpProtected.contains($0) }.map { "tcp/\($0)" } + udp.filter { protectedUDPPorts.contains($0) }.map { "udp/\($0)" }
            if !hit.isEmpty {
                return "\(hit.joined(separator: ", ")) may not be blocked: the local policy keeps open tcp/22 (SSH), the coordinator's port"
                    + " and protectedPorts"
            }
        default:
            break
        }
        return nil
    }

    public func protectedUnitReason(_ unit: String) -> String {
        "\(unit) is a protected unit (always: \(Self.implicitProtectedUnits.sorted().joined(separator: ", "))"
            + (protectedUnits.isEmpty ? "" : "; in \(origin ?? "the policy"): \(protectedUnits.sorted().joined(separator: ", "))") + ")"
    }
}
