import Foundation
import Testing

/// Runs the built `cordon` and `cordon-agent` binaries, bounded in time and output.
enum Binaries {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func path(_ name: String) -> String { packageRoot + "/.build/debug/" + name }
    static var cordon: String { path("cordon") }
    static var agent: String { path("cordon-agent") }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A child process we started; ended only by its own PID.
final class Child: @unchecked Sendable {
    let process = Process()
    private let outPipe = Pipe(), errPipe = Pipe()
    private let lock = NSLock()
    private var out = Data(), err = Data()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = outPipe
        process.standardError = errPipe
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toErr: false) }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toErr: true) }
        try process.run()
    }

    private func append(_ data: Data, toErr: Bool) {
        lock.withLock {
            // Bounded: a runaway child cannot fill the test's memory.
            if toErr { if err.count < 4 << 20 { err.append(data) } } else { if out.count < 4 << 20 { out.append(data) } }
        }
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }
    var pid: Int32 { process.processIdentifier }

    /// Waits for exit up to `timeout`; kills it (by PID) if it does not end, and returns nil then.
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        try? await Task.sleep(for: .milliseconds(50))  // let the pipes drain
        return process.terminationStatus
    }

    func signal(_ sig: Int32) { if process.isRunning { kill(pid, sig) } }

    /// Polls stderr+stdout until `predicate` matches or `timeout` passes.
    func waitForOutput(timeout: Double, _ predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(stdout + stderr) { return true }
            if !process.isRunning { return predicate(stdout + stderr) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    static func run(_ executable: String, _ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) async throws -> ProcessResult {
        let child = try Child(executable, arguments, environment: environment)
        let status = await child.wait(timeout: timeout) ?? -9
        return ProcessResult(status: status, stdout: child.stdout, stderr: child.stderr)
    }
}

/// A `cordon serve` process on 127.0.0.1 with its own state directory, for the tests that kill
/// or restart the coordinator under load.
struct ServedCoordinator {
    let root: String
    let caFingerprint: String
    var state: String { root + "/coordinator" }
    var database: String { state + "/cordon.db" }

    /// `cordon init` in `root/coordinator`.
    static func initialize(root: String) async throws -> ServedCoordinator {
        let coordinator = root + "/coordinator"
        let result = try await Child.run(Binaries.cordon, ["init", "--state-dir", coordinator, "--name", "127.0.0.1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        struct InitOutput: Decodable { var caFingerprint: String }
        let fingerprint = try JSONDecoder().decode(InitOutput.self, from: Data(result.stdout.utf8)).caFingerprint
        return ServedCoordinator(root: root, caFingerprint: fingerprint)
    }

    /// Starts `cordon serve` on `port` ("0": any free one); returns it once it listens, and the port.
    func serve(port: String, logLevel: String = "info") async throws -> (Child, String) {
        let child = try Child(Binaries.cordon, ["serve", "--state-dir", state, "--host", "127.0.0.1", "--port", port, "--log-level", logLevel])
        #expect(await child.waitForOutput(timeout: 30) { $0.contains("coordinator listening") }, "\(child.stderr)")
        let bound = try #require(child.stderr.firstMatch(of: /127\.0\.0\.1:(\d+)/).map { String($0.1) })
        return (child, bound)
    }

    /// An operator (its profile in `root/op`) and an enrollment token for `uses` agents in dmz.
    func token(url: String, uses: Int) async throws -> String {
        let op = try await Child.run(Binaries.cordon, ["operators", "add", "alice", "--state-dir", state, "--coordinator", url, "--out", root + "/op"])
        #expect(op.status == 0, "\(op.stderr)")
        let token = try await Child.run(Binaries.cordon, ["tokens", "create", "--segment", "dmz", "--uses", "\(uses)", "--profile", root + "/op/alice.yaml"])
        #expect(token.status == 0, "\(token.stderr)")
        return token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
