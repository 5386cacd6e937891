import CordonShared
import Crypto
import Foundation
import X509

/// The local files a rollout sends to every host: the install script, the plain supervisor and
/// the systemd unit from Deploy/ (the very files a manual install and the Ansible role use), the
/// agent binary, the rendered agent.yaml and the optional policy file.
public struct RolloutFiles: Sendable, Equatable {
    public var installScript: String
    public var supervise: String
    public var unit: String

    /// The files install-agent.sh expects beside itself.
    public static let names = ["install-agent.sh", "cordon-agent-supervise", "systemd/cordon-agent.service"]

    /// Finds the Deploy files: `--deploy-dir`, else `$CORDON_DEPLOY_DIR`, else `share/cordon` next
    /// to the `cordon` binary's directory (how install-coordinator.sh lays them out), else a
    /// `Deploy/` directory above the binary (a build in a source tree), else /usr/local/share/cordon.
    public static func locate(deployDir: String?, executable: String = CommandLine.arguments.first ?? "") throws -> RolloutFiles {
        var candidates: [String] = []
        if let deployDir { candidates = [deployDir] } else {
            if let env = ProcessInfo.processInfo.environment["CORDON_DEPLOY_DIR"], !env.isEmpty { candidates.append(env) }
            let exe = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/local/bin/cordon").resolvingSymlinksInPath()
            var dir = exe.deletingLastPathComponent()
            candidates.append(dir.deletingLastPathComponent().appendingPathComponent("share/cordon").path)
            for _ in 0..<6 {
                candidates.append(dir.appendingPathComponent("Deploy").path)
                dir = dir.deletingLastPathComponent()
            }
            candidates += ["/usr/local/share/cordon", "/usr/share/cordon"]
        }
        for dir in candidates where names.allSatisfy({ FileManager.default.isReadableFile(atPath: (dir as NSString).appendingPathComponent($0)) }) {
            func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
            return RolloutFiles(installScript: p(names[0]), supervise: p(names[1]), unit: p(names[2]))
        }
        throw CordonError.invalidArgument("cannot find \(names.joined(separator: ", ")) in \(deployDir ?? candidates.prefix(3).joined(separator: ", ") + ", ..."); "
            + "pass --deploy-dir with the Deploy directory of the Cordon release")
    }

    /// SHA-256 of a file, hex, read in 1 MiB pieces.
    public static func sha256(file path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CordonError.io("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    public static func sha256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    private static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// The fingerprint of a CA certificate file (PEM), as agents pin it.
    public static func caFingerprint(pemFile path: String) throws -> String {
        let pem = try SecureFile.readString(path, limit: 1 << 20)
        do { return try Fingerprint.sha256(try Certificate(pemEncoded: pem)) } catch {
            throw CordonError.invalidArgument("\(path) is not a PEM certificate: \(error)")
        }
    }

    /// The agent.yaml the rollout installs on a segment's jump hosts.
    public static func agentConfig(inventory: RolloutInventory, segment: RolloutInventory.Segment) -> String {
        func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
        // The Ansible role's templates/agent.yaml.j2 writes the same bytes for the same settings:
        // keep the two in step (a host set up by either is "unchanged" for the other).
        var lines = [
            "# /etc/cordon/agent.yaml for segment \(segment.name), written by the Cordon rollout",
            "# (`cordon rollout apply` or Deploy/ansible). The next rollout overwrites changes made here.",
            "stateDir: /var/lib/cordon-agent",
            "policyFile: /etc/cordon/policy.yaml",
        ]
        if let h = inventory.agent.heartbeatInterval { lines.append("heartbeatInterval: \(h)") }
        if let r = inventory.agent.reportInterval { lines.append("reportInterval: \(r)") }
        lines.append("scan:")
        lines.append("  scope: \(list(segment.scope))")
        if !segment.exclude.isEmpty { lines.append("  exclude: \(list(segment.exclude))") }
        if let profile = segment.scanProfile { lines.append("  profile: \(profile)") }
        if let interval = segment.scanInterval { lines.append("  interval: \(interval)") }
        if segment.sensor { lines.append(contentsOf: ["  sensor:", "    enabled: true"]) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The version in `cordon-agent --version` of a local binary (without the commit), or nil when it does not run here (another
    /// architecture): bounded to 10 s and 4 KiB of output.
    public static func agentVersion(binary: String, workDirectory: String) async -> String? {
        let result = try? await BoundedProcess.run([binary, "--version"], timeout: .seconds(10), maxOutput: 4096, workDirectory: workDirectory)
        guard let result, result.status == 0 else { return nil }
        // "0.1.0 (commit 0123456789ab)": the version is the first word (an older agent prints it alone).
        let version = result.stdout.split(whereSeparator: { $0.isWhitespace }).first.map(String.init) ?? ""
        guard (1...64).contains(version.count), version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._+-".contains($0)) }) else { return nil }
        return version
    }
}
