import CordonShared
import Foundation

/// Runs a rollout: records each segment's scope on the coordinator, then drives every host's
/// ``HostRolloutMachine`` with at most `parallel` hosts at a time. One host's failure is its own
/// row; it never stops the others.
public struct RolloutEngine: Sendable {
    public struct LocalAgent: Sendable, Equatable {
        public var binary: String
        public var sha256: String
        public var version: String
        public var caFingerprint: String
        public var installScript: Data
        public var supervise: Data
        public var unit: Data
        public var policy: Data?
        public var files: RolloutFiles
        /// From scripts/package: the .deb for hosts with dpkg, the tarball for the others. Both
        /// carry `binary` (the same bytes, so the same SHA-256). nil: the bare binary is sent.
        public var deb: String?
        public var tarball: String?

        public init(binary: String, sha256: String, version: String, caFingerprint: String, files: RolloutFiles, installScript: Data,
                    supervise: Data, unit: Data, policy: Data?, deb: String? = nil, tarball: String? = nil) {
            self.binary = binary
            self.deb = deb
            self.tarball = tarball
            self.sha256 = sha256
            self.version = version
            self.caFingerprint = caFingerprint
            self.files = files
            self.installScript = installScript
            self.supervise = supervise
            self.unit = unit
            self.policy = policy
        }

        /// Reads and hashes the local files the rollout sends.
        public static func load(inventory: RolloutInventory, files: RolloutFiles, caFingerprint: String, workDirectory: String) async throws -> LocalAgent {
            let binary = inventory.agent.binary
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw CordonError.invalidArgument("\(inventory.origin): agent.binary \(binary) is not an executable file")
            }
            func read(_ path: String) throws -> Data {
                do { return try SecureFile.read(path, limit: 4 << 20) } catch let error as CordonError {
                    throw CordonError.invalidArgument("cannot read \(path): \(error.reason)")
                }
            }
            let policy = try inventory.agent.policy.map { try read($0) }
            let version = await RolloutFiles.agentVersion(binary: binary, workDirectory: workDirectory) ?? "unknown"
            var deb: String?, tarball: String?
            if let package = inventory.agent.package {
                (deb, tarball) = try packages(in: package, version: version)
            }
            return LocalAgent(binary: binary, sha256: try RolloutFiles.sha256(file: binary), version: version,
                              caFingerprint: caFingerprint, files: files, installScript: try read(files.installScript),
                              supervise: try read(files.supervise), unit: try read(files.unit), policy: policy, deb: deb, tarball: tarball)
        }

        /// The agent's .deb and tarball in a dist/ directory of scripts/package, of `version`.
        static func packages(in directory: String, version: String) throws -> (deb: String?, tarball: String?) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let deb = names.filter { $0.hasPrefix("cordon-agent_\(version)_") && $0.hasSuffix(".deb") }.sorted().last
            let tarball = names.filter { $0.hasPrefix("cordon-agent_\(version)_linux_") && $0.hasSuffix(".tar.gz") }.sorted().last
            guard deb != nil || tarball != nil else {
                throw CordonError.invalidArgument("\(directory) has no cordon-agent_\(version)_*.deb or cordon-agent_\(version)_linux_*.tar.gz: run scripts/package")
            }
            return (deb.map { directory + "/" + $0 }, tarball.map { directory + "/" + $0 })
        }

        /// What to send for the agent to a host: the .deb where dpkg is, else the tarball, else
        /// (no package given) the bare binary; with the name it gets on the host.
        public func agentUpload(hostHasDpkg: Bool) -> (path: String, name: String, isPackage: Bool) {
            if hostHasDpkg, let deb { return (deb, "cordon-agent.deb", true) }
            if let tarball { return (tarball, "cordon-agent.tar.gz", true) }
            if let deb { return (deb, "cordon-agent.deb", true) }
            return (binary, RolloutUpload.binary.rawValue, false)
        }
    }

    public let inventory: RolloutInventory
    public let local: LocalAgent
    public let remote: any RolloutRemote
    /// nil: `plan --offline` (no coordinator, no scopes, no fleet).
    public let coordinator: (any RolloutCoordinator)?
    public let settings: HostRolloutMachine.Settings
    public let parallel: Int
    /// Lifetime of each enrollment token.
    public let tokenTTL: Double
    /// For messages about host keys.
    public let knownHosts: String?

    public init(inventory: RolloutInventory, local: LocalAgent, remote: any RolloutRemote, coordinator: (any RolloutCoordinator)?,
                settings: HostRolloutMachine.Settings = .init(), parallel: Int = 10, tokenTTL: Double = 900, knownHosts: String? = nil) {
        self.inventory = inventory
        self.local = local
        self.remote = remote
        self.coordinator = coordinator
        self.settings = settings
        self.parallel = max(1, parallel)
        self.tokenTTL = tokenTTL
        self.knownHosts = knownHosts
    }

    public func target(for host: RolloutInventory.Host) -> RolloutTarget {
        let segment = inventory.segment(named: host.segment)!
        return RolloutTarget(host: host, agentSHA256: local.sha256, agentVersion: local.version, caFingerprint: local.caFingerprint,
                             configYAML: RolloutFiles.agentConfig(inventory: inventory, segment: segment),
                             policySHA256: local.policy.map { RolloutFiles.sha256($0) }, superviseSHA256: RolloutFiles.sha256(local.supervise),
                             unitSHA256: RolloutFiles.sha256(local.unit))
    }

    // MARK: Segments

    /// The whole run: scopes, then hosts. Throws only when the coordinator cannot be asked at all.
    public func run(mode: HostRolloutMachine.Mode, progress: (@Sendable (RolloutHostResult) -> Void)? = nil,
                    startedAt: Date = Date()) async throws -> RolloutReport {
        let segments = try await syncScopes(apply: mode == .apply)
        var skip: [String: String] = [:]
        if mode == .apply {
            for segment in segments where segment.scopeAction == "failed" {
                skip[segment.name] = "the segment's scope could not be recorded on the coordinator: \(segment.error ?? "?")"
            }
        }
        let hosts = await runHosts(mode: mode, skip: skip, progress: progress)
        return RolloutReport(command: mode == .plan ? "plan" : "apply", inventory: inventory.origin, coordinator: inventory.coordinator.url,
                             agentVersion: local.version, agentSHA256: local.sha256, startedAt: startedAt, finishedAt: Date(),
                             parallel: parallel, segments: segments, hosts: hosts, summary: RolloutReport.summarize(hosts))
    }

    /// Records each segment's scope on the coordinator (apply), or says what would change (plan).
    /// A segment whose scope cannot be recorded is "failed" and its hosts are left alone: an
    /// agent must not scan beyond what its segment allows.
    public func syncScopes(apply: Bool) async throws -> [RolloutReport.SegmentResult] {
        guard let coordinator else {
            return inventory.segments.map { .init(name: $0.name, scope: $0.scope, scopeAction: "unknown", previousScope: nil, error: nil) }
        }
        let current = Dictionary(try await coordinator.segments().map { ($0.name, $0.scope ?? []) }, uniquingKeysWith: { a, _ in a })
        var results: [RolloutReport.SegmentResult] = []
        for segment in inventory.segments {
            let previous = current[segment.name]
            let canonicalPrevious = Set((previous ?? []).compactMap { IPv4CIDR($0)?.description })
            if let previous, canonicalPrevious == Set(segment.scope) {
                results.append(.init(name: segment.name, scope: segment.scope, scopeAction: "unchanged", previousScope: previous, error: nil))
                continue
            }
            guard apply else {
                results.append(.init(name: segment.name, scope: segment.scope, scopeAction: "would-set", previousScope: previous ?? [], error: nil))
                continue
            }
            do {
                try await coordinator.setScope(segment: segment.name, scope: segment.scope)
                results.append(.init(name: segment.name, scope: segment.scope, scopeAction: "set", previousScope: previous ?? [], error: nil))
            } catch {
                results.append(.init(name: segment.name, scope: segment.scope, scopeAction: "failed", previousScope: previous ?? [],
                                     error: describeCoordinatorError(error)))
            }
        }
        return results
    }

    // MARK: Hosts

    /// Every host of the inventory, `parallel` at a time; results in inventory order.
    /// `skip`: hosts that must not be touched (their segment's scope could not be recorded), with the reason.
    public func runHosts(mode: HostRolloutMachine.Mode, skip: [String: String] = [:],
                         progress: (@Sendable (RolloutHostResult) -> Void)? = nil) async -> [RolloutHostResult] {
        var fleet: [AgentSummary] = []
        if let coordinator { fleet = (try? await coordinator.fleet().agents) ?? [] }
        let snapshot = fleet
        let hosts = inventory.hosts
        let results = await boundedMap(hosts, limit: parallel) { host -> RolloutHostResult in
            let started = ContinuousClock.now
            var result: RolloutHostResult
            if let reason = skip[host.segment] {
                result = RolloutHostResult(host: host, outcome: .failed)
                result.error = reason
                result.failedStep = "precheck"
            } else {
                result = await runHost(host, mode: mode, fleet: snapshot)
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            result.seconds = (seconds * 1000).rounded() / 1000
            progress?(result)
            return result
        }
        return results
    }

    func runHost(_ host: RolloutInventory.Host, mode: HostRolloutMachine.Mode, fleet: [AgentSummary]) async -> RolloutHostResult {
        if let problem = precheck(host) {
            var result = RolloutHostResult(host: host, outcome: .failed)
            result.error = problem
            result.failedStep = "precheck"
            return result
        }
        var machine = HostRolloutMachine(target: target(for: host), mode: mode, settings: settings)
        var action = machine.start()
        var steps = 0
        while true {
            steps += 1
            // A bound on the loop itself: a machine that never finishes is a bug, not a hang.
            if steps > 100_000 { var r = machine.result; r.outcome = .failed; r.error = "internal: too many steps"; return r }
            let event: HostRolloutMachine.Event
            switch action {
            case .finish(let result):
                return result
            case .probe:
                event = await probe(host, fleet: fleet)
            case .createToken(let segment):
                do { event = .tokenCreated(try await coordinator!.createToken(segment: segment, ttl: tokenTTL)) } catch {
                    event = .tokenFailed("cannot create an enrollment token: \(describeCoordinatorError(error))")
                }
            case .makeDirectory:
                event = await makeDirectory(host)
            case .upload(let item, let directory):
                event = await upload(item, to: directory, on: host, token: machine.tokenToUpload, hostHasDpkg: machine.remote?.dpkg == true)
            case .install(let directory, let sendsBinary, let sendsToken, let sendsPolicy):
                event = await install(host, directory: directory, sendsBinary: sendsBinary, sendsToken: sendsToken, sendsPolicy: sendsPolicy,
                                      agentID: machine.remote?.agentID, hostHasDpkg: machine.remote?.dpkg == true)
            case .removeDirectory(let directory, let result):
                _ = await remote.run(on: host, command: "rm -rf \(shellQuote(directory))", stdin: .none, timeout: .seconds(inventory.ssh.connectTimeout + 30))
                return result
            case .pollFleet(let agentID, let after):
                if after > .zero { try? await Task.sleep(for: after) }
                do {
                    let agents = try await coordinator!.fleet().agents
                    event = .fleetPolled(agents.first { $0.id == agentID }, now: Date())
                } catch {
                    event = .fleetFailed(describeCoordinatorError(error), now: Date())
                }
            case .readAgentLog:
                let command = sudo(host, "sh -c \(shellQuote("tail -n 20 /var/log/cordon-agent/agent.log 2>/dev/null || journalctl -u cordon-agent.service -n 20 --no-pager 2>/dev/null"))")
                let outcome = await remote.run(on: host, command: command, stdin: .none, timeout: .seconds(inventory.ssh.connectTimeout + 30))
                event = .agentLog(outcome.succeeded ? outcome.stdout : "")
            }
            action = machine.event(event)
        }
    }

    /// Local checks before any connection: the keys can be read.
    func precheck(_ host: RolloutInventory.Host) -> String? {
        var keys = [host.endpoint.key]
        var hop = host.proxyJump
        while let name = hop, let bastion = inventory.bastions[name] {
            keys.append(bastion.endpoint.key)
            hop = bastion.proxyJump
        }
        for key in keys where !FileManager.default.isReadableFile(atPath: key) {
            return "the SSH key \(key) cannot be read"
        }
        return nil
    }

    func sudo(_ host: RolloutInventory.Host, _ command: String) -> String {
        host.needsSudo ? "sudo -n \(command)" : command
    }

    func probe(_ host: RolloutInventory.Host, fleet: [AgentSummary]) async -> HostRolloutMachine.Event {
        let command = sudo(host, "bash -s -- --probe --segment \(shellQuote(host.segment))")
        let outcome = await remote.run(on: host, command: command, stdin: .data(local.installScript),
                                       timeout: .seconds(inventory.ssh.connectTimeout + 60))
        if outcome.sshFailed || (outcome.timedOut && outcome.stdout.isEmpty) {
            return .probeFailed(outcome.sshFailure(host: host, knownHosts: knownHosts), connect: true)
        }
        guard let state = RemoteAgentState.parse(output: outcome.stdout) else {
            let why = outcome.timedOut ? "timed out" : outcome.lastLine
            return .probeFailed("install-agent.sh --probe gave no result\(why.isEmpty ? "" : ": \(why)")"
                + (host.needsSudo && outcome.stderr.contains("sudo") ? " (user \(host.endpoint.user) needs passwordless sudo)" : ""), connect: false)
        }
        return .probed(state, fleetAgent: RolloutPlanner.fleetAgent(for: host, agentID: state.agentID, in: fleet))
    }

    func makeDirectory(_ host: RolloutInventory.Host) async -> HostRolloutMachine.Event {
        let command = #"umask 077 && d=$(mktemp -d "${TMPDIR:-/tmp}/cordon-rollout.XXXXXXXX") && mkdir "$d/systemd" && echo "$d""#
        let outcome = await remote.run(on: host, command: command, stdin: .none, timeout: .seconds(inventory.ssh.connectTimeout + 30))
        if outcome.sshFailed { return .directoryFailed(outcome.sshFailure(host: host, knownHosts: knownHosts)) }
        let directory = outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard outcome.succeeded, Self.isSafeDirectory(directory) else {
            return .directoryFailed("cannot make a temporary directory on the host: \(outcome.lastLine)")
        }
        return .directoryMade(directory)
    }

    static func isSafeDirectory(_ path: String) -> Bool {
        guard path.hasPrefix("/"), path.count < 256, (path as NSString).lastPathComponent.hasPrefix("cordon-rollout.") else { return false }
        return path.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-".contains($0)) } && !path.contains("..")
    }

    func upload(_ item: RolloutUpload, to directory: String, on host: RolloutInventory.Host, token: String?,
                hostHasDpkg: Bool = false) async -> HostRolloutMachine.Event {
        let input: RemoteInput
        var name = item.rawValue
        switch item {
        case .binary:
            let agent = local.agentUpload(hostHasDpkg: hostHasDpkg)
            input = .file(agent.path)
            name = agent.name
        case .installScript: input = .data(local.installScript)
        case .supervise: input = .data(local.supervise)
        case .unit: input = .data(local.unit)
        case .config: input = .data(Data(target(for: host).configYAML.utf8))
        case .policy: input = .data(local.policy ?? Data())
        case .token: input = .data(Data((token ?? "").utf8))
        }
        let path = directory + "/" + name
        let outcome = await remote.run(on: host, command: "umask 077 && cat > \(shellQuote(path))", stdin: input,
                                       timeout: .seconds(inventory.ssh.commandTimeout))
        if outcome.sshFailed { return .uploadFailed(outcome.sshFailure(host: host, knownHosts: knownHosts)) }
        guard outcome.succeeded else {
            return .uploadFailed("cannot copy \(name) to the host\(outcome.timedOut ? ": timed out" : ""): \(outcome.lastLine)")
        }
        return .uploaded
    }

    func install(_ host: RolloutInventory.Host, directory: String, sendsBinary: Bool, sendsToken: Bool, sendsPolicy: Bool,
                 agentID: String?, hostHasDpkg: Bool = false) async -> HostRolloutMachine.Event {
        // The agent's last report before the change: the wait afterwards wants a newer one.
        var baseline: Date?
        if let agentID, let coordinator, let agents = try? await coordinator.fleet().agents {
            baseline = agents.first { $0.id == agentID }?.lastReportAt
        }
        var arguments = ["--config", "\(directory)/agent.yaml", "--coordinator", inventory.coordinator.url,
                         "--ca-fingerprint", local.caFingerprint, "--segment", host.segment, "--hostname", host.name,
                         "--sha256", local.sha256]
        if sendsBinary {
            let agent = local.agentUpload(hostHasDpkg: hostHasDpkg)
            arguments += [agent.isPackage ? "--package" : "--binary", "\(directory)/\(agent.name)"]
        }
        if sendsToken { arguments += ["--token-file", "\(directory)/token"] }
        if sendsPolicy { arguments += ["--policy", "\(directory)/policy.yaml"] }
        let script = sudo(host, "bash \(shellQuote(directory + "/install-agent.sh")) " + arguments.map(shellQuote).joined(separator: " "))
        let command = "\(script); rc=$?; rm -rf \(shellQuote(directory)); exit $rc"
        let outcome = await remote.run(on: host, command: command, stdin: .none, timeout: .seconds(inventory.ssh.commandTimeout))
        if outcome.sshFailed && RemoteAgentState.parse(output: outcome.stdout) == nil {
            return .installFailed(outcome.sshFailure(host: host, knownHosts: knownHosts), nil)
        }
        let state = RemoteAgentState.parse(output: outcome.stdout)
        guard outcome.succeeded, let state, state.result != "failed" else {
            let reason = state?.message ?? (outcome.timedOut ? "timed out after \(HumanDuration.format(inventory.ssh.commandTimeout))" : outcome.lastLine)
            return .installFailed("install-agent.sh failed: \(reason.isEmpty ? "exit \(outcome.status)" : reason)", state)
        }
        return .installed(state, baselineReportAt: baseline, now: Date())
    }
}

/// `text` as one single-quoted word for a POSIX shell.
public func shellQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}

/// Maps `items` with at most `limit` bodies running at once; results in the order of `items`.
public func boundedMap<Item: Sendable, Result: Sendable>(_ items: [Item], limit: Int,
                                                          _ body: @escaping @Sendable (Item) async -> Result) async -> [Result] {
    guard !items.isEmpty else { return [] }
    return await withTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(max(1, limit), items.count) {
            let index = next
            group.addTask { (index, await body(items[index])) }
            next += 1
        }
        while let (index, result) = await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask { (index, await body(items[index])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
