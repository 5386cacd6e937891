import ArgumentParser
import CordonShared
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension RolloutInventory.HostKeyPolicy: ExpressibleByArgument {}

public struct RolloutCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Put agents on an inventory of jump hosts over SSH, and see which made it.",
        discussion: """
            The inventory (YAML; see Deploy/rollout-inventory.yaml.example) lists the segments, each \
            with its scan scope and its jump hosts (SSH address, user, key, optional ProxyJump through \
            a bastion). The system's OpenSSH client does the work: BatchMode, the inventory's key only, \
            a connect timeout, and the rollout's own known_hosts file (new hosts are remembered, a \
            changed host key is refused; --host-keys strict accepts only hosts already in it).

            Examples:
              cordon rollout plan inventory.yaml
              cordon rollout apply inventory.yaml --parallel 20
              cordon rollout status inventory.yaml --json
            """,
        subcommands: [Plan.self, Apply.self, Status.self])

    public init() {}

    /// Options every rollout subcommand shares.
    public struct Options: ParsableArguments {
        @Argument(help: ArgumentHelp("The rollout inventory (YAML).", valueName: "inventory"))
        public var inventory: String

        @Option(name: .long, help: ArgumentHelp("The known_hosts file of the rollout (default: the inventory's ssh.knownHosts, else ~/.config/cordon/rollout_known_hosts).", valueName: "file"))
        public var knownHosts: String?

        @Option(name: .long, help: ArgumentHelp("Host keys: accept-new (remember new hosts, refuse changed keys) or strict (only hosts already known). Overrides the inventory.", valueName: "policy"))
        public var hostKeys: RolloutInventory.HostKeyPolicy?

        @Option(name: .long, help: ArgumentHelp("Directory with install-agent.sh, cordon-agent-supervise and systemd/cordon-agent.service (default: found next to the cordon binary).", valueName: "dir"))
        public var deployDir: String?

        @Option(name: .long, help: ArgumentHelp("Hosts worked on at the same time (1-100).", valueName: "n"))
        public var parallel: Int = 10

        @Option(name: .long, help: ArgumentHelp("The coordinator CA agents pin (default: the inventory's, else the operator profile's CA).", valueName: "SHA256:hex"))
        public var caFingerprint: String?

        @Flag(name: .long, help: "Print the result as JSON.")
        public var json = false

        @Flag(name: .long, help: "No progress lines on stderr.")
        public var quiet = false

        public init() {}

        public func validate() throws {
            guard (1...100).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 100") }
            if let caFingerprint, Fingerprint.normalize(caFingerprint) == nil {
                throw ValidationError("--ca-fingerprint must be SHA256: followed by 64 hex digits, as `cordon init` printed it")
            }
        }

        func knownHostsPath(_ inventory: RolloutInventory) -> String {
            knownHosts.map { RolloutInventory.resolvePath($0, base: FileManager.default.currentDirectoryPath, home: home) }
                ?? inventory.ssh.knownHosts ?? OperatorProfile.defaultDirectory + "/rollout_known_hosts"
        }

        var home: String { ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory() }

        /// The CA agents pin: --ca-fingerprint, else the inventory's, else the operator profile's
        /// CA; when two of them are given they must agree (a wrong profile or a wrong inventory).
        func resolveFingerprint(_ inventory: RolloutInventory, connection: OperatorOptions?) throws -> String {
            var profileFingerprint: String?
            if let connection {
                let path = connection.profile ?? OperatorProfile.defaultPath
                if FileManager.default.fileExists(atPath: path) {
                    profileFingerprint = try RolloutFiles.caFingerprint(pemFile: try OperatorProfile.load(path: path).ca)
                }
            }
            let given = caFingerprint.flatMap(Fingerprint.normalize) ?? inventory.coordinator.caFingerprint
            if let given, let profileFingerprint, given != profileFingerprint {
                throw CordonError.invalidArgument("the CA fingerprint \(given) is not the CA of the operator profile (\(profileFingerprint)): "
                    + "is the inventory meant for another coordinator?")
            }
            guard let fingerprint = given ?? profileFingerprint else {
                throw CordonError.invalidArgument("no CA fingerprint: set coordinator.caFingerprint in \(inventory.origin) or pass --ca-fingerprint")
            }
            return fingerprint
        }

        func progress(total: Int) -> (@Sendable (RolloutHostResult) -> Void)? {
            guard !quiet else { return nil }
            let done = Mutex(0)
            return { result in
                let n = done.withLock { $0 += 1; return $0 }
                var line = "[\(n)/\(total)] \(result.segment)/\(result.host): \(result.outcome == .planned ? result.action ?? "?" : result.outcome.rawValue)"
                if let error = result.error { line += " (\(result.failedStep ?? "?")): \(error)" }
                line += " (\(HumanDuration.format(result.seconds)))\n"
                StandardOutput.writeError(line)
            }
        }
    }

    /// A private directory for the run (ssh_config, stdin files, output), removed at the end.
    static func withWorkDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/cordon-rollout-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CordonError.io("cannot make a temporary directory in \(base)") }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    static func run(mode: HostRolloutMachine.Mode, options: Options, connection: OperatorOptions?, settings: HostRolloutMachine.Settings,
                    tokenTTL: Double) async throws {
        let inventory = try RolloutInventory.load(path: options.inventory)
        let files = try RolloutFiles.locate(deployDir: options.deployDir)
        let fingerprint = try options.resolveFingerprint(inventory, connection: connection)
        let report: RolloutReport = try await withWorkDirectory { work in
            let knownHosts = options.knownHostsPath(inventory)
            let policy = options.hostKeys ?? inventory.ssh.hostKeys
            let remote = try OpenSSHRemote(inventory: inventory, knownHosts: knownHosts, policy: policy, workDirectory: work)
            let local = try await RolloutEngine.LocalAgent.load(inventory: inventory, files: files, caFingerprint: fingerprint, workDirectory: work)
            func execute(_ coordinator: (any RolloutCoordinator)?) async throws -> RolloutReport {
                let engine = RolloutEngine(inventory: inventory, local: local, remote: remote, coordinator: coordinator, settings: settings,
                                           parallel: options.parallel, tokenTTL: tokenTTL, knownHosts: knownHosts)
                return try await engine.run(mode: mode, progress: options.progress(total: inventory.hosts.count))
            }
            if let connection {
                return try await connection.withClient { client in try await execute(HTTPRolloutCoordinator(client: client)) }
            }
            return try await execute(nil)
        }
        if options.json { try printJSON(report) } else { print(report.renderTable()) }
        if !report.hosts.allSatisfy({ mode == .plan ? $0.outcome != .failed : $0.succeeded }) { throw ExitCode(CordonExit.failure) }
    }

    public struct Plan: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Show what `rollout apply` would do on each host, changing nothing.",
            discussion: """
                Logs in to every host and runs install-agent.sh --probe (read-only), asks the coordinator \
                for the segments' recorded scopes and its agents, and shows per host: install, upgrade, \
                repair (with the reasons), unchanged, or refuse (and why). --offline checks the inventory \
                and the local files only. Exits 1 when a host could not be probed.
                """)

        @OptionGroup public var options: Options
        @OptionGroup public var connection: OperatorOptions

        @Flag(name: .long, help: "Neither SSH nor the coordinator: check the inventory and the local files only.")
        public var offline = false

        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                if offline { return try await Plan.offlinePlan(options: options, connection: connection) }
                try await RolloutCommand.run(mode: .plan, options: options, connection: connection, settings: .init(), tokenTTL: 0)
            }
        }

        static func offlinePlan(options: Options, connection: OperatorOptions) async throws {
            let inventory = try RolloutInventory.load(path: options.inventory)
            let files = try RolloutFiles.locate(deployDir: options.deployDir)
            // The profile's CA is a local file: no connection needed.
            let fingerprint = try options.resolveFingerprint(inventory, connection: connection)
            let version = try await withWorkDirectory { await RolloutFiles.agentVersion(binary: inventory.agent.binary, workDirectory: $0) }
            guard FileManager.default.isExecutableFile(atPath: inventory.agent.binary) else {
                throw CordonError.invalidArgument("\(inventory.origin): agent.binary \(inventory.agent.binary) is not an executable file")
            }
            let hosts = inventory.hosts.map { host -> RolloutHostResult in
                var r = RolloutHostResult(host: host, outcome: .planned)
                r.action = "probe"
                r.detail = "install, upgrade, repair or leave alone: decided after logging in (--offline)"
                return r
            }
            let report = RolloutReport(command: "plan", inventory: inventory.origin, coordinator: inventory.coordinator.url,
                                       agentVersion: version ?? "unknown", agentSHA256: try RolloutFiles.sha256(file: inventory.agent.binary),
                                       startedAt: Date(), finishedAt: Date(), parallel: options.parallel,
                                       segments: inventory.segments.map { .init(name: $0.name, scope: $0.scope, scopeAction: "unknown", previousScope: nil, error: nil) },
                                       hosts: hosts, summary: RolloutReport.summarize(hosts))
            if options.json { return try printJSON(report) }
            print(report.renderTable())
            print("Deploy files: \(files.installScript), \(files.supervise), \(files.unit)")
            print("CA fingerprint the agents will pin: \(fingerprint)")
        }
    }

    public struct Apply: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Install, enroll and start the agent on every inventory host; wait for its first report.",
            discussion: """
                Records each segment's scope on the coordinator, then on each host (--parallel at a time): \
                probes it; creates a single-use enrollment token if it is not enrolled (sent in a 0600 file, \
                never on a command line); copies the agent binary only when the host's differs (its SHA-256 is \
                checked on the host), install-agent.sh, the unit or the plain supervisor, agent.yaml with the \
                segment's scope and the policy file; runs install-agent.sh (systemd where it runs, else \
                cordon-agent-supervise); and waits for the agent's first report. Hosts with the same binary, \
                enrolled and running are left alone; another binary is installed in place and the agent \
                restarted. A host that fails is reported and the others go on. Exits 1 when any host failed \
                or does not report.
                """)

        @OptionGroup public var options: Options
        @OptionGroup public var connection: OperatorOptions

        @Option(name: .long, help: ArgumentHelp("How long to wait for each changed agent's first report.", valueName: "duration"))
        public var reportTimeout: String = "2m"

        @Option(name: .long, help: ArgumentHelp("Lifetime of each enrollment token (single use).", valueName: "duration"))
        public var tokenTTL: String = "15m"

        @Flag(name: .long, help: "Do not wait for the first reports.")
        public var noWait = false

        @Flag(name: .long, help: "Install the inventory's binary even where a newer version runs.")
        public var allowDowngrade = false

        public init() {}

        public func validate() throws {
            guard let seconds = HumanDuration.seconds(reportTimeout), (1...3600).contains(seconds) else {
                throw ValidationError("--report-timeout must be a duration between 1s and 1h, like 2m")
            }
            guard let ttl = HumanDuration.seconds(tokenTTL), (60...86400).contains(ttl) else {
                throw ValidationError("--token-ttl must be a duration between 1m and 1d, like 15m")
            }
        }

        public func run() async throws {
            try await runReportingErrors {
                let settings = HostRolloutMachine.Settings(reportTimeout: HumanDuration.seconds(reportTimeout) ?? 120, waitForReport: !noWait,
                                                           planner: .init(allowDowngrade: allowDowngrade))
                try await RolloutCommand.run(mode: .apply, options: options, connection: connection, settings: settings,
                                             tokenTTL: HumanDuration.seconds(tokenTTL) ?? 900)
            }
        }
    }

    public struct Status: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Which inventory hosts have a live agent, which are missing, which run an older version.",
            discussion: """
                Asks the coordinator only (no SSH). An inventory host's agent is the one enrolled in its \
                segment under its name (rollout enrolls it so). States: live, older (a version older than \
                the inventory's binary), late, offline, revoked, missing. Exits 1 when a host is not live.
                """)

        @Argument(help: ArgumentHelp("The rollout inventory (YAML).", valueName: "inventory"))
        public var inventory: String

        @OptionGroup public var connection: OperatorOptions

        @Flag(name: .long, help: "Print the result as JSON.")
        public var json = false

        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let inventory = try RolloutInventory.load(path: inventory)
                let version = try await withWorkDirectory { await RolloutFiles.agentVersion(binary: inventory.agent.binary, workDirectory: $0) }
                let fleet: FleetStatus = try await connection.withClient { try await HTTPRolloutCoordinator(client: $0).fleet() }
                let entries = RolloutStatus.entries(inventory: inventory, agents: fleet.agents, targetVersion: version ?? CordonVersion.current)
                if json { try printJSON(RolloutStatus(inventory: inventory.origin, targetVersion: version ?? CordonVersion.current, hosts: entries)) }
                else { print(RolloutStatus.render(entries, targetVersion: version ?? CordonVersion.current)) }
                if !entries.allSatisfy({ $0.state == .live }) { throw ExitCode(CordonExit.failure) }
            }
        }
    }
}

/// `cordon rollout status`: the inventory against the coordinator's fleet.
public struct RolloutStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case live, older, late, offline, revoked, missing
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var segment: String
        public var host: String
        public var address: String
        public var state: State
        public var agentID: String?
        public var agentVersion: String?
        public var lastSeenAt: Date?
        public var lastReportAt: Date?
    }

    public var inventory: String
    public var targetVersion: String
    public var hosts: [Entry]

    public static func entries(inventory: RolloutInventory, agents: [AgentSummary], targetVersion: String) -> [Entry] {
        inventory.hosts.map { host in
            guard let agent = RolloutPlanner.fleetAgent(for: host, agentID: nil, in: agents) else {
                return Entry(segment: host.segment, host: host.name, address: host.endpoint.address, state: .missing)
            }
            var state: State
            switch agent.state {
            case .revoked: state = .revoked
            case .offline: state = .offline
            case .late: state = .late
            case .online: state = .live
            }
            if state == .live || state == .late, let have = SemanticVersion(agent.agentVersion), let want = SemanticVersion(targetVersion), have < want {
                state = .older
            }
            return Entry(segment: host.segment, host: host.name, address: host.endpoint.address, state: state, agentID: agent.id,
                         agentVersion: agent.agentVersion, lastSeenAt: agent.lastSeenAt, lastReportAt: agent.lastReportAt)
        }
    }

    public static func render(_ entries: [Entry], targetVersion: String) -> String {
        var table = TextTable(["SEGMENT", "HOST", "ADDRESS", "STATE", "AGENT", "VERSION", "LAST SEEN", "LAST REPORT"])
        for e in entries {
            table.add([e.segment, e.host, e.address, e.state.rawValue, e.agentID ?? "-", e.agentVersion.map { Terminal.sanitize($0, limit: 40) } ?? "-",
                       e.agentID == nil ? "-" : ago(e.lastSeenAt), e.agentID == nil ? "-" : ago(e.lastReportAt)])
        }
        func count(_ s: State) -> Int { entries.filter { $0.state == s }.count }
        return table.render() + "\n\n\(entries.count) host(s): \(count(.live)) live, \(count(.older)) older than \(targetVersion), "
            + "\(count(.late)) late, \(count(.offline)) offline, \(count(.revoked)) revoked, \(count(.missing)) missing."
    }
}
