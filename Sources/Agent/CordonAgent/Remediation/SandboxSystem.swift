import CordonShared
import Crypto
import Foundation

/// A jump host made of files under one directory, for `cordon demo`: remediation runs the real
/// executor, backups and journal against it, and nothing of the machine's own accounts, cron,
/// units or firewall is touched.
///
/// - accounts: `ROOT/etc/shadow` and `ROOT/etc/passwd`, edited the way chpasswd and usermod
///   would (a new hash dated today, `!` in front to lock, a new shell), with a stand-in hash
///   (`$cordon-demo$` + a digest): nothing here can log in anyway;
/// - files and scheduled tasks: the real file code, rooted at ROOT (`LiveRemediationFiles`,
///   `LiveSchedulerSystem`);
/// - units: none (stop-service and disable-service find nothing: `not-found`);
/// - the firewall: `ROOT/nft.json`, written as `nft -j list ruleset` prints Cordon's table
///   (captured from nft 1.0.6), which the demo's inventory reads as the jump host's ruleset.
extension RemediationSystem {
    public static func sandbox(root: String, now: @escaping @Sendable () -> Date = { Date() }) -> RemediationSystem {
        RemediationSystem(accounts: FileAccountSystem(root: root, now: now), files: LiveRemediationFiles(root: root),
                          scheduler: LiveSchedulerSystem(root: root), services: AbsentServiceManager(),
                          firewall: FileCordonFirewall(path: root + "/nft.json"))
    }
}

/// Accounts in a rooted copy of /etc: the effect of chpasswd and usermod, without them.
public struct FileAccountSystem: AccountSystem {
    public let root: String
    let now: @Sendable () -> Date

    public init(root: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.root = root
        self.now = now
    }

    var shadowPath: String { root + "/etc/shadow" }
    var passwdPath: String { root + "/etc/passwd" }

    public func shadowEntry(user: String) throws -> ShadowEntry? {
        LiveAccountSystem.entry(user: user, in: try SecureFile.read(shadowPath, limit: 16 << 20))
    }

    public func passwdEntry(user: String) throws -> PasswdEntry? {
        LiveAccountSystem.passwd(user: user, in: try SecureFile.read(passwdPath, limit: 16 << 20))
    }

    /// Replaces fields of `user`'s shadow line (1: hash, 2: last change).
    private func editShadow(user: String, _ change: (inout [String]) -> Void) throws {
        guard let entry = try shadowEntry(user: user) else { throw AgentError.remediation("no such user \(user)") }
        var fields = entry.line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3 else { throw AgentError.remediation("the shadow line of \(user) is malformed") }
        change(&fields)
        try LiveAccountSystem.replace(user: user, line: fields.joined(separator: ":"), in: shadowPath)
    }

    private var today: String { String(Int(now().timeIntervalSince1970 / 86400)) }

    public func setPassword(user: String, password: SecretBytes) throws {
        let digest = SHA256.hash(data: Data(password.bytes)).map { String(format: "%02x", $0) }.joined()
        try editShadow(user: user) { fields in
            fields[1] = "$cordon-demo$" + digest
            fields[2] = today
        }
    }

    public func setPasswordHash(user: String, hash: String) throws {
        guard !hash.contains(":"), !hash.contains("\n") else { throw AgentError.remediation("refusing a password hash with ':' or a newline") }
        try editShadow(user: user) { fields in
            fields[1] = hash
            fields[2] = today
        }
    }

    public func lock(user: String, shell: String) throws {
        guard let passwd = try passwdEntry(user: user) else { throw AgentError.remediation("usermod: user '\(user)' does not exist") }
        try editShadow(user: user) { fields in
            if !fields[1].hasPrefix("!") { fields[1] = "!" + fields[1] }
        }
        var fields = passwd.line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        fields[6] = shell
        try LiveAccountSystem.replace(user: user, line: fields.joined(separator: ":"), in: passwdPath)
    }

    public func replaceEntries(user: String, shadowLine: String, passwdLine: String?) throws {
        try LiveAccountSystem.replace(user: user, line: shadowLine, in: shadowPath)
        if let passwdLine { try LiveAccountSystem.replace(user: user, line: passwdLine, in: passwdPath) }
    }
}

/// A host without systemd units: every unit is "not found".
public struct AbsentServiceManager: ServiceManager {
    public init() {}

    public func state(of unit: String) throws -> UnitState {
        UnitState(loadState: "not-found", activeState: "inactive", unitFileState: "")
    }

    public func perform(_ verb: UnitVerb, unit: String) throws {
        throw AgentError.remediation("there is no unit \(unit) on this host")
    }
}

/// Cordon's table kept in a file as `nft -j list ruleset` prints it.
public struct FileCordonFirewall: CordonFirewall {
    public let path: String

    public init(path: String) { self.path = path }

    public func read() throws -> CordonTableSnapshot? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try SecureFile.read(path, limit: 16 << 20)
        let snapshot: CordonTableSnapshot
        do { snapshot = try CordonTable.parse(data) } catch { throw AgentError.remediation("\(error)") }
        let hasTable = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])
            .flatMap { $0["nftables"] as? [[String: Any]] }?
            .contains { ($0["table"] as? [String: Any]).map { $0["name"] as? String == CordonTable.name && $0["family"] as? String == CordonTable.family } ?? false }
        return hasTable == true ? snapshot : nil
    }

    public func apply(_ sets: CordonPortSets) throws {
        try SecureFile.replace(path, contents: CordonTable.rulesetJSON(sets), mode: 0o644)
    }
}

extension CordonTable {
    /// What `nft -j list ruleset` prints after `script(sets)` on an otherwise empty ruleset.
    static func rulesetJSON(_ sets: CordonPortSets) -> Data {
        var objects: [[String: Any]] = [["metainfo": ["version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1]]]
        if !sets.isEmpty {
            objects.append(["table": ["family": family, "name": name, "handle": 1]])
            let members: [(String, [Int])] = [("in_tcp", sets.inboundTCP), ("in_udp", sets.inboundUDP), ("out_tcp", sets.outboundTCP), ("out_udp", sets.outboundUDP)]
            for (index, (set, ports)) in members.enumerated() {
                var body: [String: Any] = ["family": family, "name": set, "table": name, "type": "inet_service", "handle": index + 3]
                if !ports.isEmpty { body["elem"] = ports }
                objects.append(["set": body])
            }
            for (index, chain) in chainNames.enumerated() {
                objects.append(["chain": ["family": family, "table": name, "name": chain, "handle": index + 1, "type": "filter", "hook": chain,
                                          "prio": -10, "policy": "accept"]])
            }
            var handle = 7
            for (chain, prefix) in [("input", "in"), ("output", "out")] {
                for proto in ["tcp", "udp"] {
                    let match: [String: Any] = ["op": "==", "left": ["payload": ["protocol": proto, "field": "dport"]], "right": "@\(prefix)_\(proto)"]
                    objects.append(["rule": ["family": family, "table": name, "chain": chain, "handle": handle, "comment": "cordon",
                                             "expr": [["match": match], ["counter": ["packets": 0, "bytes": 0]], ["drop": NSNull()]]]])
                    handle += 1
                }
            }
        }
        return (try? JSONSerialization.data(withJSONObject: ["nftables": objects], options: [.sortedKeys])) ?? Data()
    }
}
