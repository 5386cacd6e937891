import Synchronization
import CordonShared
import Foundation
import Testing
@testable import CordonAgent

/// A network namespace with only `lo`, no default route, 198.18.0.0/24 made local (AnyIP), and
/// nftables rules that drop some traffic, so that probes time out. Removed by ``destroy()``.
struct ScanLabNamespace {
    let name: String
    var path: String { "/run/netns/\(name)" }

    static func tool(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var available: Bool { ScanTestNet.isRoot && tool("ip") != nil && tool("nft") != nil }

    /// Runs a tool to its end (each is a short command); returns its exit status and output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.tool(tool) ?? tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func create(nftRules: String) throws -> ScanLabNamespace {
        let ns = ScanLabNamespace(name: "cordon-scan-\(getpid())-\(UInt16.random(in: 1...65000))")
        let (status, out) = try run("ip", ["netns", "add", ns.name])
        guard status == 0 else { throw AgentError.state("ip netns add: \(out)") }
        do {
            for args in [["link", "set", "lo", "up"], ["addr", "add", "198.18.0.1/32", "dev", "lo"],
                         ["route", "add", "local", "198.18.0.0/24", "dev", "lo"]] {
                let (s, o) = try run("ip", ["-n", ns.name] + args)
                guard s == 0 else { throw AgentError.state("ip \(args): \(o)") }
            }
            // No default route: only the local /24 is reachable.
            let (routes, _) = try run("ip", ["-n", ns.name, "route", "show", "default"])
            _ = routes
            let (s, o) = try run("ip", ["netns", "exec", ns.name, tool("nft") ?? "nft", "-f", "-"], input: nftRules)
            guard s == 0 else { throw AgentError.state("nft: \(o)") }
        } catch {
            ns.destroy()
            throw error
        }
        return ns
    }

    func destroy() {
        _ = try? Self.run("ip", ["netns", "del", name])
    }
}

/// Filtered ports and dead hosts need packets that are dropped: inside a namespace only.
@Suite(.serialized) struct ScanNamespaceLabTests {
    @Test(.enabled(if: ScanLabNamespace.available))
    func filteredPortsAndDeadHostsInANamespace() async throws {
        let ns = try ScanLabNamespace.create(nftRules: """
            table inet cordonlab {
                chain input {
                    type filter hook input priority 0; policy accept;
                    ip daddr 198.18.0.0/27 tcp dport 135 drop
                    ip daddr 198.18.0.32/27 drop
                }
            }
            """)
        defer { ns.destroy() }
        let (_, defaultRoute) = try ScanLabNamespace.run("ip", ["-n", ns.name, "route", "show", "default"])
        #expect(defaultRoute.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        let recorder = ScanConnectRecorder()
        var tuning = ScanTestNet.tuning()
        tuning.networkNamespace = ns.path
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: tuning, observer: recorder.observer)
        let profile = ScanProfile(name: "lab", tcp: [.init(80), .init(135), .init(445)])
        let config = ScanConfig(scope: ["198.18.0.0/26"], profile: "lab", rate: 20_000, concurrency: 512,
                                timeout: ConfigDuration(seconds: 0.2), retries: 1)
        let report = try await scanner.scan(config: config, profile: profile)

        #expect(report.complete)
        // Every address of the /26, .0 and .63 too (nmap's rule: a CIDR may be a slice).
        #expect(report.addressesScanned == 64)
        // .32-.63 never answer: down, counted, not listed.
        #expect(report.hostsDown == 32)
        #expect(report.hosts.count == 32)
        #expect(report.hosts.first?.address == "198.18.0.0")
        for host in report.hosts {
            #expect(host.reason == "conn-refused tcp/80")
            #expect(host.services.map { "\($0.port) \($0.state.rawValue) \($0.reason.rawValue)" } == ["135 filtered no-response"])
            #expect(host.complete)
        }
        // Every dropped probe was tried twice (retries: 1), and timed out both times.
        #expect(report.stats.timeouts == 32 * 2 + 32 * 3 * 2)
        #expect(report.stats.retries == 32 + 32 * 3)
        #expect(report.stats.probesSent == 64 * 3 + report.stats.retries)
        let scope = try Scope(scope: ["198.18.0.0/26"])
        #expect(recorder.all.allSatisfy { scope.contains($0.0) })
    }

    /// Hosts that drop every probed port but answer ping are up, with every port filtered (as
    /// nmap -Pn says); hosts that drop ping too stay down; with echo discovery off, both are down.
    @Test(.enabled(if: ScanLabNamespace.available))
    func hostsThatOnlyAnswerPingAreUpWithNothingReachable() async throws {
        let ns = try ScanLabNamespace.create(nftRules: """
            table inet cordonlab {
                chain input {
                    type filter hook input priority 0; policy accept;
                    ip daddr 198.18.0.0/28 meta l4proto { tcp, udp } drop
                    ip daddr 198.18.0.16/28 drop
                }
            }
            """)
        defer { ns.destroy() }
        let echoes = Mutex<[IPv4Address]>([])
        var tuning = ScanTestNet.tuning()
        tuning.networkNamespace = ns.path
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: tuning, echoObserver: { address in echoes.withLock { $0.append(address) } })
        let profile = ScanProfile(name: "lab", tcp: [.init(80), .init(445)])
        var config = ScanConfig(scope: ["198.18.0.0/27"], profile: "lab", rate: 20_000, concurrency: 512,
                                timeout: ConfigDuration(seconds: 0.2), retries: 1)
        let report = try await scanner.scan(config: config, profile: profile)

        #expect(report.complete)
        #expect(report.stats.echoDiscovery == "raw")
        #expect(report.hosts.count == 16 && report.hostsDown == 16)
        #expect(report.stats.hostsUpByEcho == 16)
        for host in report.hosts {
            #expect(IPv4Address(host.address).map { $0.value & 0xFF < 16 } == true, "\(host.address)")
            #expect(host.reason == "echo-reply")
            #expect(host.services.map { "\($0.port) \($0.state.rawValue)" } == ["80 filtered", "445 filtered"])
            #expect(host.findings.isEmpty && host.complete)
        }
        // One echo beside each address's port probes (a second for the silent ones), none outside the scope.
        let scope = try Scope(scope: ["198.18.0.0/27"])
        #expect(Set(echoes.withLock { $0 }) == Set(scope.addresses))
        #expect(echoes.withLock { $0 }.count == 32 + 16)
        #expect(ScanCommand.render(report).contains("echo-reply"))

        // Off: the same hosts read as down, and the report says discovery was off.
        config.icmpEcho = false
        echoes.withLock { $0.removeAll() }
        let off = try await scanner.scan(config: config, profile: profile)
        #expect(off.hosts.isEmpty && off.hostsDown == 32)
        #expect(off.stats.echoDiscovery == "off" && off.stats.hostsUpByEcho == nil)
        #expect(echoes.withLock { $0 }.isEmpty)
    }

    /// Dead space is not congestion: an all-silent block opens the window instead of crawling
    /// at the initial ten probes in flight (it took 95 s for a /26 with the worms profile).
    @Test(.enabled(if: ScanLabNamespace.available))
    func deadSpaceOpensTheWindow() async throws {
        let ns = try ScanLabNamespace.create(nftRules: """
            table inet cordonlab {
                chain input {
                    type filter hook input priority 0; policy accept;
                    ip daddr 198.18.0.0/26 drop
                }
            }
            """)
        defer { ns.destroy() }
        var tuning = ScanTestNet.tuning()
        tuning.networkNamespace = ns.path
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: tuning)
        let profile = ScanProfile(name: "lab", tcp: [80, 135, 139, 445, 593, 4444, 8888, 33333].map { .init($0) })
        let config = ScanConfig(scope: ["198.18.0.0/26"], profile: "lab", rate: 20_000, concurrency: 512,
                                timeout: ConfigDuration(seconds: 0.3), retries: 1, icmpEcho: false)
        let clock = ContinuousClock()
        let started = clock.now
        let report = try await scanner.scan(config: config, profile: profile)
        let elapsed = clock.now - started
        #expect(report.complete && report.hosts.isEmpty && report.hostsDown == 64)
        // Every port of every address tried 1 + retries times, all timed out.
        #expect(report.stats.probesSent == 64 * 8 * 2 && report.stats.retries == 64 * 8 && report.stats.timeouts == 64 * 8 * 2)
        #expect(report.stats.peakInFlight > 100, "the window opened on silence: peak \(report.stats.peakInFlight) in flight")
        Swift.print("dead /26, 8 ports, 0.3 s timeout: \(elapsed), \(report.stats)")
    }

    @Test func echoPacketsAreBuiltAndReadStrictly() {
        let request = ICMPEchoPinger.echoRequest(identifier: 0x1234, sequence: 7)
        #expect(Array(request.prefix(8)) == [8, 0, request[2], request[3], 0x12, 0x34, 0, 7])
        #expect(ICMPEchoPinger.checksum(request) == 0, "a packet with its checksum sums to zero")
        var reply = request
        reply[0] = 0
        let ipHeader: [UInt8] = [0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 9, 198, 18, 0, 1]
        #expect(ICMPEchoPinger.echoReplyIdentifier((ipHeader + reply)[...], raw: true) == 0x1234)
        #expect(ICMPEchoPinger.echoReplyIdentifier(reply[...], raw: false) == 0x1234)
        // Our own request (seen on loopback), another ICMP type, an IPv6 or truncated packet: nothing.
        #expect(ICMPEchoPinger.echoReplyIdentifier((ipHeader + request)[...], raw: true) == nil)
        var unreachable = reply
        unreachable[0] = 3
        #expect(ICMPEchoPinger.echoReplyIdentifier(unreachable[...], raw: false) == nil)
        #expect(ICMPEchoPinger.echoReplyIdentifier(([0x65] + ipHeader.dropFirst() + reply)[...], raw: true) == nil)
        for cut in 0..<(ipHeader.count + 8) {
            #expect(ICMPEchoPinger.echoReplyIdentifier((ipHeader + reply).prefix(cut), raw: true) == nil)
        }
        #expect(ICMPEchoPinger.echoReplyIdentifier([0x4F][...], raw: true) == nil)
    }

    @Test(.enabled(if: ScanLabNamespace.available))
    func aNamespaceIsRefusedForProfilesWithSafeProbes() async throws {
        var tuning = ScanTestNet.tuning()
        tuning.networkNamespace = "/run/netns/nonexistent"
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: tuning)
        await #expect(throws: AgentError.config) {
            _ = try await scanner.scan(config: ScanConfig(scope: ["198.18.0.1"]))
        }
        // A namespace that cannot be joined sends nothing at all.
        let recorder = ScanConnectRecorder()
        let engineScanner = Scanner(logger: ScanTestNet.logger(), tuning: tuning, observer: recorder.observer)
        await #expect(throws: AgentError.config) {
            _ = try await engineScanner.scan(config: ScanConfig(scope: ["198.18.0.1"], profile: "ports"))
        }
        #expect(recorder.all.isEmpty)
    }
}
