import CordonCodecs
import CordonShared
import Foundation
import Synchronization
import Testing
@testable import CordonAgent

/// Whole scans with the real `worms` profile against simulated worm-era hosts on 127.0.0.0/8.
/// Binding the profile's ports (80, 135, 139, 445, 69, 137) needs root; without it the suite skips.
@Suite(.serialized) struct ScannerLiveTests {
    /// A `now` whose Conficker ports for `address` do not collide with the profile's ports.
    func confickerWeek(for address: IPv4Address) -> (Date, ConfickerPorts) {
        var now = Date()
        let profilePorts: Set<UInt16> = Set(ScanProfile.worms.tcp.map(\.port) + ScanProfile.worms.udp.map(\.port))
        for _ in 0..<20 {
            let ports = ConfickerP2P.ports(for: address.octets, unixTime: Int64(now.timeIntervalSince1970))
            if profilePorts.isDisjoint(with: ports.tcp + ports.udp) { return (now, ports) }
            now += 7 * 86400
        }
        return (now, ConfickerP2P.ports(for: address.octets, unixTime: Int64(now.timeIntervalSince1970)))
    }

    func ids(_ host: ScannedHost?) -> Set<String> { Set(host?.findings.map(\.detectionID) ?? []) }

    @Test(.enabled(if: ScanTestNet.isRoot))
    func wormsProfileFindsWhatTheSimulatedHostsOffer() async throws {
        let (base, _) = ScanTestNet.block()
        let infected = ScanTestNet.host(base, 10)
        let modern = ScanTestNet.host(base, 20)
        let excluded = ScanTestNet.host(base, 30)
        let netbiosOnly = ScanTestNet.host(base, 40)
        let (now, p2p) = confickerWeek(for: infected)

        var tcp: [ScanTestListener] = []
        var udp: [ScanTestUDPResponder] = []
        tcp.append(try await ScanTestListener.start(infected, port: 445, .smb(.windowsXP)))
        tcp.append(try await ScanTestListener.start(infected, port: 139, .smb(.windowsXP)))
        tcp.append(try await ScanTestListener.start(infected, port: 80, .iis(SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true))))
        tcp.append(try await ScanTestListener.start(infected, port: 135, .epmap))
        tcp.append(try await ScanTestListener.start(infected, port: 4444, .banner(BannerClassifier.windowsXPShellBanner)))
        tcp.append(try await ScanTestListener.start(infected, port: 33333, .banner(Array("220 StnyFtpd 0wns j0\r\n".utf8))))
        for port in Set(p2p.tcp) { tcp.append(try await ScanTestListener.start(infected, port: port, .conficker(infected, port: port))) }
        udp.append(try await ScanTestUDPResponder.start(infected, port: 137, .nbstat(name: "XPBOX", workgroup: "LAB", mac: [0, 0x0C, 0x29, 1, 2, 3])))
        udp.append(try await ScanTestUDPResponder.start(infected, port: 69, .tftp))
        for port in Set(p2p.udp) { udp.append(try await ScanTestUDPResponder.start(infected, port: port, .conficker(infected, port: port))) }
        tcp.append(try await ScanTestListener.start(modern, port: 445, .smb(.windows10)))
        let untouchable = try await ScanTestListener.start(excluded, port: 445, .smb(.windowsXP))
        tcp.append(untouchable)
        tcp.append(try await ScanTestListener.start(netbiosOnly, port: 139, .smb(.windows2000Infected)))
        let listeners = tcp
        let responders = udp
        defer { Task { for l in listeners { await l.stop() }; for u in responders { await u.stop() } } }

        let recorder = ScanConnectRecorder()
        let progress = Mutex<[ScanProgress]>([])
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: ScanTestNet.tuning(), observer: recorder.observer)
        let config = ScanTestNet.config(["\(infected)", "\(modern)", "\(excluded)", "\(netbiosOnly)"], exclude: ["\(excluded)"])
        let report = try await scanner.scan(config: config, now: now) { p in progress.withLock { $0.append(p) } }

        #expect(report.complete)
        #expect(report.profile == "worms")
        #expect(report.addressesScanned == 3 && report.hostsDown == 0)
        #expect(report.hosts.map(\.address) == ["\(infected)", "\(modern)", "\(netbiosOnly)"])
        #expect(!recorder.addresses.contains(excluded))
        #expect(untouchable.connections == 0)
        #expect(report.stats.probesSent >= 3 * 11)
        // Where the time went: one port scan per address, the follow-ups of the live hosts, each
        // safe probe kind that ran; the stages a report lists are the ones that ran.
        let stages = Dictionary(uniqueKeysWithValues: (report.stats.stages ?? []).map { ($0.name, $0) })
        #expect(stages["port-scan"]?.count == 3)
        #expect(stages["host-follow-up"]?.count == 3)
        #expect(stages["conficker-p2p"]?.count == 3)
        for kind in ["probe:smb", "probe:http", "probe:dcerpc", "probe:banner", "probe:conficker-tcp"] {
            #expect((stages[kind]?.count ?? 0) >= 1, "\(kind) in \(stages.keys.sorted())")
        }
        #expect(stages["probe:smb"]?.count == 3, "445 on the infected host (139 is skipped where 445 answers), 445 on the modern one, 139 on the NetBIOS-only one")
        #expect(stages["probe:https"] == nil && stages["echo-wait"] == nil)
        #expect((report.stats.stages ?? []).allSatisfy { $0.totalSeconds >= 0 && $0.maxSeconds <= $0.totalSeconds + 0.001 })
        if let wall = stages["wall:ports"], let scan = stages["port-scan"] {
            #expect(wall.totalSeconds <= report.finishedAt.timeIntervalSince(report.startedAt) + 0.01 && scan.maxSeconds <= wall.totalSeconds + 0.001)
        } else {
            Issue.record("no wall:ports stage")
        }

        let host = report.hosts.first { $0.address == "\(infected)" }
        #expect(ids(host) == [
            DetectionCatalogue.wannacrySMBv1, DetectionCatalogue.wannacryMS17010, DetectionCatalogue.zotobNullSession,
            DetectionCatalogue.confickerSMB, DetectionCatalogue.codeRedIIS, DetectionCatalogue.codeRedIdaMapping,
            DetectionCatalogue.codeRedRootExe, DetectionCatalogue.blasterRPC, DetectionCatalogue.blasterShell,
            DetectionCatalogue.zotobFTP, DetectionCatalogue.blasterTFTP, DetectionCatalogue.confickerP2P,
        ])
        let p2pFindings = host?.findings.filter { $0.detectionID == DetectionCatalogue.confickerP2P } ?? []
        #expect(Set(p2pFindings.map { "\($0.proto!.rawValue)/\($0.port!)" }) == Set(p2p.tcp.map { "tcp/\($0)" } + p2p.udp.map { "udp/\($0)" }))
        #expect(host?.netbiosName == "XPBOX" && host?.workgroup == "LAB" && host?.mac == "00:0c:29:01:02:03")
        #expect(host?.osGuess == "Windows 5.1 (build 2600)")
        #expect(host?.complete == true)
        #expect(host?.reason.hasPrefix("syn-ack tcp/") == true)
        let services = Dictionary(uniqueKeysWithValues: (host?.services ?? []).map { ("\($0.port)/\($0.proto.rawValue)", $0) })
        #expect(services["445/tcp"]?.service == "microsoft-ds" && services["445/tcp"]?.state == .open)
        #expect(services["139/tcp"]?.service == "netbios-ssn")
        #expect(services["80/tcp"]?.product == "Microsoft IIS httpd" && services["80/tcp"]?.version == "5.0")
        #expect(services["135/tcp"]?.service == "msrpc")
        #expect(services["4444/tcp"]?.product == "Microsoft Windows cmd.exe")
        #expect(services["137/udp"]?.service == "netbios-ns" && services["137/udp"]?.reason == .udpResponse)
        #expect(services["69/udp"]?.service == "tftp")
        #expect(services["443/tcp"] == nil) // closed ports are not listed

        let win10 = report.hosts.first { $0.address == "\(modern)" }
        #expect(ids(win10) == [DetectionCatalogue.confickerSMB])
        #expect(win10?.osGuess == "Windows 10.0 (build 19041)" && win10?.netbiosName == "WIN10PC")
        #expect(win10?.reason == "syn-ack tcp/445")

        // SMB over NetBIOS only (139): the same checks, reported on 139.
        let w2k = report.hosts.first { $0.address == "\(netbiosOnly)" }
        #expect(ids(w2k).isSuperset(of: [DetectionCatalogue.wannacryMS17010, DetectionCatalogue.wannacryDoublePulsar, DetectionCatalogue.wannacrySMBv1]))
        #expect(w2k?.findings.allSatisfy { $0.detectionID == DetectionCatalogue.confickerP2P || $0.port == 139 } == true)

        let reports = progress.withLock { $0 }
        #expect(reports.last?.addressesDone == 3 && reports.last?.addressesTotal == 3)
        #expect(reports.last?.fraction == 1)
        // The JSON a program reads round-trips.
        let decoded = try CordonJSON.decode(ScanReport.self, from: try CordonJSON.encode(report))
        #expect(decoded.hosts == report.hosts && decoded.stats == report.stats && decoded.complete == report.complete)
    }

    @Test func quickProfileOverAWholeBlock() async throws {
        // Closed everywhere: every address is up (RST), nothing listed but the hosts.
        let (base, cidr) = ScanTestNet.block()
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: ScanTestNet.tuning())
        var config = ScanTestNet.config([cidr])
        config.profile = "quick"
        let report = try await scanner.scan(config: config)
        // Every address of the CIDR, its first and last too (a /24 of loopback answers on all 256).
        #expect(report.complete && report.addressesScanned == 256 && report.hosts.count == 256 && report.hostsDown == 0)
        #expect(report.hosts.allSatisfy { $0.services.isEmpty && $0.findings.isEmpty && $0.reason == "conn-refused tcp/445" && $0.complete })
        #expect(report.hosts.first?.address == "\(ScanTestNet.host(base, 0))")
        #expect(report.hosts.last?.address == "\(ScanTestNet.host(base, 255))")
        #expect(report.stats.probesSent == 256 && report.stats.timeouts == 0)
        #expect(report.stats.skippedAddresses == nil)

        // Told the CIDR is a whole subnet: the network and broadcast addresses are left out,
        // and the report lists them.
        config.skipNetworkAndBroadcast = true
        let subnet = try await scanner.scan(config: config)
        #expect(subnet.complete && subnet.addressesScanned == 254 && subnet.hosts.count == 254)
        #expect(subnet.hosts.first?.address == "\(ScanTestNet.host(base, 1))")
        #expect(subnet.stats.skippedAddresses == ["\(ScanTestNet.host(base, 0))", "\(ScanTestNet.host(base, 255))"])
        #expect(ScanCommand.render(subnet).contains("Skipped as network/broadcast addresses (--skip-network-broadcast): \(ScanTestNet.host(base, 0)), \(ScanTestNet.host(base, 255))"))
        let decoded = try CordonJSON.decode(ScanReport.self, from: try CordonJSON.encode(subnet))
        #expect(decoded.stats == subnet.stats)
    }

    @Test func cancellationReturnsAPartialReport() async throws {
        let (base, _) = ScanTestNet.block()
        let cidr = "\(IPv4Address(base.value & 0xFFFF_FC00))/22"
        // Slow on purpose: 50 connects per second.
        var config = ScanTestNet.config([cidr])
        config.rate = 50
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: ScanTestNet.tuning())
        let clock = ContinuousClock()
        let start = clock.now
        // A child task so that it can be cancelled; the test awaits it right away.
        let task = Task { try await scanner.scan(config: config) }
        try await Task.sleep(for: .milliseconds(400))
        task.cancel()
        let report = try await task.value
        #expect(clock.now - start < .seconds(3))
        #expect(!report.complete)
        #expect(report.addressesScanned < 1022)
    }

    @Test func deadlineStopsTheScan() async throws {
        let (base, _) = ScanTestNet.block()
        var config = ScanTestNet.config(["\(IPv4Address(base.value & 0xFFFF_FC00))/22"])
        config.rate = 50
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: ScanTestNet.tuning())
        let clock = ContinuousClock()
        let start = clock.now
        let report = try await scanner.scan(config: config, deadline: .milliseconds(300))
        #expect(clock.now - start < .seconds(3))
        #expect(!report.complete)
        #expect(report.stats.probesSent < 1022 * 11)
    }

    @Test func badConfigsAreRefusedBeforeAnythingIsSent() async throws {
        let recorder = ScanConnectRecorder()
        let scanner = Scanner(logger: ScanTestNet.logger(), observer: recorder.observer)
        var unknown = ScanTestNet.config(["127.0.0.1"])
        unknown.profile = "everything"
        await #expect(throws: AgentError.config) { _ = try await scanner.scan(config: unknown) }
        await #expect(throws: AgentError.config) { _ = try await scanner.scan(config: ScanTestNet.config(["127.0.0.0/8"])) }
        await #expect(throws: AgentError.config) { _ = try await scanner.scan(config: ScanTestNet.config(["::1"])) }
        var badRate = ScanTestNet.config(["127.0.0.1"])
        badRate.rate = 0
        await #expect(throws: AgentError.config) { _ = try await scanner.scan(config: badRate) }
        #expect(recorder.all.isEmpty)
        // An empty scope scans nothing, and says so.
        let empty = try await scanner.scan(config: ScanTestNet.config([]))
        #expect(empty.complete && empty.addressesScanned == 0 && empty.hosts.isEmpty && empty.stats.probesSent == 0)
    }
}
