import CordonShared
import Crypto
import Foundation
import Testing
@testable import CordonAgent

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway jump host for end-to-end tests with the real tools, and nothing of the machine's
/// own touched: each `run` is a shell under `unshare --mount --net --pid --fork`, in which
///
/// - a copy of /etc (accounts, shadow, PAM, cron.d: chpasswd replaces /etc/shadow by renaming
///   a new file over it, so the whole directory is copied, not single files) and a copy of
///   /var/spool/cron (crontabs and the at spool, owners and modes kept) are bind-mounted over
///   the real paths in a private mount namespace;
/// - the network namespace is new, so nftables starts empty and dies with it (no default
///   route, only `lo`);
/// - the PID namespace is new (`--kill-child`: when the unshare we started dies, everything in
///   it dies), so nothing outlives the test, and atd on the machine cannot be signalled.
///
/// The copies live in a scratch directory that `remove()` deletes; the namespaces end with
/// their last process. Tests read the copies from outside after a run.
final class NamespaceHost: @unchecked Sendable {
    let root: String
    var etc: String { root + "/etc" }
    var spool: String { root + "/var/spool/cron" }
    var stateDir: AgentStateDir { AgentStateDir(root + "/state") }
    var out: String { root + "/out" }
    let agent: String
    /// The machine's own accounts, spools, /etc listing and firewall before the test.
    let machineBefore: String

    static let tools = ["unshare", "mount", "nft", "chpasswd", "useradd", "usermod", "crontab", "at", "atq", "python3", "cp", "sha256sum", "setpriv"]

    /// Why these tests cannot run here (not root, a tool missing, no agent binary), or nil.
    static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "not root: the namespace tests need CAP_SYS_ADMIN" }
        let runner = BoundedProcessRunner(searchPath: ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                                          + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init))
        for tool in tools where runner.locate(tool) == nil { return "\(tool) is not installed" }
        return nil
    }

    /// The `cordon-agent` built with these tests: next to the test bundle, or
    /// `CORDON_AGENT_BINARY`, or the package's `.build/debug`.
    static func agentBinary(_ filePath: String = #filePath) -> String {
        if let path = ProcessInfo.processInfo.environment["CORDON_AGENT_BINARY"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cordon-agent").path
        if FileManager.default.isExecutableFile(atPath: bundle) { return bundle }
        var url = URL(fileURLWithPath: filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path + "/.build/debug/cordon-agent"
    }

    init() throws {
        root = "/tmp/cordon-remlab-\(UUID().uuidString.prefix(8).lowercased())"
        machineBefore = Self.machineFingerprint()
        agent = Self.agentBinary()
        try FileManager.default.createDirectory(atPath: root + "/var/spool", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        // cp -a keeps owners, groups, modes and links (root: daemon:daemon on the at spool, ...).
        for (from, to) in [("/etc", etc), ("/var/spool/cron", spool)] {
            let copy = Process()
            copy.executableURL = URL(fileURLWithPath: "/bin/cp")
            copy.arguments = ["-a", from, to]
            try copy.run()
            copy.waitUntilExit()
            guard copy.terminationStatus == 0 else { throw AgentError.state("cp -a \(from) \(to) failed") }
        }
        try FileManager.default.createDirectory(atPath: etc + "/cordon", withIntermediateDirectories: true)
        try Data("stateDir: \(root)/state\npolicyFile: /etc/cordon/policy.yaml\n".utf8).write(to: URL(fileURLWithPath: root + "/agent.yaml"))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Checks that the machine's own files and firewall are as before, then removes the copies.
    func finish() {
        let after = Self.machineFingerprint()
        #expect(after == machineBefore, "the machine itself changed during a lab test")
        remove()
    }

    /// What must never change on the machine: account files, /dev/null, the cron and at spools,
    /// /etc/cron.d, the names in /etc, and the root namespace's nftables ruleset (read only).
    static func machineFingerprint() -> String {
        var lines: [String] = []
        func describe(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return lines.append("\(path) missing") }
            let digest = (info.st_mode & S_IFMT) == S_IFREG ? ScheduledTaskID.hexDigest(FileManager.default.contents(atPath: path) ?? Data()) : "-"
            lines.append("\(path) \(String(info.st_mode, radix: 8)) \(info.st_uid):\(info.st_gid) \(digest)")
        }
        for path in ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/crontab", "/dev/null", "/var/spool/cron/crontabs",
                     "/var/spool/cron/atjobs", "/etc/cron.d"] { describe(path) }
        for directory in ["/var/spool/cron/crontabs", "/var/spool/cron/atjobs", "/etc/cron.d"] {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() { describe(directory + "/" + name) }
        }
        lines.append(((try? FileManager.default.contentsOfDirectory(atPath: "/etc")) ?? []).sorted().joined(separator: " "))
        let result = BoundedProcessRunner().run("/usr/sbin/nft", arguments: ["list", "ruleset"], timeout: .seconds(10), outputLimit: 1 << 20)
        lines.append("nft: " + String(decoding: result.standardOutput, as: UTF8.self))
        return lines.joined(separator: "\n")
    }

    /// Writes the policy where the agent inside reads it (/etc/cordon/policy.yaml of the copy).
    func setPolicy(_ yaml: String) throws {
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: etc + "/cordon/policy.yaml"))
    }

    /// Writes a signed list to `out/NAME.list.json` and returns the path.
    func write(_ signed: SignedTaskList, as name: String) throws -> String {
        let path = out + "/" + name + ".list.json"
        try CordonJSON.encode(signed, pretty: true).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `cordon-agent ARGS` as a shell command line for a script run inside.
    func agentCommand(_ arguments: String) -> String {
        "\(agent) \(arguments) --config \(root)/agent.yaml"
    }

    /// `apply FILE --json > out/NAME.json`, the exit status in `out/NAME.rc`; never stops the script.
    func applyLine(_ list: String, _ name: String, extra: String = "") -> String {
        "if \(agentCommand("apply \(list) --json \(extra)")) > \(out)/\(name).json 2> \(out)/\(name).err; then echo 0 > \(out)/\(name).rc; "
            + "else echo $? > \(out)/\(name).rc; fi"
    }

    struct RunResult {
        var status: Int32
        var log: String
    }

    /// Runs `script` with /bin/sh -eu inside fresh namespaces, bounded by `timeout`; the process
    /// we started is killed by its PID if it runs over (and takes the namespace's processes with it).
    func run(_ script: String, timeout: Double = 120) async throws -> RunResult {
        let path = root + "/script-\(UUID().uuidString.prefix(6)).sh"
        let prelude = """
            set -eu
            export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
            mount --make-rprivate /
            mount --bind \(etc) /etc
            mount --bind \(spool) /var/spool/cron
            ip link set lo up 2>/dev/null || true
            cd \(root)

            """
        try Data((prelude + script + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let logPath = root + "/run.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/sh", path]
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return RunResult(status: -9, log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
        }
        return RunResult(status: process.terminationStatus, log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    func output(_ name: String) -> String { (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? "" }

    func status(_ name: String) -> Int32? { Int32(output(name + ".rc").trimmingCharacters(in: .whitespacesAndNewlines)) }

    func report(_ name: String) throws -> ApplyReport {
        try CordonJSON.decode(ApplyReport.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/" + name + ".json")))
    }

    func file(_ relative: String) -> Data? { FileManager.default.contents(atPath: root + "/" + relative) }

    /// Owner, group and permission bits of a file of the copies.
    func attributes(_ relative: String) -> (uid: UInt32, gid: UInt32, mode: UInt32)? {
        var info = stat()
        guard lstat(root + "/" + relative, &info) == 0 else { return nil }
        return (info.st_uid, info.st_gid, UInt32(info.st_mode) & 0o7777)
    }

    /// The whole line of `user` in a copied passwd-style file (`etc/shadow`, `etc/passwd`).
    func line(_ user: String, in file: String) -> String? {
        guard let data = self.file(file) else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(user + ":") }.map(String.init)
    }

    /// The hash field of `user` in the copied /etc/shadow.
    func shadowHash(_ user: String) -> String? {
        guard let data = file("etc/shadow") else { return nil }
        return LiveAccountSystem.entry(user: user, in: data)?.hash
    }

    /// Whether `password` logs in with `hash` (crypt(3) through python3, outside the namespace;
    /// the password goes on stdin, not in argv).
    static func cryptAccepts(_ password: String, hash: String) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-W", "ignore", "-c",
                             "import crypt,sys; pw=sys.stdin.read(); h=sys.argv[1]; print('yes' if crypt.crypt(pw, h) == h else 'no')", hash]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(password.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
    }
}

/// Keys and lists for the lab: a coordinator's task and escrow keys, an enrolled state dir.
struct LabCoordinator {
    static let agentID = "jump-lab"
    let signingKey = Curve25519.Signing.PrivateKey()
    let escrowKey = Curve25519.KeyAgreement.PrivateKey()

    func enroll(_ host: NamespaceHost) throws {
        try RemediationFixture.prepare(host.stateDir, signingKey: signingKey.publicKey, escrowKey: escrowKey.publicKey, agentID: Self.agentID)
    }

    func list(_ actions: [TaskAction], sequence: Int64, id: String? = nil, agentID: String = agentID, expiresIn: Double = 3600,
              dryRun: Bool = false, key: Curve25519.Signing.PrivateKey? = nil) throws -> SignedTaskList {
        let list = TaskList(id: id ?? "run-\(sequence)", agentID: agentID, sequence: sequence, issuedAt: Date(), expiresAt: Date().addingTimeInterval(expiresIn),
                            dryRun: dryRun, description: "lab", actions: actions, issuedBy: "lab-operator")
        return try SignedTaskList.sign(list, with: key ?? signingKey)
    }

    static let policy = """
        allowedActions: [rotate-password, remove-scheduled-task, purge-at-jobs, lock-account, block-ports, unblock-ports,
                         stop-service, disable-service, rescan, refresh-inventory, restore]
        protectedAccounts: [keeper]
        """
}
