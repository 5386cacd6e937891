@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

@Suite struct ExportTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func sampleHosts() throws -> [HostView] {
        let db = try CoordinatorDatabase.inMemory()
        let agent = try db.testAgent(at: t0)
        let services = [
            ServiceObservation(port: 445, proto: .tcp, state: .open, reason: .connected, service: "microsoft-ds", product: "Samba smbd", version: "4.17"),
            ServiceObservation(port: 4444, proto: .tcp, state: .open, reason: .connected, banner: "Microsoft Windows XP [Version 5.1.2600]\n(C) <&\"'>"),
            ServiceObservation(port: 137, proto: .udp, state: .openFiltered, reason: .timeout),
            ServiceObservation(port: 139, proto: .tcp, state: .closed, reason: .refused),
        ]
        let findings = [
            FindingObservation(detectionID: DetectionCatalogue.blasterShell, port: 4444, proto: .tcp, evidence: "Microsoft Windows XP <shell> & \u{1}"),
            FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 31337, proto: .udp, evidence: "reply"),
        ]
        var host = Make.host("198.18.1.10", findings: findings, services: services)
        host.mac = "00:0c:29:aa:bb:cc"
        host.osGuess = "Windows 5.1"
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [host, Make.host("198.18.1.11", findings: [])]))
        return try db.hosts()
    }

    @Test func nmapXMLIsValidAgainstNmapsDTD() throws {
        let dtd = "/usr/share/nmap/nmap.dtd", xmllint = "/usr/bin/xmllint"
        let xml = Exports.nmapXML(try sampleHosts(), generatedAt: t0.addingTimeInterval(10))
        #expect(xml.contains(#"<port protocol="tcp" portid="445"><state"#) || xml.contains(#"<port protocol="tcp" portid="445">"#))
        #expect(xml.contains("cordon-blaster.shell-4444"))
        #expect(!xml.contains("<shell>"), "evidence is escaped")
        guard FileManager.default.fileExists(atPath: dtd), FileManager.default.isExecutableFile(atPath: xmllint) else {
            Issue.record("nmap.dtd or xmllint missing: install nmap and libxml2-utils (scripts/setup does)")
            return
        }
        let path = NSTemporaryDirectory() + "cordon-\(UUID().uuidString).xml"
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: xmllint)
        process.arguments = ["--noout", "--dtdvalid", dtd, path]
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "xmllint: \(message)")
    }

    @Test func csvEscapesAndDefusesFormulas() throws {
        let csv = Exports.hostsCSV(try sampleHosts())
        let lines = csv.split(separator: "\r\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("segment,address,netbios_name"))
        #expect(lines[1].contains("198.18.1.10"))
        #expect(lines[1].contains("445/tcp 4444/tcp"))
        #expect(Exports.csvField("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0")
        #expect(Exports.csvField("a,b") == "\"a,b\"")
        #expect(Exports.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        let findings = Exports.findingsCSV(try sampleHosts().flatMap(\.findings))
        #expect(findings.split(separator: "\r\n").count == 3)
    }
}
