import CordonShared
import Foundation
import Logging

/// `scan.sensor:` in agent.yaml: the passive sensor that sees who is spreading a worm.
///
/// ```yaml
/// scan:
///   sensor:
///     enabled: false     # true: count connection attempts to the jump host's worm ports
///     threshold: 3       # attempts (SYNs) from one address within the window: a finding
///     window: 10m        # an address's count lapses this long after its last attempt
/// ```
public struct SensorConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var threshold: Int
    public var window: ConfigDuration

    public init(enabled: Bool = false, threshold: Int = 3, window: ConfigDuration = .init(seconds: 600)) {
        self.enabled = enabled
        self.threshold = threshold
        self.window = window
    }

    enum CodingKeys: String, CodingKey { case enabled, threshold, window }

    public init(from decoder: any Decoder) throws {
        let d = SensorConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        threshold = try c.decodeIfPresent(Int.self, forKey: .threshold) ?? d.threshold
        window = try c.decodeIfPresent(ConfigDuration.self, forKey: .window) ?? d.window
    }

    static var schema: ConfigSchema { .mapping(["enabled": .scalar, "threshold": .scalar, "window": .scalar]) }

    public func validate(origin: String) throws {
        guard (1...1_000_000).contains(threshold) else { throw CordonError.invalidArgument("\(origin): scan.sensor.threshold must be 1-1000000") }
        guard window.seconds >= 10, window.seconds <= 86_400 else { throw CordonError.invalidArgument("\(origin): scan.sensor.window must be 10s-24h") }
    }
}

/// Attempts from one address to one of the jump host's worm ports, as the sensor counted them.
public struct SensorObservation: Sendable, Equatable {
    public var source: IPv4Address
    public var port: Int
    /// SYNs counted since the entry appeared (it lapses `window` after the last one).
    public var attempts: Int

    public init(source: IPv4Address, port: Int, attempts: Int) {
        self.source = source
        self.port = port
        self.attempts = attempts
    }
}

/// The passive worm sensor: Conficker and Blaster hosts scan their neighbours on 135/139/445 all
/// day, and the jump host gets those connection attempts too. An nftables table of its own,
/// `inet cordon_sensor`, counts them per source address and port in a dynamic set with a timeout;
/// nothing is captured and nothing is dropped (the chain's policy is accept and its rules only
/// update the set). A source over the threshold becomes a `general.worm-spreading` finding on
/// that host in the scan report. Only unicast SYNs to the jump host itself count (`meta pkttype
/// host`): NetBIOS broadcasts and answers to the jump host's own connections do not.
///
/// The table is Cordon's own and separate from `inet cordon` (the block-ports table, which the
/// remediation replaces whole and checks for anything foreign).
public enum WormSpreadSensor {
    static let table = "cordon_sensor"
    static let set = "attempts"
    /// The ports whose attempts are counted: the SMB and RPC ports the worms sweep.
    public static let ports = [135, 139, 445]
    /// The most entries the set keeps (the kernel refuses new ones beyond it).
    static let maxEntries = 65_536

    /// One nft transaction that (re)creates the table.
    static func script(window: ConfigDuration) -> String {
        let seconds = max(10, Int(window.seconds.rounded()))
        return """
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
            \tcomment "Cordon passive worm sensor: counts attempts, drops nothing (managed by cordon-agent)"
            \tset \(set) {
            \t\ttype ipv4_addr . inet_service
            \t\tflags dynamic, timeout
            \t\ttimeout \(seconds)s
            \t\tsize \(maxEntries)
            \t\tcounter
            \t}
            \tchain input {
            \t\ttype filter hook input priority filter - 20; policy accept;
            \t\tmeta pkttype host tcp flags & (syn | ack) == syn tcp dport { \(ports.map(String.init).joined(separator: ", ")) } update @\(set) { ip saddr . tcp dport }
            \t}
            }

            """
    }

    /// Reads `nft -j list set inet cordon_sensor attempts`. Elements that are not an IPv4
    /// address and a port are skipped; at most ``maxEntries`` are read.
    static func parse(_ json: Data) throws -> [SensorObservation] {
        let document: NftJSON
        do { document = try JSONDecoder().decode(NftJSON.self, from: json) } catch {
            throw AgentError.state("nft -j list set inet \(table) \(set): not JSON")
        }
        guard let objects = document["nftables"]?.array else { throw AgentError.state("nft -j list set: no top-level \"nftables\" array") }
        var out: [SensorObservation] = []
        for object in objects {
            guard let body = object["set"], body["name"]?.string == set, body["table"]?.string == table else { continue }
            for element in (body["elem"]?.array ?? []).prefix(maxEntries) {
                let entry = element["elem"] ?? element
                let value = entry["val"] ?? entry
                guard let parts = value["concat"]?.array, parts.count == 2, let text = parts[0].string, let source = IPv4Address(text),
                      let port = parts[1].int, (0...65535).contains(port) else { continue }
                let packets = entry["counter"]?["packets"]?.int ?? 1
                out.append(SensorObservation(source: source, port: port, attempts: max(0, packets)))
            }
        }
        return out
    }

    /// The findings: each source in `scope` whose attempts reach `threshold`, by address.
    static func findings(_ observations: [SensorObservation], threshold: Int, window: ConfigDuration, scope: Scope) -> [IPv4Address: FindingObservation] {
        var bySource: [IPv4Address: [SensorObservation]] = [:]
        for o in observations where scope.contains(o.source) { bySource[o.source, default: []].append(o) }
        var out: [IPv4Address: FindingObservation] = [:]
        for (source, entries) in bySource {
            let total = entries.reduce(0) { $0 + $1.attempts }
            guard total >= threshold else { continue }
            let ports = entries.map(\.port).sorted()
            let portText = ports.map { "tcp/\($0)" }.joined(separator: ", ")
            out[source] = FindingObservation(
                detectionID: DetectionCatalogue.wormSpreading, port: ports.count == 1 ? ports[0] : nil, proto: .tcp,
                evidence: "\(total) connection attempts (SYN) to the jump host's \(portText) each within \(Int(window.seconds.rounded())) s of the one before (passive sensor; threshold \(threshold))")
        }
        return out
    }

    /// Puts the findings on their hosts in `report`: on a host the scan listed, beside what the
    /// scan found; else as a host of its own, marked incomplete (the scan did not see it up, so
    /// nothing else about it is resolved).
    static func annotate(_ report: ScanReport, with findings: [IPv4Address: FindingObservation]) -> ScanReport {
        var report = report
        var pending = findings
        for index in report.hosts.indices {
            guard let address = IPv4Address(report.hosts[index].address), let finding = pending.removeValue(forKey: address) else { continue }
            report.hosts[index].findings.append(finding)
        }
        for (address, finding) in pending.sorted(by: { $0.key < $1.key }) {
            report.hosts.append(ScannedHost(address: address.description, reason: "sensor: connection attempts to the jump host",
                                            findings: [finding], complete: false))
        }
        report.hosts.sort { (IPv4Address($0.address)?.value ?? 0) < (IPv4Address($1.address)?.value ?? 0) }
        return report
    }
}

/// The sensor's table on the real host, through nft (run in a namespace by tests).
public struct LiveWormSpreadSensor: Sendable {
    public var runner: any RemediationCommandRunner
    public var config: SensorConfig

    public init(config: SensorConfig, runner: any RemediationCommandRunner = RemediationProcessRunner()) {
        self.config = config
        self.runner = runner
    }

    private func nft() throws -> String {
        guard let tool = runner.locate("nft") else { throw AgentError.state("the worm sensor needs nft (package nftables)") }
        return tool
    }

    /// Creates (or recreates, with the configured window) the table. Counts start again.
    public func install() throws {
        let result = runner.run(try nft(), arguments: ["-f", "-"], input: Array(WormSpreadSensor.script(window: config.window).utf8),
                                timeout: .seconds(30), outputLimit: 1 << 20)
        guard result.termination == .exited(0) else { throw AgentError.state("nft -f - did not create the table inet cordon_sensor: \(result.failureSummary)") }
    }

    /// Removes the table (the sensor turned off); nothing when it is not there.
    public func remove() throws {
        let result = runner.run(try nft(), arguments: ["-f", "-"], input: Array("table inet cordon_sensor\ndelete table inet cordon_sensor\n".utf8),
                                timeout: .seconds(30), outputLimit: 1 << 20)
        guard result.termination == .exited(0) else { throw AgentError.state("nft could not remove the table inet cordon_sensor: \(result.failureSummary)") }
    }

    /// Removes the table of a sensor turned off, when nft is there and the table is.
    public static func removeIfPresent(runner: any RemediationCommandRunner = RemediationProcessRunner(), logger: Logger) {
        guard let nft = runner.locate("nft") else { return }
        let listed = runner.run(nft, arguments: ["list", "table", "inet", WormSpreadSensor.table], timeout: .seconds(30), outputLimit: 1 << 20)
        guard listed.termination == .exited(0) else { return }
        do {
            try LiveWormSpreadSensor(config: .init(), runner: runner).remove()
            logger.notice("worm sensor off: removed the table inet cordon_sensor")
        } catch {
            logger.warning("worm sensor off, but its table stays", metadata: ["error": "\(error)"])
        }
    }

    /// What the set holds now; the table is created again first when it is gone (a flushed
    /// ruleset), and then holds nothing yet.
    public func read() throws -> [SensorObservation] {
        let result = runner.run(try nft(), arguments: ["-j", "list", "set", "inet", WormSpreadSensor.table, WormSpreadSensor.set],
                                timeout: .seconds(30), outputLimit: 32 << 20)
        switch result.termination {
        case .exited(0):
            return try WormSpreadSensor.parse(result.standardOutput)
        case .exited(1) where String(decoding: result.standardError, as: UTF8.self).contains("No such file or directory"):
            try install()
            return []
        default:
            throw AgentError.state("nft -j list set inet cordon_sensor attempts: \(result.failureSummary)")
        }
    }
}
