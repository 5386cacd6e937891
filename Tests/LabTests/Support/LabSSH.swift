import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real sshd on the lab's jump hosts (Deploy/lab/sshd, what `up --sshd` does), each in its own
/// mount namespace: what a session installs lands in STATE/sshd/NS/upper, never on the machine.
struct LabSSHD: Decodable, Sendable {
    struct Host: Decodable, Sendable {
        var namespace: String
        /// The jump host's management address (port 22).
        var address: String
        var port: Int
        var hostKey: String
        var hostKeyFingerprint: String
        /// The overlay upper directory: what the host wrote to /etc, /usr/local, /var, /root.
        var root: String
        var pid: Int32
    }

    var user: String
    /// The lab's private key (root may log in with it on every jump host).
    var key: String
    var publicKey: String
    var hosts: [Host]

    func host(address: String) -> Host? { hosts.first { $0.address == address } }

    /// Tools the sshd lab needs beyond the base ones.
    static let tools = ["/usr/sbin/sshd", "ssh", "ssh-keygen", "unshare", "mount", "setsid", "sha256sum"]
    static let debianPackages = ["openssh-server", "openssh-client", "util-linux", "mount"]
}

extension Lab {
    /// Starts sshd on every jump host of this lab (stopped by `down` through its pid file).
    func startSSHD() async throws -> LabSSHD {
        let script = LabEnvironment.repoRoot.appendingPathComponent("Deploy/lab/sshd").path
        let result = try await LabCommand.run([script, "--prefix", prefix, "--state-dir", stateDir], timeout: .seconds(60))
        guard result.succeeded else { throw LabError("Deploy/lab/sshd failed: \(result)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: stateDir).appendingPathComponent("sshd.json"))
        return try JSONDecoder().decode(LabSSHD.self, from: data)
    }

    /// Runs `command` on a jump host over SSH with the lab's key, from `namespace` (the coordinator's).
    func ssh(_ sshd: LabSSHD, to address: String, from namespace: String, knownHosts: String, _ command: String,
             timeout: Duration = .seconds(60)) async throws -> LabCommandResult {
        try await exec(namespace, ["ssh", "-F", "/dev/null", "-i", sshd.key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                                   "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "ConnectTimeout=5",
                                   "-o", "LogLevel=ERROR", "\(sshd.user)@\(address)", command], timeout: timeout)
    }
}

/// What the machine's own files look like, to show a lab run left them alone.
struct MachineFiles: Equatable, CustomStringConvertible {
    static let watched = ["/usr/local/bin", "/etc/cordon", "/etc/systemd/system", "/var/lib/cordon-agent", "/var/log/cordon-agent",
                          "/run/cordon-agent", "/root/.ssh", "/root/.ansible", "/root/.config/cordon"]
    var entries: [String: String] = [:]

    static func snapshot() -> MachineFiles {
        var files = MachineFiles()
        for dir in watched {
            var st = stat()
            guard lstat(dir, &st) == 0 else { files.entries[dir] = "absent"; continue }
            files.entries[dir] = "dir mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                var s = stat()
                let path = dir + "/" + name
                if lstat(path, &s) == 0 { files.entries[path] = "size \(s.st_size) mtime \(s.st_mtim.tv_sec).\(s.st_mtim.tv_nsec) mode \(String(s.st_mode, radix: 8))" }
            }
        }
        return files
    }

    var description: String { entries.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n") }

    /// What differs from `other`.
    func changes(since other: MachineFiles) -> [String] {
        Set(entries.keys).union(other.entries.keys).sorted().compactMap { key in
            entries[key] == other.entries[key] ? nil : "\(key): \(other.entries[key] ?? "absent") -> \(entries[key] ?? "absent")"
        }
    }
}
