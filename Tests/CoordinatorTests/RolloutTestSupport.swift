@testable import CordonCoordinator
import CordonShared
import Foundation
import Synchronization
import Testing

/// Fakes for the rollout engine: a remote side that behaves like install-agent.sh on each host,
/// and a coordinator that issues tokens and lists agents.
enum RolloutFixture {
    static let fingerprint = "SHA256:" + String(repeating: "ab", count: 32)

    /// An inventory with `hosts` (name, segment, address) and a key file that exists.
    static func inventory(_ hosts: [(String, String, String)], keyDirectory: String) throws -> RolloutInventory {
        let key = (keyDirectory as NSString).appendingPathComponent("id_test")
        if !FileManager.default.fileExists(atPath: key) { _ = FileManager.default.createFile(atPath: key, contents: Data("k".utf8)) }
        var segments: [String: [(String, String)]] = [:]
        for (name, segment, address) in hosts { segments[segment, default: []].append((name, address)) }
        var yaml = """
            coordinator: {url: "https://198.18.0.1:8443", caFingerprint: "\(fingerprint)"}
            agent: {binary: /opt/cordon-agent}
            ssh: {user: root, key: \(key)}
            segments:

            """
        for (segment, members) in segments.sorted(by: { $0.key < $1.key }) {
            let index = Int(segment.filter(\.isNumber)) ?? 9
            yaml += "  \(segment):\n    scope: [198.18.\(index).0/24]\n    hosts:\n"
            for (name, address) in members { yaml += "      - {name: \(name), address: \(address)}\n" }
        }
        return try RolloutInventory.parse(yaml: yaml, origin: "test.yaml", baseDirectory: keyDirectory)
    }

    static func local(sha: String = String(repeating: "1", count: 64), version: String = "0.1.0") -> RolloutEngine.LocalAgent {
        RolloutEngine.LocalAgent(binary: "/opt/cordon-agent", sha256: sha, version: version, caFingerprint: fingerprint,
                                 files: RolloutFiles(installScript: "/d/install-agent.sh", supervise: "/d/cordon-agent-supervise", unit: "/d/u.service"),
                                 installScript: Data("#!/bin/bash\n# install-agent.sh stand-in\n".utf8), supervise: Data("#!/bin/sh\n".utf8),
                                 unit: Data("[Service]\n".utf8), policy: nil)
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rollout-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// The coordinator: segments with scopes, tokens, agents that report when the fake remote starts them.
final class FakeRolloutCoordinator: RolloutCoordinator, @unchecked Sendable {
    struct State {
        var scopes: [String: [String]] = [:]
        var scopeWrites: [(String, [String])] = []
        var tokens: [(segment: String, token: String, ttl: Double)] = []
        var agents: [AgentSummary] = []
        var clock = Date(timeIntervalSince1970: 1_800_000_000)
        var failSegment: String?
        var fleetCalls = 0
    }
    let state = Mutex(State())

    func segments() async throws -> [SegmentView] {
        state.withLock { s in s.scopes.map { SegmentView(name: $0.key, scope: $0.value, updatedAt: nil, updatedBy: nil) } }
    }

    func setScope(segment: String, scope: [String]) async throws {
        try state.withLock { s in
            if s.failSegment == segment { throw CordonError.invalidArgument("refused: operator may not set \(segment)") }
            s.scopes[segment] = scope
            s.scopeWrites.append((segment, scope))
        }
    }

    func createToken(segment: String, ttl: Double) async throws -> String {
        state.withLock { s in
            let token = "ct_secret_\(s.tokens.count)_\(segment)"
            s.tokens.append((segment, token, ttl))
            return token
        }
    }

    func fleet() async throws -> FleetStatus {
        state.withLock { s in
            s.fleetCalls += 1
            return FleetStatus(generatedAt: s.clock, segments: [], agents: s.agents)
        }
    }

    /// The agent started and reported (a later report time than any before).
    func agentReported(id: String, segment: String, hostname: String, version: String) {
        state.withLock { s in
            s.clock = s.clock.addingTimeInterval(1)
            let summary = AgentSummary(id: id, segment: segment, hostname: hostname, state: .online, agentVersion: version, enrolledAt: s.clock,
                                       lastSeenAt: s.clock, lastReportAt: s.clock, heartbeatInterval: 30, spoolDepth: 0, spoolDroppedTotal: 0,
                                       certificateNotAfter: s.clock.addingTimeInterval(86400), revokedAt: nil)
            if let i = s.agents.firstIndex(where: { $0.id == id }) { s.agents[i] = summary } else { s.agents.append(summary) }
        }
    }
}

/// The far side: one simulated jump host per inventory host, answering the rollout's commands
/// the way install-agent.sh and a shell would.
final class FakeRolloutRemote: RolloutRemote, @unchecked Sendable {
    enum Behavior: Sendable {
        case normal
        /// ssh itself fails (exit 255) with this stderr.
        case sshFails(String)
        case installFails(String)
        /// Installs fine, the agent never reports.
        case neverReports
        /// The host is enrolled in another segment.
        case enrolledElsewhere(String)
    }

    struct Host {
        var state = RemoteAgentState()
        var uploads: [String: Data] = [:]
        var binaryUploads = 0
    }

    struct Log {
        var commands: [(host: String, command: String)] = []
        var stdinData: [Data] = []
        var inFlight = 0
        var maxInFlight = 0
    }

    let coordinator: FakeRolloutCoordinator
    let behaviors: [String: Behavior]
    let delay: Duration
    let hosts = Mutex<[String: Host]>([:])
    let log = Mutex(Log())

    init(coordinator: FakeRolloutCoordinator, behaviors: [String: Behavior] = [:], delay: Duration = .milliseconds(2)) {
        self.coordinator = coordinator
        self.behaviors = behaviors
        self.delay = delay
    }

    /// What a host has now.
    func state(of name: String) -> RemoteAgentState { hosts.withLock { $0[name]?.state ?? RemoteAgentState() } }
    func binaryUploads(_ name: String) -> Int { hosts.withLock { $0[name]?.binaryUploads ?? 0 } }

    func run(on host: RolloutInventory.Host, command: String, stdin: RemoteInput, timeout: Duration) async -> RemoteOutcome {
        log.withLock { l in
            l.commands.append((host.name, command))
            if case .data(let d) = stdin { l.stdinData.append(d) }
            l.inFlight += 1
            l.maxInFlight = max(l.maxInFlight, l.inFlight)
        }
        try? await Task.sleep(for: delay)
        defer { log.withLock { $0.inFlight -= 1 } }
        let behavior = behaviors[host.name] ?? .normal
        if case .sshFails(let stderr) = behavior { return RemoteOutcome(status: 255, stderr: stderr) }

        if command.contains("--probe") {
            var state = self.state(of: host.name)
            state.systemd = false
            if case .enrolledElsewhere(let segment) = behavior {
                state.installed = true
                state.enrolled = true
                state.segment = segment
                state.agentID = "agt-\(host.name)"
                state.sha256 = String(repeating: "0", count: 64)
            }
            return RemoteOutcome(status: 0, stdout: "CORDON-INSTALL " + String(decoding: try! CordonJSON.encode(state), as: UTF8.self) + "\n")
        }
        if command.contains("mktemp") { return RemoteOutcome(status: 0, stdout: "/tmp/cordon-rollout.AbCdEf12\n") }
        if command.hasPrefix("umask 077 && cat > ") {
            let name = String(command.split(separator: "/").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            let data: Data
            switch stdin {
            case .data(let d): data = d
            case .file(let path): data = Data(path.utf8)
            case .none: data = Data()
            }
            hosts.withLock { h in
                h[host.name, default: Host()].uploads[name] = data
                if name == "cordon-agent" { h[host.name, default: Host()].binaryUploads += 1 }
            }
            return RemoteOutcome(status: 0)
        }
        if command.contains("install-agent.sh") {
            if case .installFails(let message) = behavior {
                var failed = state(of: host.name)
                failed.result = "failed"
                failed.message = message
                return RemoteOutcome(status: 1, stdout: "CORDON-INSTALL " + String(decoding: try! CordonJSON.encode(failed), as: UTF8.self) + "\n",
                                     stderr: "install-agent.sh: \(message)\n")
            }
            let sha = Self.argument("--sha256", in: command) ?? ""
            let result: RemoteAgentState = hosts.withLock { h in
                var host_ = h[host.name, default: Host()]
                var s = host_.state
                let before = s
                if command.contains("'--binary'") { s.sha256 = sha; s.installed = true; s.version = s.version ?? "0.1.0" }
                if let config = host_.uploads["agent.yaml"] { s.configSHA256 = RolloutFiles.sha256(config) }
                if command.contains("'--token-file'") {
                    s.enrolled = true
                    s.segment = host.segment
                    s.agentID = "agt-\(host.name)"
                    s.caFingerprint = Self.argument("--ca-fingerprint", in: command)
                }
                s.supervisor = "plain"
                s.superviseSHA256 = host_.uploads["cordon-agent-supervise"].map { RolloutFiles.sha256($0) }
                s.running = true
                s.result = !before.installed ? "installed" : before.sha256 != s.sha256 ? "upgraded" : "repaired"
                host_.state = s
                host_.state.result = nil
                host_.uploads = [:]
                h[host.name] = host_
                return s
            }
            if case .neverReports = behavior {} else {
                coordinator.agentReported(id: result.agentID!, segment: host.segment, hostname: host.name, version: result.version ?? "?")
            }
            return RemoteOutcome(status: 0, stdout: "wrote /etc/cordon/agent.yaml\nCORDON-INSTALL " + String(decoding: try! CordonJSON.encode(result), as: UTF8.self) + "\n")
        }
        if command.contains("agent.log") { return RemoteOutcome(status: 0, stdout: "2026-01-01 error: coordinator unreachable\n") }
        if command.hasPrefix("rm -rf") { return RemoteOutcome(status: 0) }
        return RemoteOutcome(status: 127, stderr: "fake: unknown command \(command)")
    }

    static func argument(_ name: String, in command: String) -> String? {
        guard let range = command.range(of: "'\(name)' '") else { return nil }
        let rest = command[range.upperBound...]
        return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
    }
}
