import Foundation
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Options for one lab.
struct LabOptions: Sendable {
    /// Segments 1...9 (198.18.N.0/24, jump host 198.18.N.2).
    var segments = 1
    /// Target roles to build (nil: all). See ``LabEnvironment/allRoles``.
    var roles: [String]? = nil
    /// Every server in the lab stops by itself after this long, whatever happens to the test.
    var ttl: Duration = .seconds(900)
    /// Tools the test itself runs inside the lab (e.g. "nmap", "smbclient"): missing ones skip it.
    var tools: [String] = []
    /// How long `up` may take.
    var upTimeout: Duration = .seconds(180)

    init(segments: Int = 1, roles: [String]? = nil, ttl: Duration = .seconds(900), tools: [String] = []) {
        self.segments = segments
        self.roles = roles
        self.ttl = ttl
        self.tools = tools
    }
}

/// A running lab built by Deploy/lab/up, for one test. Get one with ``withLab(_:_:)``, which
/// always tears it down.
///
/// ```swift
/// @Test func scanFindsWannaCry() async throws {
///     try await withLab(LabOptions(roles: ["wannacry", "smb2-only"], tools: ["nmap"])) { lab in
///         let jump = lab.segment(1).jump.namespace
///         let host = try lab.host("wannacry")
///         let nmap = try await lab.exec(jump, ["nmap", "-sT", "-p445", "--script", "smb-vuln-ms17-010", host.address])
///         #expect(nmap.stdout.contains("VULNERABLE"))
///     }
/// }
/// ```
final class Lab: Sendable {
    /// The parsed lab.json.
    let layout: LabDescription
    let prefix: String
    let stateDir: String
    private let spawned = Mutex<[(pid: Int32, name: String)]>([])

    fileprivate init(layout: LabDescription) {
        self.layout = layout
        self.prefix = layout.prefix
        self.stateDir = layout.stateDir
    }

    // MARK: Layout

    /// Segment N (1-based).
    func segment(_ index: Int = 1) -> LabDescription.Segment {
        guard let segment = layout.segments.first(where: { $0.index == index }) else {
            preconditionFailure("the lab has \(layout.segments.count) segment(s), not \(index)")
        }
        return segment
    }

    /// The host with `role` in segment N.
    func host(_ role: String, segment index: Int = 1) throws -> LabDescription.Host {
        guard let host = segment(index).host(role) else { throw LabError("no host \(role) in segment \(index) of this lab") }
        return host
    }

    /// The namespace of segment N's jump host (where agents and scanners run).
    func jumpNamespace(segment index: Int = 1) -> String { segment(index).jump.namespace }

    /// The coordinator's namespace and address on the management network.
    var coordinator: LabDescription.Coordinator { layout.management.coordinator }

    // MARK: Running things inside

    /// Runs a command inside a namespace and waits for it, bounded in time and output.
    func exec(_ namespace: String, _ arguments: [String], timeout: Duration = .seconds(60),
              maxOutput: Int = LabCommand.defaultMaxOutput) async throws -> LabCommandResult {
        try checkOwned(namespace)
        return try await LabCommand.run(["ip", "netns", "exec", namespace] + arguments, timeout: timeout, maxOutput: maxOutput)
    }

    /// Runs blocking code (sockets, the codecs' client state machines) on a thread inside a namespace.
    func inNamespace<T: Sendable>(_ namespace: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try checkOwned(namespace)
        return try await LabNetworkNamespace.run(namespace, body)
    }

    /// A NIO event loop group whose threads live in `namespace`: bootstraps on it connect and
    /// bind there (an agent's scanner, a coordinator). Shut it down before the lab goes.
    func makeEventLoopGroup(in namespace: String, threads: Int = 1) async throws -> MultiThreadedEventLoopGroup {
        try checkOwned(namespace)
        return try await LabNetworkNamespace.makeEventLoopGroup(in: namespace, threads: threads)
    }

    /// A TCP connect from `namespace` to address:port.
    func connect(from namespace: String, to address: String, port: UInt16, timeout: Double = 2) async throws -> LabSocket.ConnectOutcome {
        try await inNamespace(namespace) { LabSocket.tcp(address, port, timeout: timeout).1 }
    }

    /// Starts a long-running process inside a namespace (an agent, a coordinator). It runs under
    /// `timeout` (the lab's TTL), its output goes to `<state>/logs/test.<name>.log`, and it is
    /// stopped when the lab goes down. Returns its PID.
    @discardableResult
    func spawn(_ namespace: String, name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Int32 {
        try checkOwned(namespace)
        let log = URL(fileURLWithPath: stateDir).appendingPathComponent("logs/test.\(name).log").path
        let pid = try LabSpawn.spawn(["timeout", "--kill-after=5", "\(layout.ttlSeconds)", "ip", "netns", "exec", namespace] + arguments,
                                     stdout: log, stderr: log, environment: environment)
        // Reap it when it ends (a thread waits; nothing else does).
        Thread { _ = waitpid(pid, nil, 0) }.start()
        spawned.withLock { $0.append((pid, name)) }
        return pid
    }

    /// The log of a process started with ``spawn(_:name:_:environment:)`` (at most 1 MiB).
    func log(of name: String) -> String {
        let url = URL(fileURLWithPath: stateDir).appendingPathComponent("logs/test.\(name).log")
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        return String(decoding: (try? handle.read(upToCount: 1 << 20)) ?? Data(), as: UTF8.self)
    }

    // MARK: State, for checks

    /// The lab's namespaces that exist now.
    func currentNamespaces() -> [String] { Lab.namespaces(prefix: prefix) }

    /// Every process inside the lab's namespaces now (servers and their children).
    func processesInNamespaces() async -> [Int32] {
        var pids: [Int32] = []
        for namespace in currentNamespaces() {
            let result = try? await LabCommand.run(["ip", "netns", "pids", namespace], timeout: .seconds(10))
            pids += (result?.stdout ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        }
        return pids.sorted()
    }

    static func namespaces(prefix: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return entries.filter { $0.hasPrefix(prefix + "-") }.sorted()
    }

    private func checkOwned(_ namespace: String) throws {
        guard namespace.hasPrefix(prefix + "-") else {
            throw LabError("\(namespace) is not a namespace of this lab (prefix \(prefix)); the lab runs nothing outside its namespaces")
        }
    }

    // MARK: Teardown

    /// Stops what the test spawned, then runs Deploy/lab/down. Never throws: a failure is recorded.
    fileprivate func down() async {
        let children = spawned.withLock { list in defer { list = [] }; return list }
        for child in children { kill(child.pid, SIGTERM) }
        do {
            let result = try await LabCommand.run([LabEnvironment.downScript, "--prefix", prefix, "--state-dir", stateDir],
                                                  timeout: .seconds(120))
            if !result.succeeded { Issue.record("Deploy/lab/down failed: \(result)") }
        } catch {
            Issue.record(error, "Deploy/lab/down could not run")
        }
        for child in children where kill(child.pid, 0) == 0 { kill(child.pid, SIGKILL) }
        let left = Lab.namespaces(prefix: prefix)
        if !left.isEmpty { Issue.record("namespaces left after down: \(left)") }
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Builds a lab with a unique prefix and a temporary state dir, runs `body` with it, and always
/// tears it down (when the body throws or an expectation fails too), then checks that no
/// namespace is left.
///
/// Returns nil, after recording a warning, when the lab cannot run here: not root, or a tool
/// missing (CI runs as root with the Debian packages of ``LabEnvironment/debianPackages``).
@discardableResult
func withLab<T: Sendable>(_ options: LabOptions = LabOptions(), _ body: (Lab) async throws -> T) async throws -> T? {
    let roles = options.roles ?? LabEnvironment.allRoles
    guard LabEnvironment.isRoot else {
        Issue.record("skipped: the lab needs root (network namespaces)", severity: .warning)
        return nil
    }
    let missing = LabEnvironment.missing(LabEnvironment.baseTools + LabEnvironment.tools(forRoles: roles) + options.tools)
    guard missing.isEmpty else {
        Issue.record("skipped: missing tools \(missing) (Debian packages: \(LabEnvironment.debianPackages.joined(separator: " ")))",
                     severity: .warning)
        return nil
    }
    let needsSimulated = roles.contains { LabEnvironment.simulatedRoles.contains($0) }
    let cordon = LabEnvironment.cordonBinary
    if needsSimulated && cordon == nil {
        Issue.record("skipped: no cordon binary (swift build, or set CORDON_BINARY) for the simulated hosts", severity: .warning)
        return nil
    }

    let prefix = "lt" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-lab-\(prefix)").path
    var arguments = [LabEnvironment.upScript, "--prefix", prefix, "--state-dir", stateDir, "--segments", "\(options.segments)",
                     "--ttl", "\(max(60, options.ttl.components.seconds))"]
    if let cordon { arguments += ["--cordon", cordon] }
    if options.roles != nil { arguments += ["--hosts", roles.joined(separator: ",")] }
    let up = try await LabCommand.run(arguments, timeout: options.upTimeout)
    guard up.succeeded else {
        // `up` tears down what it built when it fails; make sure.
        _ = try? await LabCommand.run([LabEnvironment.downScript, "--prefix", prefix, "--state-dir", stateDir], timeout: .seconds(120))
        throw LabError("Deploy/lab/up failed: \(up)")
    }
    let lab: Lab
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: stateDir).appendingPathComponent("lab.json"))
        lab = Lab(layout: try JSONDecoder().decode(LabDescription.self, from: data))
    } catch {
        _ = try? await LabCommand.run([LabEnvironment.downScript, "--prefix", prefix, "--state-dir", stateDir], timeout: .seconds(120))
        throw LabError("lab.json: \(error)")
    }
    let result: T
    do {
        result = try await body(lab)
    } catch {
        await lab.down()
        throw error
    }
    await lab.down()
    return result
}
