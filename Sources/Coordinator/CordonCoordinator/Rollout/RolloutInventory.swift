import CordonShared
import Foundation

/// A rollout inventory: the segments, their jump hosts (how to reach each over SSH) and the
/// scope each segment's agent scans. Loaded strictly (unknown keys, bad addresses, duplicate
/// names and dangling ProxyJump references are errors that name the file and the key), then
/// used by `cordon rollout plan|apply|status`. See Deploy/rollout-inventory.yaml.example.
///
/// ```yaml
/// coordinator:
///   url: https://cordon.example.net:8443      # as the agents reach it
///   caFingerprint: SHA256:3b1f...              # optional: else the operator profile's CA
/// agent:
///   package: ./dist                            # what scripts/package made (or binary: ./cordon-agent)
///   policy: ./policy.yaml                      # optional
/// ssh:
///   user: root
///   key: ~/.ssh/cordon_rollout
/// bastions:
///   ops: {address: bastion.example.net, user: ops, key: ~/.ssh/bastion}
/// segments:
///   dmz:
///     scope: [198.18.1.0/24]
///     hosts:
///       - {name: dmz-jump1, address: 10.1.0.5, proxyJump: ops}
/// ```
public struct RolloutInventory: Sendable, Equatable {
    public enum HostKeyPolicy: String, Codable, Sendable, CaseIterable {
        /// Accept and remember the key of a host seen for the first time (in the rollout's own
        /// known_hosts file); refuse a host whose key changed.
        case acceptNew = "accept-new"
        /// Only hosts whose key is already in the known_hosts file.
        case strict
    }

    public struct Coordinator: Sendable, Equatable {
        /// The URL agents enroll against and report to.
        public var url: String
        /// The CA agents pin at enrollment; nil: taken from the operator profile's CA.
        public var caFingerprint: String?
    }

    public struct Agent: Sendable, Equatable {
        /// The `cordon-agent` binary to install (absolute after loading); with `package`, the
        /// stripped binary scripts/package left in it (`bin/cordon-agent`), the one its .deb and
        /// tarball carry.
        public var binary: String
        /// The directory scripts/package made (dist/): hosts with dpkg get its .deb, the others
        /// its tarball. nil: the bare `binary` is installed.
        public var package: String?
        /// A local policy.yaml to install as /etc/cordon/policy.yaml (absolute after loading).
        public var policy: String?
        /// As written (a duration like 30s), copied into agent.yaml as is.
        public var heartbeatInterval: String?
        public var reportInterval: String?
    }

    public struct SSH: Sendable, Equatable {
        public var knownHosts: String?
        public var hostKeys: HostKeyPolicy
        public var connectTimeout: Double
        public var commandTimeout: Double
    }

    /// An SSH endpoint: a jump host or a bastion on the way to one.
    public struct Endpoint: Sendable, Equatable {
        public var address: String
        public var port: Int
        public var user: String
        /// Private key (absolute after loading).
        public var key: String
    }

    public struct Bastion: Sendable, Equatable {
        public var name: String
        public var endpoint: Endpoint
        /// A bastion may itself be reached through another one.
        public var proxyJump: String?
    }

    public struct Host: Sendable, Equatable, Identifiable {
        /// The host's name in the inventory; the agent enrolls under this name.
        public var name: String
        public var segment: String
        public var endpoint: Endpoint
        /// The bastion to go through (a key of `bastions`).
        public var proxyJump: String?
        /// Position in the inventory (segments by name, hosts in file order).
        public var index: Int

        public var id: String { "\(segment)/\(name)" }
        /// Runs `sudo -n` for the install when the SSH user is not root.
        public var needsSudo: Bool { endpoint.user != "root" }
    }

    public struct Segment: Sendable, Equatable {
        public var name: String
        /// CIDRs, canonical (`198.18.1.0/24`).
        public var scope: [String]
        public var exclude: [String]
        /// As written (a duration like 1h), copied into agent.yaml as is.
        public var scanInterval: String?
        public var scanProfile: String?
        /// Turn on the agents' passive worm sensor (`scan.sensor.enabled`).
        public var sensor: Bool = false
        public var hosts: [Host]
    }

    /// Where it was loaded from (for messages).
    public var origin: String
    public var coordinator: Coordinator
    public var agent: Agent
    public var ssh: SSH
    public var bastions: [String: Bastion]
    /// Sorted by name.
    public var segments: [Segment]

    public var hosts: [Host] { segments.flatMap(\.hosts) }

    public func segment(named name: String) -> Segment? { segments.first { $0.name == name } }
}

// MARK: - Loading

extension RolloutInventory {
    /// The file as written; every key optional here, checked in ``validate``.
    struct File: Decodable {
        struct CoordinatorFile: Decodable { var url: String?; var caFingerprint: String? }
        struct AgentFile: Decodable {
            var binary: String?
            var package: String?
            var policy: String?
            var heartbeatInterval: String?
            var reportInterval: String?
        }
        struct SSHFile: Decodable {
            var user: String?
            var key: String?
            var port: Int?
            var knownHosts: String?
            var hostKeys: String?
            var connectTimeout: ConfigDuration?
            var commandTimeout: ConfigDuration?
        }
        struct BastionFile: Decodable { var address: String?; var port: Int?; var user: String?; var key: String?; var proxyJump: String? }
        struct HostFile: Decodable { var name: String?; var address: String?; var port: Int?; var user: String?; var key: String?; var proxyJump: String? }
        struct SegmentFile: Decodable {
            var scope: [String]?
            var exclude: [String]?
            var scanInterval: String?
            var scanProfile: String?
            var sensor: Bool?
            var hosts: [HostFile]?
        }
        var coordinator: CoordinatorFile?
        var agent: AgentFile?
        var ssh: SSHFile?
        var bastions: [String: BastionFile]?
        var segments: [String: SegmentFile]?
    }

    static let endpointKeys: [String: ConfigSchema] = ["address": .scalar, "port": .scalar, "user": .scalar, "key": .scalar, "proxyJump": .scalar]

    static let schema = ConfigSchema.mapping([
        "coordinator": .mapping(["url": .scalar, "caFingerprint": .scalar]),
        "agent": .mapping(["binary": .scalar, "package": .scalar, "policy": .scalar, "heartbeatInterval": .scalar, "reportInterval": .scalar]),
        "ssh": .mapping(["user": .scalar, "key": .scalar, "port": .scalar, "knownHosts": .scalar, "hostKeys": .scalar,
                         "connectTimeout": .scalar, "commandTimeout": .scalar]),
        "bastions": .dictionary(.mapping(endpointKeys)),
        "segments": .dictionary(.mapping([
            "scope": .list(.scalar), "exclude": .list(.scalar), "scanInterval": .scalar, "scanProfile": .scalar, "sensor": .scalar,
            "hosts": .list(.mapping(endpointKeys.merging(["name": .scalar]) { a, _ in a })),
        ])),
    ])

    /// The most hosts one inventory may hold (a typo'd generator must not start thousands of SSH sessions).
    public static let maxHosts = 2000

    /// Reads and checks an inventory file. Relative paths in it are relative to its directory.
    public static func load(path: String) throws -> RolloutInventory {
        let text: String
        do { text = try SecureFile.readString(path, limit: 4 << 20) } catch let error as CordonError {
            throw CordonError.invalidArgument("cannot read inventory \(path): \(error.reason)")
        }
        let base = (absolutePath(path) as NSString).deletingLastPathComponent
        return try parse(yaml: text, origin: path, baseDirectory: base)
    }

    public static func parse(yaml: String, origin: String, baseDirectory: String,
                             home: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) throws -> RolloutInventory {
        let file = try ConfigFile.decode(File.self, yaml: yaml, origin: origin, schema: schema)
        return try validate(file, origin: origin, baseDirectory: baseDirectory, home: home)
    }

    static func validate(_ file: File, origin: String, baseDirectory: String, home: String) throws -> RolloutInventory {
        func fail(_ key: String, _ message: String) -> CordonError { CordonError.invalidArgument("\(origin): \(key): \(message)") }
        func path(_ raw: String, _ key: String) throws -> String {
            guard !raw.isEmpty, raw.utf8.count <= 4096 else { throw fail(key, "must be a file path") }
            guard !raw.contains(where: { $0 == "\"" || $0.isNewline || $0 == "\0" }) else {
                throw fail(key, "\(raw.prefix(80).debugDescription) has a quote or a line break; use a plainer path")
            }
            return resolvePath(raw, base: baseDirectory, home: home)
        }

        // coordinator
        guard let url = file.coordinator?.url else { throw fail("coordinator.url", "is required: the URL agents reach the coordinator at, like https://cordon.example.net:8443") }
        guard url.hasPrefix("https://"), URL(string: url)?.host != nil, !url.contains(where: { $0.isWhitespace || $0 == "'" }) else {
            throw fail("coordinator.url", "\(url.prefix(80).debugDescription) must be an https:// URL")
        }
        var fingerprint: String?
        if let raw = file.coordinator?.caFingerprint {
            guard let normalized = Fingerprint.normalize(raw) else { throw fail("coordinator.caFingerprint", "must be SHA256: followed by 64 hex digits, as `cordon init` printed it") }
            fingerprint = normalized
        }

        // agent
        let package = try file.agent?.package.map { try path($0, "agent.package") }
        if file.agent?.binary != nil && package != nil {
            throw fail("agent.package", "and agent.binary are exclusive: give the dist/ directory of scripts/package, or a bare binary")
        }
        guard let binary = try file.agent?.binary.map({ try path($0, "agent.binary") }) ?? package.map({ $0 + "/bin/cordon-agent" }) else {
            throw fail("agent.package", "or agent.binary is required: the dist/ directory that scripts/package made, or the cordon-agent executable")
        }
        func duration(_ text: String?, _ key: String, _ range: ClosedRange<Double>, _ bounds: String) throws -> String? {
            guard let text else { return nil }
            guard let seconds = HumanDuration.seconds(text), text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else {
                throw fail(key, "\(text.prefix(30).debugDescription) is not a duration (like 30s, 5m, 1h)")
            }
            guard range.contains(seconds) else { throw fail(key, "must be between \(bounds)") }
            return text
        }
        let agent = Agent(binary: binary, package: package, policy: try file.agent?.policy.map { try path($0, "agent.policy") },
                          heartbeatInterval: try duration(file.agent?.heartbeatInterval, "agent.heartbeatInterval", 1...86400, "1s and 1d"),
                          reportInterval: try duration(file.agent?.reportInterval, "agent.reportInterval", 10...(7 * 86400), "10s and 7d"))

        // ssh defaults
        let defaultUser = file.ssh?.user
        let defaultKey = try file.ssh?.key.map { try path($0, "ssh.key") }
        let defaultPort = file.ssh?.port ?? 22
        guard (1...65535).contains(defaultPort) else { throw fail("ssh.port", "must be 1-65535") }
        var policy = HostKeyPolicy.acceptNew
        if let raw = file.ssh?.hostKeys {
            guard let p = HostKeyPolicy(rawValue: raw) else { throw fail("ssh.hostKeys", "must be accept-new or strict") }
            policy = p
        }
        let connectTimeout = file.ssh?.connectTimeout?.seconds ?? 10
        guard (1...300).contains(connectTimeout) else { throw fail("ssh.connectTimeout", "must be between 1s and 5m") }
        let commandTimeout = file.ssh?.commandTimeout?.seconds ?? 600
        guard (10...7200).contains(commandTimeout) else { throw fail("ssh.commandTimeout", "must be between 10s and 2h") }
        let ssh = SSH(knownHosts: try file.ssh?.knownHosts.map { try path($0, "ssh.knownHosts") }, hostKeys: policy,
                      connectTimeout: connectTimeout, commandTimeout: commandTimeout)

        func endpoint(address: String?, port: Int?, user: String?, key: String?, at key_: String) throws -> Endpoint {
            guard let address else { throw fail("\(key_).address", "is required: the SSH address (name or IP)") }
            guard isValidAddress(address) else {
                throw fail("\(key_).address", "\(address.prefix(80).debugDescription) is not a host name or IP address")
            }
            let port = port ?? defaultPort
            guard (1...65535).contains(port) else { throw fail("\(key_).port", "must be 1-65535") }
            guard let user = user ?? defaultUser else { throw fail("\(key_).user", "is required (or set ssh.user for every host)") }
            guard isValidUser(user) else { throw fail("\(key_).user", "\(user.prefix(40).debugDescription) is not a valid user name") }
            guard let keyPath = try key.map({ try path($0, "\(key_).key") }) ?? defaultKey else {
                throw fail("\(key_).key", "is required (or set ssh.key for every host): the private key to log in with")
            }
            return Endpoint(address: address, port: port, user: user, key: keyPath)
        }

        // bastions
        var bastions: [String: Bastion] = [:]
        for (name, b) in file.bastions ?? [:] {
            guard CordonName.isValid(name) else { throw fail("bastions.\(name)", "a bastion name must be 1-64 letters, digits, '.', '_' or '-'") }
            bastions[name] = Bastion(name: name, endpoint: try endpoint(address: b.address, port: b.port, user: b.user, key: b.key, at: "bastions.\(name)"),
                                     proxyJump: b.proxyJump)
        }
        for bastion in bastions.values.sorted(by: { $0.name < $1.name }) {
            // Every reference resolves, and no chain loops.
            var seen: Set<String> = [bastion.name]
            var next = bastion.proxyJump
            while let hop = next {
                guard let target = bastions[hop] else { throw fail("bastions.\(bastion.name).proxyJump", "no bastion named \(hop.prefix(64).debugDescription) in bastions") }
                guard seen.insert(hop).inserted else { throw fail("bastions.\(bastion.name).proxyJump", "the chain of bastions loops through \(hop)") }
                next = target.proxyJump
            }
        }

        // segments
        guard let segmentFiles = file.segments, !segmentFiles.isEmpty else { throw fail("segments", "is required: at least one segment with its jump hosts") }
        var segments: [Segment] = []
        var names: [String: String] = [:]
        var index = 0
        for name in segmentFiles.keys.sorted() {
            let s = segmentFiles[name]!
            let key = "segments.\(name)"
            guard CordonName.isValid(name) else { throw fail(key, "a segment name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit") }
            guard let scope = s.scope, !scope.isEmpty else { throw fail("\(key).scope", "is required: the CIDRs the segment's agent may scan") }
            var canonical: [String] = []
            for (i, cidr) in scope.enumerated() {
                guard let parsed = IPv4CIDR(cidr) else { throw fail("\(key).scope[\(i)]", "\(cidr.prefix(40).debugDescription) is not an IPv4 CIDR like 198.18.1.0/24") }
                if !canonical.contains(parsed.description) { canonical.append(parsed.description) }
            }
            var exclude: [String] = []
            for (i, cidr) in (s.exclude ?? []).enumerated() {
                guard let parsed = IPv4CIDR(cidr) else { throw fail("\(key).exclude[\(i)]", "\(cidr.prefix(40).debugDescription) is not an IPv4 address or CIDR") }
                exclude.append(parsed.prefix == 32 ? cidr : parsed.description)
            }
            let scanInterval = try duration(s.scanInterval, "\(key).scanInterval", 60...(30 * 86400), "1m and 30d")
            if let profile = s.scanProfile, !CordonName.isValid(profile) { throw fail("\(key).scanProfile", "is not a profile name") }
            guard let hostFiles = s.hosts, !hostFiles.isEmpty else { throw fail("\(key).hosts", "is required: at least one jump host") }
            var hosts: [Host] = []
            for (i, h) in hostFiles.enumerated() {
                let hkey = "\(key).hosts[\(i)]"
                guard let hostName = h.name else { throw fail("\(hkey).name", "is required: the name the agent enrolls under") }
                guard CordonName.isValid(hostName) else { throw fail("\(hkey).name", "\(hostName.prefix(80).debugDescription) must be 1-64 letters, digits, '.', '_' or '-'") }
                if let other = names[hostName] { throw fail("\(hkey).name", "\(hostName) is also \(other): host names must be unique in the inventory") }
                names[hostName] = hkey
                if let jump = h.proxyJump, bastions[jump] == nil {
                    throw fail("\(hkey).proxyJump", "no bastion named \(jump.prefix(64).debugDescription) in bastions (known: \(bastions.keys.sorted().joined(separator: ", ")))")
                }
                hosts.append(Host(name: hostName, segment: name,
                                  endpoint: try endpoint(address: h.address, port: h.port, user: h.user, key: h.key, at: hkey),
                                  proxyJump: h.proxyJump, index: index))
                index += 1
            }
            segments.append(Segment(name: name, scope: canonical, exclude: exclude, scanInterval: scanInterval,
                                    scanProfile: s.scanProfile, sensor: s.sensor ?? false, hosts: hosts))
        }
        guard index <= maxHosts else { throw fail("segments", "\(index) hosts; at most \(maxHosts) in one inventory") }
        return RolloutInventory(origin: origin, coordinator: Coordinator(url: url, caFingerprint: fingerprint), agent: agent, ssh: ssh,
                                bastions: bastions, segments: segments)
    }

    /// A DNS name or an IPv4/IPv6 literal; never something ssh could read as an option.
    static func isValidAddress(_ text: String) -> Bool {
        guard (1...253).contains(text.utf8.count), let first = text.unicodeScalars.first else { return false }
        if IPv4CIDR.parseAddress(text) != nil { return true }
        if text.contains(":") {
            return text.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." } && text.count >= 2
        }
        guard first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".") }
            && !text.hasSuffix("-") && !text.contains("..")
    }

    static func isValidUser(_ text: String) -> Bool {
        guard (1...32).contains(text.utf8.count), let first = text.unicodeScalars.first,
              first == "_" || ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == "." }
    }

    static func resolvePath(_ raw: String, base: String, home: String) -> String {
        var p = raw
        if p == "~" { p = home } else if p.hasPrefix("~/") { p = home + p.dropFirst(1) }
        if !p.hasPrefix("/") { p = (base as NSString).appendingPathComponent(p) }
        return (p as NSString).standardizingPath
    }

    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}
