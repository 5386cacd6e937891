import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What goes to a remote command's standard input.
public enum RemoteInput: Sendable, Equatable {
    case none
    /// Small content (a script, a token): written to a private file first.
    case data(Data)
    /// A local file, streamed (the agent binary).
    case file(String)
}

/// What a remote command did: the local `ssh` process's outcome.
public typealias RemoteOutcome = ProcessOutcome

extension ProcessOutcome {
    public var succeeded: Bool { status == 0 && !timedOut && !truncated }
    /// ssh itself failed (connect, authentication, host key): OpenSSH exits 255.
    public var sshFailed: Bool { status == 255 }

    /// The last non-empty line of stderr (or stdout), trimmed and made printable.
    public var lastLine: String {
        for text in [stderr, stdout] {
            if let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }).last(where: { !$0.isEmpty }) {
                return Terminal.sanitize(line, limit: 300)
            }
        }
        return ""
    }
}

/// Runs commands on inventory hosts. The real one is ``OpenSSHRemote`` (the system's `ssh`);
/// tests use a fake. Implementations never throw for a remote failure: it is an outcome.
public protocol RolloutRemote: Sendable {
    /// Runs `command` (a shell command line, run by the remote user's shell) on `host`, with
    /// `stdin` as its standard input, for at most `timeout`.
    func run(on host: RolloutInventory.Host, command: String, stdin: RemoteInput, timeout: Duration) async -> RemoteOutcome
}

/// The system's OpenSSH client, driven through an ssh_config file the rollout writes for the
/// inventory: BatchMode (never a prompt), IdentitiesOnly with the inventory's key, ConnectTimeout
/// and ServerAlive so that a dead host costs seconds, the rollout's own known_hosts file
/// (accept-new by default: a host seen for the first time is remembered, a changed key is
/// refused; strict: only hosts already in it), ProxyJump through the inventory's bastions
/// (ssh passes the same -F file to the jump connection, so bastions get the same settings).
public struct OpenSSHRemote: RolloutRemote {
    public let configPath: String
    public let workDirectory: String
    public let knownHosts: String
    public let policy: RolloutInventory.HostKeyPolicy
    public let connectTimeout: Double
    let ssh: String

    /// Writes the ssh_config for `inventory` into `workDirectory` (a private directory the caller owns).
    public init(inventory: RolloutInventory, knownHosts: String, policy: RolloutInventory.HostKeyPolicy, workDirectory: String,
                ssh: String = "ssh") throws {
        self.workDirectory = workDirectory
        self.knownHosts = knownHosts
        self.policy = policy
        self.connectTimeout = inventory.ssh.connectTimeout
        self.ssh = ssh
        self.configPath = (workDirectory as NSString).appendingPathComponent("ssh_config")
        let directory = (knownHosts as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if policy == .strict && !FileManager.default.fileExists(atPath: knownHosts) {
            throw CordonError.invalidArgument("strict host keys: the known_hosts file \(knownHosts) does not exist; "
                + "add the jump hosts' keys to it (ssh-keyscan, checked against the hosts), or use --host-keys accept-new")
        }
        let text = Self.config(inventory: inventory, knownHosts: knownHosts, policy: policy)
        guard FileManager.default.createFile(atPath: configPath, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CordonError.io("cannot write \(configPath)")
        }
    }

    public static func alias(for host: RolloutInventory.Host) -> String { "cordon-host-\(host.index)" }
    public static func alias(forBastion name: String) -> String { "cordon-bastion-\(name)" }

    /// The ssh_config text. Host blocks first (first value wins in ssh_config), then the
    /// settings every connection shares.
    public static func config(inventory: RolloutInventory, knownHosts: String, policy: RolloutInventory.HostKeyPolicy) -> String {
        func quote(_ path: String) -> String { "\"" + path.replacingOccurrences(of: "%", with: "%%") + "\"" }
        func block(_ alias: String, _ e: RolloutInventory.Endpoint, proxyJump: String?) -> [String] {
            var lines = ["Host \(alias)", "    HostName \(e.address)", "    Port \(e.port)", "    User \(e.user)", "    IdentityFile \(quote(e.key))"]
            if let proxyJump { lines.append("    ProxyJump \(Self.alias(forBastion: proxyJump))") }
            return lines
        }
        var lines = ["# Written by `cordon rollout` for \((inventory.origin as NSString).lastPathComponent); removed when it ends."]
        for bastion in inventory.bastions.values.sorted(by: { $0.name < $1.name }) {
            lines += block(alias(forBastion: bastion.name), bastion.endpoint, proxyJump: bastion.proxyJump)
        }
        for host in inventory.hosts { lines += block(alias(for: host), host.endpoint, proxyJump: host.proxyJump) }
        lines += [
            "Host *",
            "    BatchMode yes",
            "    ConnectTimeout \(max(1, Int(inventory.ssh.connectTimeout.rounded(.up))))",
            "    ConnectionAttempts 1",
            "    ServerAliveInterval 5",
            "    ServerAliveCountMax 3",
            "    StrictHostKeyChecking \(policy == .strict ? "yes" : "accept-new")",
            "    UserKnownHostsFile \(quote(knownHosts))",
            "    GlobalKnownHostsFile /dev/null",
            "    CheckHostIP no",
            "    UpdateHostKeys no",
            "    HashKnownHosts no",
            "    IdentitiesOnly yes",
            "    IdentityAgent none",
            "    PubkeyAuthentication yes",
            "    PasswordAuthentication no",
            "    KbdInteractiveAuthentication no",
            "    GSSAPIAuthentication no",
            "    HostbasedAuthentication no",
            "    ForwardAgent no",
            "    ForwardX11 no",
            "    RequestTTY no",
            "    ControlMaster no",
            "    ControlPath none",
            "    PermitLocalCommand no",
            "    LogLevel ERROR",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    public func run(on host: RolloutInventory.Host, command: String, stdin: RemoteInput, timeout: Duration) async -> RemoteOutcome {
        var input: String?
        var temporary: String?
        switch stdin {
        case .none: input = nil
        case .file(let path): input = path
        case .data(let data):
            let path = (workDirectory as NSString).appendingPathComponent("in-\(UUID().uuidString.prefix(12))")
            guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
                return RemoteOutcome(status: 255, stderr: "cannot write a temporary file in \(workDirectory)")
            }
            input = path
            temporary = path
        }
        defer { if let temporary { unlink(temporary) } }
        do {
            let outcome = try await BoundedProcess.run([ssh, "-F", configPath, "-T", Self.alias(for: host), command], stdin: input,
                                                       timeout: timeout, workDirectory: workDirectory)
            return RemoteOutcome(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr, timedOut: outcome.timedOut,
                                 truncated: outcome.truncated)
        } catch {
            return RemoteOutcome(status: 255, stderr: "\(error)")
        }
    }
}

extension RemoteOutcome {
    /// One clear line for an ssh failure (exit 255) on `host`.
    public func sshFailure(host: RolloutInventory.Host, knownHosts: String?) -> String {
        let e = host.endpoint
        let via = host.proxyJump.map { " (via bastion \($0))" } ?? ""
        let text = stderr
        if timedOut { return "ssh to \(e.address):\(e.port)\(via) did not finish in time" }
        if text.contains("Permission denied") {
            return "ssh login as \(e.user) to \(e.address):\(e.port)\(via) refused: the key \(e.key) is not accepted there"
        }
        if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("Host key verification failed") {
            return "host key of \(e.address)\(via) does not match \(knownHosts ?? "the known_hosts file") (or is unknown with strict host keys): "
                + "check the host, then fix that file"
        }
        if text.contains("Connection timed out") || text.contains("timed out") {
            return "cannot reach \(e.address):\(e.port)\(via): connection timed out"
        }
        if text.contains("No route to host") { return "cannot reach \(e.address):\(e.port)\(via): no route to host" }
        if text.contains("Connection refused") { return "cannot reach \(e.address):\(e.port)\(via): connection refused (no sshd there?)" }
        if text.contains("Could not resolve hostname") { return "cannot resolve \(e.address)\(via)" }
        if text.contains("Network is unreachable") { return "cannot reach \(e.address):\(e.port)\(via): network unreachable" }
        if text.contains("no such identity") || text.contains("No such file or directory") && text.contains(e.key) {
            return "the key \(e.key) cannot be read"
        }
        let line = lastLine
        return "ssh to \(e.address):\(e.port)\(via) failed" + (line.isEmpty ? " (exit \(status))" : ": \(line)")
    }
}
