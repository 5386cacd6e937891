import CordonShared
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Facts about the jump host the agent runs on, read from a root directory (so that tests can
/// point it at a crafted tree) and from the running kernel.
public struct HostFacts: Sendable {
    public var root: String
    /// The remediation policy file to report (nil: none reported).
    public var policyFile: String?

    public init(root: String = "/", policyFile: String? = nil) {
        self.root = root
        self.policyFile = policyFile
    }

    func path(_ p: String) -> String { root == "/" ? p : (root as NSString).appendingPathComponent(p) }

    public func collect() -> AgentFacts {
        var policy: RemediationPolicy?, policyError: String?
        if let policyFile {
            do { policy = try RemediationPolicy.load(path: policyFile) } catch { policyError = String("\(error)".prefix(500)) }
        }
        return AgentFacts(hostname: hostname(), osRelease: osRelease(), kernel: kernel(), agentVersion: CordonVersion.current,
                          uptimeSeconds: uptime(), addresses: Self.addresses(), policy: policy, policyError: policyError)
    }

    func readSmall(_ p: String) -> String? {
        guard let data = try? SecureFile.read(path(p), limit: 64 * 1024) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public func hostname() -> String {
        if root == "/" {
            var buffer = [CChar](repeating: 0, count: 256)
            if gethostname(&buffer, buffer.count - 1) == 0 {
                let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !name.isEmpty { return name }
            }
        }
        return (readSmall("/proc/sys/kernel/hostname") ?? readSmall("/etc/hostname") ?? "unknown").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `PRETTY_NAME` from /etc/os-release (or /usr/lib/os-release).
    public func osRelease() -> String {
        guard let text = readSmall("/etc/os-release") ?? readSmall("/usr/lib/os-release") else { return "unknown" }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n").prefix(200) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.first == "\"" || value.first == "'", value.last == value.first { value = String(value.dropFirst().dropLast()) }
            fields[String(line[..<eq])] = String(value.prefix(200))
        }
        return fields["PRETTY_NAME"] ?? [fields["NAME"], fields["VERSION"]].compactMap { $0 }.joined(separator: " ")
    }

    public func kernel() -> String {
        if let release = readSmall("/proc/sys/kernel/osrelease") { return release.trimmingCharacters(in: .whitespacesAndNewlines) }
        var info = utsname()
        guard uname(&info) == 0 else { return "unknown" }
        return withUnsafeBytes(of: info.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    public func uptime() -> Double {
        guard let text = readSmall("/proc/uptime"), let first = text.split(separator: " ").first, let value = Double(first) else { return 0 }
        return value
    }

    /// The host's IPv4 and IPv6 addresses other than loopback, at most 64.
    public static func addresses() -> [String] {
        var result: [String] = []
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor, result.count < 64 {
            defer { cursor = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr else { continue }
            let family = Int32(addr.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            if (entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK)) != 0 { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = family == AF_INET ? socklen_t(MemoryLayout<sockaddr_in>.size) : socklen_t(MemoryLayout<sockaddr_in6>.size)
            if getnameinfo(addr, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !result.contains(text) { result.append(text) }
            }
        }
        return result
    }
}
