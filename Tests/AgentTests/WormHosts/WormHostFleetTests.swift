import CordonCodecs
import CordonWormHosts
import Foundation
import Synchronization
import Testing

/// The simulated hosts over real sockets on 127.77.x.y, checked with the codecs' client state
/// machines. Binding 445, 139, 135, 80, 137 and 69 needs root.
@Suite(.enabled(if: WormHostTesting.isRoot, "the simulated hosts bind ports below 1024: run as root"))
struct WormHostFleetTests {
    @Test(arguments: Array(WormHostProfile.presets.enumerated()))
    func everyPresetAnswersAsItsExpectedFindingsSay(_ item: (offset: Int, element: WormHostProfile)) async throws {
        let net = WormLoopbackBlock(block: UInt8(100 + item.offset))
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: item.element)], logger: WormHostTesting.logger())
        let found = WormLiveProbe.findings(net.string(1))
        await fleet.stop()
        #expect(found == item.element.expectedFindings, "\(item.element.name)")
    }

    @Test func wannaCryHostLooksUnpatchedAndImplanted() async throws {
        let net = WormLoopbackBlock(block: 1)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .wannaCry)], logger: WormHostTesting.logger())
        defer { fleet.initiateStop() }
        let result = WormLiveProbe.smb(net.string(1))
        #expect(result.smb1 == .enabled(dialect: "NT LM 0.12"))
        #expect(result.nullSession == .allowed(guest: false))
        guard case .vulnerable(let status) = result.ms17010 else { Issue.record("ms17010: \(result.ms17010)"); return }
        #expect(status == .insufficientServerResources)
        guard case .present(let mid, _) = result.doublePulsar else { Issue.record("doublePulsar: \(result.doublePulsar)"); return }
        #expect(mid == 81)
        #expect(result.smb2Dialect == 0x0210)
        #expect(result.ntlm?.netBIOSComputerName == "WIN7WCRY")
        // Over NetBIOS on 139, with the session request first; and the legacy null session.
        let overNetBIOS = WormLiveProbe.smb(net.string(1), port: 139, transport: .netBIOS(calledNames: [.anySMBServer]), securityMode: .legacy)
        #expect(overNetBIOS.nullSession == .allowed(guest: false))
        if case .vulnerable = overNetBIOS.ms17010 {} else { Issue.record("139: \(overNetBIOS.ms17010)") }
        await fleet.stop()
    }

    @Test func patchedHostRefusesSMB1AndRequiresSigning() async throws {
        let net = WormLoopbackBlock(block: 2)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .patched)], logger: WormHostTesting.logger())
        let result = WormLiveProbe.smb(net.string(1))
        await fleet.stop()
        guard case .disabled = result.smb1 else { Issue.record("smb1: \(result.smb1)"); return }
        #expect(result.smb2Dialect == 0x0311)
        #expect(result.signingRequired == true)
        if case .allowed = result.nullSession { Issue.record("null session allowed on the patched host") }
    }

    @Test func iisAnswersLikeCodeRedII() async throws {
        let net = WormLoopbackBlock(block: 3)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .codeRed),
                                                   WormHostSpec(address: net.address(2), profile: .iis5)], logger: WormHostTesting.logger())
        let infected = WormLiveProbe.http(net.string(1))
        let clean = WormLiveProbe.http(net.string(2))
        // A head that never ends: at 16 KiB, a 400 and the connection is closed.
        let endless = try WormTestSocket.connect(net.string(1), 80)
        _ = endless.send(Array("GET / HTTP/1.1\r\nX: ".utf8) + Array(repeating: 0x41, count: 20_000))
        let (answer, closed) = endless.readAll(timeout: 2)
        #expect(closed && String(decoding: answer.prefix(12), as: UTF8.self) == "HTTP/1.1 400")
        await fleet.stop()
        #expect(infected.serverHeader == "Microsoft-IIS/5.0" && infected.iisVersion == "5.0")
        guard case .live(let evidence) = infected.idaMapping else { Issue.record("ida: \(infected.idaMapping)"); return }
        #expect(evidence.contains("IDQ"))
        #expect(infected.rootExePresent)
        #expect(clean.iisVersion == "5.0")
        #expect(clean.idaMapping == .notFound(status: 404))
        #expect(!clean.rootExePresent)
    }

    @Test func blasterHostHasRPCShellAndTFTP() async throws {
        let net = WormLoopbackBlock(block: 4)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .blaster)], logger: WormHostTesting.logger())
        let rpc = WormLiveProbe.dcerpc(net.string(1))
        let shell = WormLiveProbe.banner(net.string(1), 4444)
        let tftp = WormLiveProbe.tftp(net.string(1))
        let names = WormLiveProbe.nbstat(net.string(1))
        await fleet.stop()
        guard case .msrpc(let ack) = rpc else { Issue.record("rpc: \(rpc)"); return }
        #expect(ack.accepted && ack.secondaryAddress == "135")
        #expect(shell?.kind == .windowsShell(version: "5.1.2600", prompt: "C:\\WINDOWS\\system32>"))
        #expect(tftp == .error(code: 1, message: "File not found"))
        #expect(names?.computerName == "WORMHOST")
    }

    @Test func zotobHostHasItsShellAndFTP() async throws {
        let net = WormLoopbackBlock(block: 5)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .zotob)], logger: WormHostTesting.logger())
        let shell = WormLiveProbe.banner(net.string(1), 8888)
        let ftp = WormLiveProbe.banner(net.string(1), 33333)
        let names = WormLiveProbe.nbstat(net.string(1))
        let smb = WormLiveProbe.smb(net.string(1))
        await fleet.stop()
        #expect(shell?.kind == .windowsShell(version: "5.00.2195", prompt: "C:\\WINNT\\system32>"))
        guard case .ftp(let greeting) = ftp?.kind else { Issue.record("ftp: \(String(describing: ftp))"); return }
        #expect(greeting.hasPrefix("220 "))
        #expect(names?.computerName == "W2KZOTOB" && names?.workgroup == "WORKGROUP")
        #expect(names?.macString == "02:00:7f:4d:05:01")
        #expect(smb.nullSession == .allowed(guest: false))
        guard case .patched = smb.ms17010 else { Issue.record("ms17010: \(smb.ms17010)"); return }
    }

    @Test func confickerAnswersOnItsPortsOnly() async throws {
        let net = WormLoopbackBlock(block: 6)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .conficker),
                                                   WormHostSpec(address: net.address(2), profile: .xp)], logger: WormHostTesting.logger())
        let ports = ConfickerP2P.ports(for: net.address(1), unixTime: Int64(Date().timeIntervalSince1970))
        #expect(fleet.confickerPorts(for: net.address(1)) == ports)
        #expect(fleet.confickerPorts(for: net.address(2)) == nil)
        for port in ports.tcp {
            guard case .infected(let message) = WormLiveProbe.conficker(net.string(1), port: port, transport: .tcp) else {
                Issue.record("tcp \(port) did not answer as Conficker"); continue
            }
            #expect(message.port == port)
            #expect(message.flags & ConfickerP2P.Flag.isTCP != 0)
        }
        for port in ports.udp {
            guard case .infected = WormLiveProbe.conficker(net.string(1), port: port, transport: .udp) else {
                Issue.record("udp \(port) did not answer as Conficker"); continue
            }
        }
        // The xp host does not run it: its computed ports are closed.
        let other = ConfickerP2P.ports(for: net.address(2), unixTime: Int64(Date().timeIntervalSince1970))
        #expect(throws: WormTestSocket.Failure.refused) { try WormTestSocket.connect(net.string(2), other.tcp1) }
        // A probe that is not Conficker's gets the connection closed, no answer.
        let garbage = try WormTestSocket.connect(net.string(1), ports.tcp1)
        garbage.send([0x10, 0x00] + Array(repeating: 0x41, count: 16))
        let (bytes, closed) = garbage.readAll(timeout: 2)
        #expect(bytes.isEmpty && closed)
        await fleet.stop()
    }

    @Test func confickerPortsFollowTheWeek() async throws {
        let net = WormLoopbackBlock(block: 7)
        let now = Int64(Date().timeIntervalSince1970)
        let clock = Mutex(now)
        let fleet = try await WormHostFleet.start(
            [WormHostSpec(address: net.address(1), profile: .conficker)],
            limits: WormHostLimits(confickerRecheckInterval: .milliseconds(50)), logger: WormHostTesting.logger(),
            unixTime: { clock.withLock { $0 } })
        let before = ConfickerP2P.ports(for: net.address(1), unixTime: now)
        let after = ConfickerP2P.ports(for: net.address(1), unixTime: now + 604_800)
        #expect(before.tcp1 == after.tcp1 && before.udp1 == after.udp1)
        clock.withLock { $0 += 604_800 }
        let moved = await WormHostTesting.eventually(timeout: 5) {
            fleet.confickerPorts(for: net.address(1)) == after
                && fleet.endpoints.contains { $0.transport == .tcp && $0.port == after.tcp2 }
        }
        #expect(moved)
        if case .infected = WormLiveProbe.conficker(net.string(1), port: after.tcp2, transport: .tcp) {} else {
            Issue.record("the new week's TCP port does not answer")
        }
        if case .infected = WormLiveProbe.conficker(net.string(1), port: after.udp2, transport: .udp) {} else {
            Issue.record("the new week's UDP port does not answer")
        }
        if before.tcp2 != after.tcp2 && before.tcp2 != after.tcp1 {
            #expect(throws: WormTestSocket.Failure.refused) { try WormTestSocket.connect(net.string(1), before.tcp2) }
        }
        await fleet.stop()
    }

    @Test func idleAndOversizedClientsAreCutOff() async throws {
        let net = WormLoopbackBlock(block: 8)
        let limits = WormHostLimits(idleTimeout: .milliseconds(300), maxConnectionLifetime: .seconds(2), maxBytesPerConnection: 4096)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .w2kAll)], limits: limits,
                                                  logger: WormHostTesting.logger())
        // Idle: connect, say nothing.
        for port: UInt16 in [445, 135, 80, 4444] {
            let idle = try WormTestSocket.connect(net.string(1), port)
            let start = Date()
            #expect(idle.waitForClose(timeout: 3), "port \(port) kept an idle client")
            #expect(Date().timeIntervalSince(start) < 2.5)
        }
        // Slow drip: a byte every 100 ms keeps it from being idle; the lifetime still ends it.
        let drip = try WormTestSocket.connect(net.string(1), 4444)
        let start = Date()
        var cut = false
        for _ in 0..<80 {
            guard drip.send([0x20]) else { cut = true; break }
            if drip.read(timeout: 0.1) == .closed { cut = true; break }
        }
        #expect(cut && Date().timeIntervalSince(start) < 6)
        // Oversized: more than 4 KiB to a banner port that swallows input.
        let big = try WormTestSocket.connect(net.string(1), 8888)
        _ = big.send(Array(repeating: 0x41, count: 64 * 1024))
        #expect(big.waitForClose(timeout: 2))
        // A NetBIOS header announcing 16 MiB: closed at once, nothing buffered.
        let huge = try WormTestSocket.connect(net.string(1), 445)
        huge.send([0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x53, 0x4D, 0x42])
        #expect(huge.waitForClose(timeout: 1))
        // Garbage to the endpoint mapper and an endless HTTP head.
        let rpc = try WormTestSocket.connect(net.string(1), 135)
        rpc.send(Array(repeating: 0x99, count: 64))
        #expect(rpc.waitForClose(timeout: 1))
        let web = try WormTestSocket.connect(net.string(1), 80)
        _ = web.send(Array("GET / HTTP/1.1\r\nX: ".utf8) + Array(repeating: 0x41, count: 20_000))
        #expect(web.waitForClose(timeout: 2))
        #expect(await WormHostTesting.eventually(timeout: 2) { fleet.openConnections == 0 })
        await fleet.stop()
    }

    @Test func connectionsBeyondTheLimitAreClosedAtOnce() async throws {
        let net = WormLoopbackBlock(block: 9)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .blaster)],
                                                  limits: WormHostLimits(maxConnections: 3), logger: WormHostTesting.logger())
        var held: [WormTestSocket] = []
        for _ in 0..<3 {
            let connection = try WormTestSocket.connect(net.string(1), 4444)
            guard case .data = connection.read() else { Issue.record("no banner"); return }
            held.append(connection)
        }
        #expect(fleet.openConnections == 3)
        let extra = try WormTestSocket.connect(net.string(1), 4444)
        let (bytes, closed) = extra.readAll(timeout: 2)
        #expect(bytes.isEmpty && closed)
        #expect(fleet.rejectedConnections >= 1)
        held.removeAll()
        #expect(await WormHostTesting.eventually(timeout: 2) { fleet.openConnections == 0 })
        // Room again.
        let again = try WormTestSocket.connect(net.string(1), 4444)
        guard case .data = again.read() else { Issue.record("no banner after the others left"); return }
        await fleet.stop()
    }

    @Test func udpAnswersAreRateLimited() async throws {
        let net = WormLoopbackBlock(block: 10)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .blaster)],
                                                  limits: WormHostLimits(maxDatagramRepliesPerSecond: 5), logger: WormHostTesting.logger())
        let socket = try WormTestSocket.udp(net.string(1), 69)
        for _ in 0..<50 { socket.send(TFTP.readRequest()) }
        var answers = 0
        while case .data = socket.read(timeout: 0.3) { answers += 1 }
        #expect(answers >= 1 && answers <= 15, "\(answers) answers to 50 requests at 5/s")
        // Not TFTP: no answer at all.
        let nbstat = try WormTestSocket.udp(net.string(1), 137)
        nbstat.send(Array(repeating: 0xEE, count: 60))
        try await Task.sleep(for: .milliseconds(250))
        #expect(nbstat.read(timeout: 0.3) == .timeout)
        await fleet.stop()
    }

    @Test func stopFreesThePortsAndConnections() async throws {
        let net = WormLoopbackBlock(block: 11)
        let specs = [WormHostSpec(address: net.address(1), profile: .w2kAll), WormHostSpec(address: net.address(2), profile: .conficker)]
        let fleet = try await WormHostFleet.start(specs, logger: WormHostTesting.logger())
        let open = try WormTestSocket.connect(net.string(1), 4444)
        guard case .data = open.read() else { Issue.record("no banner"); return }
        await fleet.stop()
        #expect(open.waitForClose(timeout: 1))
        // The last connection's count drops when its channel's close completes, which may
        // trail stop() by a moment on a loaded machine.
        for _ in 0..<100 where fleet.openConnections != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(fleet.endpoints.isEmpty && fleet.openConnections == 0)
        for port: UInt16 in [445, 139, 135, 80, 4444, 8888, 33333] {
            #expect(throws: WormTestSocket.Failure.refused) { try WormTestSocket.connect(net.string(1), port) }
        }
        // The same addresses and ports can be bound again at once.
        let again = try await WormHostFleet.start(specs, logger: WormHostTesting.logger())
        #expect(!again.endpoints.isEmpty)
        await again.stop()
        await fleet.stop() // twice is fine
    }

    @Test func lifetimeStopsTheFleetByItself() async throws {
        let net = WormLoopbackBlock(block: 12)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .codeRed)],
                                                  limits: WormHostLimits(lifetime: .milliseconds(300)), logger: WormHostTesting.logger())
        let start = Date()
        await fleet.waitUntilStopped()
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(fleet.isStopping)
        #expect(throws: WormTestSocket.Failure.refused) { try WormTestSocket.connect(net.string(1), 80) }
    }

    @Test func bindFailuresAreClearAndLeaveNothingBehind() async throws {
        let net = WormLoopbackBlock(block: 13)
        let first = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .blaster)], logger: WormHostTesting.logger())
        // Same address again: 135 is taken.
        await #expect(throws: WormHostError.addressInUse) {
            try await WormHostFleet.start([WormHostSpec(address: net.address(2), profile: .codeRed),
                                           WormHostSpec(address: net.address(1), profile: .blaster)], logger: WormHostTesting.logger())
        }
        // What the failed start had bound (net.address(2):80) is free again.
        #expect(throws: WormTestSocket.Failure.refused) { try WormTestSocket.connect(net.string(2), 80) }
        await first.stop()
        // Outside the allowed ranges, and twice the same address.
        await #expect(throws: WormHostError.invalidSpec) {
            try await WormHostFleet.start([WormHostSpec(address: IPv4Octets(10, 1, 2, 3), profile: .xp)], logger: WormHostTesting.logger())
        }
        await #expect(throws: WormHostError.invalidSpec) {
            try await WormHostFleet.start([WormHostSpec(address: net.address(3), profile: .xp),
                                           WormHostSpec(address: net.address(3), profile: .codeRed)], logger: WormHostTesting.logger())
        }
        // 198.18.x.y is allowed but not configured in this namespace: a clear error, no packet sent.
        await #expect(throws: WormHostError.addressNotAvailable) {
            try await WormHostFleet.start([WormHostSpec(address: IPv4Octets(198, 18, 250, 250), profile: .codeRed)], logger: WormHostTesting.logger())
        }
    }
}

extension WormHostProfile {
    /// Every TCP service at once.
    static let w2kAll = WormHostProfile.windows2000
}
