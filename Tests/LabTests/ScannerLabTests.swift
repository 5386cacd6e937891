import CordonShared
import Foundation
import Testing

/// The scanner against real peers: Samba with SMB1 on and off, with and without null
/// sessions, lighttpd answering as IIS 5.0, socat backdoors, samba-dcerpcd, the Conficker
/// responder, nftables-filtered and closed ports, and a dead address — from the jump host.
@Suite(.serialized) struct ScannerLabTests {
    static var agentBinary: String { LabEnvironment.repoRoot.appendingPathComponent(".build/debug/cordon-agent").path }

    @Test func aScanFromTheJumpHostFindsExactlyWhatEachHostOffers() async throws {
        try await withLab(LabOptions(segments: 1, tools: ["nmap"])) { lab in
            let segment = lab.segment(1)
            let started = ContinuousClock.now
            let result = try await lab.exec(segment.jump.namespace, [Self.agentBinary, "scan", "--scope", segment.subnet, "--json", "--quiet",
                                                                      "--timeout", "500ms", "--retries", "1"], timeout: .seconds(180))
            let elapsed = ContinuousClock.now - started
            #expect(result.succeeded, "\(result)")
            let report = try CordonJSON.decode(ScanReport.self, from: Data(result.stdout.utf8))
            #expect(report.complete)
            // Every address of the /24, as nmap scans it (network and broadcast are down).
            #expect(report.addressesScanned == 256)
            let byAddress = Dictionary(report.hosts.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })

            for host in segment.hosts {
                guard host.role != "dead" else {
                    #expect(byAddress[host.address] == nil, "the dead address is reported as down, not listed")
                    continue
                }
                guard let scanned = byAddress[host.address] else {
                    Issue.record("\(host.role) at \(host.address) not found up")
                    continue
                }
                #expect(scanned.complete, "\(host.role): every probe finished")
                let found = Set(scanned.findings.map(\.detectionID))
                #expect(found == Set(host.expectedFindings), "\(host.role) at \(host.address): found \(found.sorted()), expected \(host.expectedFindings.sorted())")
                let open = Set(scanned.services.filter { $0.proto == .tcp && $0.state == .open }.map(\.port))
                for port in host.tcpOpen where [80, 443, 135, 139, 445, 593, 4444, 8888, 33333].contains(Int(port)) {
                    #expect(open.contains(Int(port)), "\(host.role): tcp/\(port) open")
                }
                let filtered = Set(scanned.services.filter { $0.proto == .tcp && $0.state == .filtered }.map(\.port))
                for port in host.tcpFiltered { #expect(filtered.contains(Int(port)), "\(host.role): tcp/\(port) filtered") }
            }
            // Everything else in the /24 is down: the jump host itself answers (it is in scope).
            let listed = Set(report.hosts.map(\.address))
            #expect(report.hostsDown == 256 - listed.count)
            #expect(!listed.contains(segment.subnet.replacingOccurrences(of: ".0/24", with: ".255")), "the broadcast address is down")

            // Names and OS from NBSTAT and NTLMSSP.
            let samba = try #require(byAddress[try lab.host("smb1-null").address])
            #expect(samba.netbiosName?.isEmpty == false)
            #expect(samba.osGuess?.contains("Samba") == true || samba.osGuess?.contains("Windows") == true)
            let iis = try #require(byAddress[try lab.host("iis").address])
            #expect(iis.services.contains { $0.port == 80 && $0.service == "http" && $0.product?.contains("IIS") == true })
            // The same server read through TLS on 443 (lighttpd with OpenSSL, a self-signed certificate).
            #expect(iis.services.contains { $0.port == 443 && $0.service == "https" && $0.product?.contains("IIS") == true },
                    "\(iis.services.filter { $0.port == 443 })")
            #expect(Set(iis.findings.filter { $0.port == 443 }.map(\.detectionID)) == Set(try lab.host("iis").expectedFindings))
            print("lab scan of \(segment.subnet): \(report.hosts.count) up, \(report.hostsDown) down in \(elapsed)")
        }
    }

    @Test func portStatesAgreeWithNmapInTheSameLab() async throws {
        try await withLab(LabOptions(segments: 1, tools: ["nmap"])) { lab in
            let segment = lab.segment(1)
            let ports = "80,443,135,139,445,593,4444,8888,33333"
            let cordon = try await lab.exec(segment.jump.namespace, [Self.agentBinary, "scan", "--scope", segment.subnet, "--profile", "ports",
                                                                      "--json", "--quiet", "--timeout", "500ms"], timeout: .seconds(180))
            #expect(cordon.succeeded, "\(cordon)")
            let report = try CordonJSON.decode(ScanReport.self, from: Data(cordon.stdout.utf8))
            let nmap = try await lab.exec(segment.jump.namespace, ["nmap", "-sT", "-T4", "-Pn", "-n", "-p", ports, "-oG", "-", segment.subnet],
                                          timeout: .seconds(300))
            #expect(nmap.succeeded, "\(nmap)")
            // Grepable output: "Host: A ()	Ports: 80/open/tcp//http///, 135/filtered/tcp//..."
            var nmapOpen: [String: Set<Int>] = [:]
            for line in nmap.stdout.split(separator: "\n") where line.contains("Ports:") {
                guard let address = line.split(separator: " ").dropFirst().first.map(String.init) else { continue }
                let portsField = line.components(separatedBy: "Ports: ").last ?? ""
                for entry in portsField.split(separator: ",") {
                    let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
                    if parts.count > 1, parts[1] == "open", let port = Int(parts[0]) { nmapOpen[address, default: []].insert(port) }
                }
            }
            let cordonOpen = Dictionary(report.hosts.map { host in
                (host.address, Set(host.services.filter { $0.proto == .tcp && $0.state == .open }.map(\.port)))
            }, uniquingKeysWith: { a, _ in a }).filter { !$0.value.isEmpty }
            #expect(cordonOpen == nmapOpen.filter { !$0.value.isEmpty }, "open TCP ports per host: cordon \(cordonOpen) nmap \(nmapOpen)")
        }
    }
}
