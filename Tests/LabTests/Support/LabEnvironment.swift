import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the lab needs from the machine, and where things are.
enum LabEnvironment {
    /// The Debian packages the lab uses (CI installs them through scripts/setup).
    static let debianPackages = ["iproute2", "nftables", "samba", "smbclient", "lighttpd", "socat", "tftpd-hpa", "nmap", "procps"]

    /// Tools every lab needs, whatever its hosts.
    static let baseTools = ["ip", "ss", "timeout", "nft", "bash"]

    /// Tools per host role.
    static func tools(forRoles roles: [String]) -> [String] {
        var tools: [String] = []
        for role in roles {
            switch role {
            case "smb1-null": tools += ["smbd", "nmbd"]
            case "smb1-auth", "smb2-only": tools += ["smbd"]
            case "rpc": tools += ["/usr/libexec/samba/samba-dcerpcd"]
            case "iis": tools += ["lighttpd"]
            case "backdoor", "filtered": tools += ["socat"]
            case "tftp": tools += ["/usr/sbin/in.tftpd"]
            default: break
            }
        }
        return tools
    }

    static let allRoles = ["smb1-null", "smb1-auth", "smb2-only", "iis", "rpc", "backdoor", "tftp", "conficker", "wannacry", "blaster",
                           "filtered", "closed", "dead"]
    static let simulatedRoles: Set<String> = ["conficker", "wannacry", "blaster"]

    static var isRoot: Bool { geteuid() == 0 }

    /// The repository (this file is Tests/LabTests/Support/LabEnvironment.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var upScript: String { repoRoot.appendingPathComponent("Deploy/lab/up").path }
    static var downScript: String { repoRoot.appendingPathComponent("Deploy/lab/down").path }

    /// The `cordon` binary: $CORDON_BINARY, else .build/debug/cordon, else .build/release/cordon.
    static var cordonBinary: String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["CORDON_BINARY"] { candidates.append(explicit) }
        candidates += [".build/debug/cordon", ".build/release/cordon"].map { repoRoot.appendingPathComponent($0).path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// An executable on PATH (or an absolute path), nil when missing.
    static func which(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in (path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]) {
            let candidate = directory + "/" + tool
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func missing(_ tools: [String]) -> [String] {
        tools.filter { which($0) == nil }
    }
}
