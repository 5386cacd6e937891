import CordonShared
import Foundation
import Logging
import Testing
@testable import CordonAgent

/// Runs nft (or anything) inside a network namespace.
struct NamespaceCommandRunner: RemediationCommandRunner {
    let namespace: String
    let base = RemediationProcessRunner()

    func locate(_ name: String) -> String? { base.locate(name) }

    func run(_ executable: String, arguments: [String], input: [UInt8], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        base.run(base.locate("ip") ?? "/usr/sbin/ip", arguments: ["netns", "exec", namespace, executable] + arguments, input: input,
                 timeout: timeout, outputLimit: outputLimit)
    }
}

@Suite struct WormSpreadSensorTests {
    /// What nft 1.0.6 prints for the set (taken from a real run).
    static let listed = Data("""
        {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, \
        {"set": {"family": "inet", "name": "attempts", "table": "cordon_sensor", "type": ["ipv4_addr", "inet_service"], "handle": 2, \
        "size": 65536, "flags": ["timeout"], "timeout": 600, "elem": [\
        {"elem": {"val": {"concat": ["198.18.0.66", 445]}, "expires": 599, "counter": {"packets": 3, "bytes": 180}}}, \
        {"elem": {"val": {"concat": ["198.18.0.66", 139]}, "expires": 590, "counter": {"packets": 1, "bytes": 60}}}, \
        {"elem": {"val": {"concat": ["198.18.0.77", 445]}, "expires": 500, "counter": {"packets": 2, "bytes": 120}}}, \
        {"elem": {"val": {"concat": ["203.0.113.9", 445]}, "expires": 500, "counter": {"packets": 50, "bytes": 3000}}}, \
        {"elem": {"val": {"concat": ["not-an-address", 445]}, "counter": {"packets": 9, "bytes": 1}}}, \
        {"concat": ["198.18.0.88", 135]}]}}]}
        """.utf8)

    @Test func parsesTheSetAndFindsTheSourcesOverTheThreshold() throws {
        let observations = try WormSpreadSensor.parse(Self.listed)
        #expect(observations.count == 5, "the element that is not an address is skipped")
        #expect(observations.first == SensorObservation(source: IPv4Address(198, 18, 0, 66), port: 445, attempts: 3))
        #expect(observations.last == SensorObservation(source: IPv4Address(198, 18, 0, 88), port: 135, attempts: 1))
        let scope = try Scope(scope: ["198.18.0.0/24"])
        let findings = WormSpreadSensor.findings(observations, threshold: 3, window: .init(seconds: 600), scope: scope)
        // .66: 3 + 1 attempts on two ports; .77 stays under; 203.0.113.9 is outside the scope.
        #expect(findings.keys.sorted() == [IPv4Address(198, 18, 0, 66)])
        let finding = try #require(findings[IPv4Address(198, 18, 0, 66)])
        #expect(finding.detectionID == DetectionCatalogue.wormSpreading && finding.port == nil && finding.proto == .tcp)
        #expect(finding.evidence.contains("4 connection attempts") && finding.evidence.contains("tcp/139, tcp/445"), "\(finding.evidence)")
        #expect(DetectionCatalogue.detection(finding.detectionID)?.kind == .ioc)
        // Bad input is an error, not an empty list.
        #expect(throws: AgentError.self) { try WormSpreadSensor.parse(Data("not json".utf8)) }
        #expect(throws: AgentError.self) { try WormSpreadSensor.parse(Data("{}".utf8)) }
    }

    @Test func findingsGoOnTheirHostsAndASensorOnlyHostIsIncomplete() throws {
        let finding = FindingObservation(detectionID: DetectionCatalogue.wormSpreading, proto: .tcp, evidence: "5 attempts")
        let scanned = ScannedHost(address: "198.18.0.20", reason: "syn-ack tcp/445", findings: [
            FindingObservation(detectionID: DetectionCatalogue.confickerSMB, port: 445, proto: .tcp, evidence: "SMB")])
        let report = ScanReport(profile: "worms", scope: ["198.18.0.0/24"], exclude: [], startedAt: Date(), finishedAt: Date(), complete: true,
                                addressesScanned: 256, hostsDown: 255, hosts: [scanned])
        let annotated = WormSpreadSensor.annotate(report, with: [IPv4Address(198, 18, 0, 20): finding, IPv4Address(198, 18, 0, 9): finding])
        #expect(annotated.hosts.map(\.address) == ["198.18.0.9", "198.18.0.20"])
        #expect(annotated.hosts[1].findings.map(\.detectionID) == [DetectionCatalogue.confickerSMB, DetectionCatalogue.wormSpreading])
        #expect(annotated.hosts[1].complete)
        #expect(annotated.hosts[0].findings == [finding] && !annotated.hosts[0].complete, "the scan did not see it up: nothing else is resolved")
    }

    @Test func theTableCountsAndDropsNothing() {
        let script = WormSpreadSensor.script(window: .init(seconds: 600))
        #expect(script.hasPrefix("table inet cordon_sensor\ndelete table inet cordon_sensor\n"))
        #expect(script.contains("timeout 600s") && script.contains("policy accept") && script.contains("meta pkttype host"))
        #expect(!script.contains("drop") || script.contains("drops nothing"))
        #expect(!script.contains(" drop\n") && !script.contains("reject"))
    }

    @Test func configIsValidatedWithClearErrors() throws {
        #expect(throws: CordonError.self) { try SensorConfig(threshold: 0).validate(origin: "agent.yaml") }
        #expect(throws: CordonError.self) { try SensorConfig(window: .init(seconds: 1)).validate(origin: "agent.yaml") }
        try SensorConfig().validate(origin: "agent.yaml")
        #expect(!SensorConfig().enabled, "off unless asked: it installs an nftables table")
    }

    /// The real nftables table in a namespace: a host that sweeps 445 and 139 is caught; a
    /// client that tries once is not; the counts are read back as nft keeps them.
    @Test(.enabled(if: ScanLabNamespace.available))
    func aSweepingHostIsFoundAndANormalClientIsNot() async throws {
        let ns = try ScanLabNamespace.create(nftRules: "table inet cordonlab { }")
        defer { ns.destroy() }
        let runner = NamespaceCommandRunner(namespace: ns.name)
        let sensor = LiveWormSpreadSensor(config: SensorConfig(enabled: true, threshold: 3, window: .init(seconds: 600)), runner: runner)
        try sensor.install()
        #expect(try sensor.read().isEmpty)
        // From .66: three connects to 445 and one to 139 (each refused at once: one SYN each).
        // From .77: one connect to 445, like a client that got the wrong server.
        let python = """
            import socket, sys
            for source, port in [("198.18.0.66", 445), ("198.18.0.66", 445), ("198.18.0.66", 445), ("198.18.0.66", 139), ("198.18.0.77", 445)]:
                s = socket.socket(); s.bind((source, 0)); s.settimeout(2); s.connect_ex(("198.18.0.1", port)); s.close()
            """
        let (status, output) = try ScanLabNamespace.run("ip", ["netns", "exec", ns.name, "python3", "-c", python])
        try #require(status == 0, "\(output)")
        let observations = try sensor.read()
        #expect(observations.filter { $0.source == IPv4Address(198, 18, 0, 66) }.reduce(0) { $0 + $1.attempts } == 4, "\(observations)")
        #expect(observations.filter { $0.source == IPv4Address(198, 18, 0, 77) }.map(\.attempts) == [1])

        var scan = ScanConfig(scope: ["198.18.0.0/24"])
        scan.sensor = SensorConfig(enabled: true, threshold: 3)
        let empty = ScanReport(profile: "worms", scope: scan.scope, exclude: [], startedAt: Date(), finishedAt: Date(), complete: true,
                               addressesScanned: 256, hostsDown: 256, hosts: [])
        let report = ScanService.addSensorFindings(empty, sensor: sensor, config: scan, logger: Logger(label: "test"))
        #expect(report.hosts.map(\.address) == ["198.18.0.66"])
        #expect(report.hosts.first?.findings.map(\.detectionID) == [DetectionCatalogue.wormSpreading])
        #expect(report.stats.sensor == "2 source(s) tried the worm ports, 1 at or over the threshold of 3")

        // Flushed by someone else: the next read puts the table back and says there is nothing yet.
        _ = try ScanLabNamespace.run("ip", ["netns", "exec", ns.name, "nft", "delete", "table", "inet", "cordon_sensor"])
        #expect(try sensor.read().isEmpty)
        try sensor.remove()
        let (listed, _) = try ScanLabNamespace.run("ip", ["netns", "exec", ns.name, "nft", "list", "table", "inet", "cordon_sensor"])
        #expect(listed != 0, "removed")
    }
}
