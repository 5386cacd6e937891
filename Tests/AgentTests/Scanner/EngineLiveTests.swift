import CordonCodecs
import CordonShared
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import CordonAgent

/// The connect engine and the bounded probe connections against listeners on 127.0.0.0/8.
@Suite(.serialized) struct ScanEngineLiveTests {
    func engine(_ scope: Scope, recorder: ScanConnectRecorder? = nil, retries: Int = 0,
                timeout: Duration = .milliseconds(300)) -> PortScanEngine {
        PortScanEngine(gate: ScopeGate(scope: scope, observer: recorder?.observer),
                       settings: .init(concurrency: 256, rate: 50_000, retries: retries, initialTimeout: timeout,
                                       minimumUDPWait: .milliseconds(150)))
    }

    @Test func openClosedAndUDPStates() async throws {
        let (base, cidr) = ScanTestNet.block()
        let host = ScanTestNet.host(base, 10)
        let listener = try await ScanTestListener.start(host, .silent)
        let udp = try await ScanTestUDPResponder.start(host, port: 0, .tftp)
        defer { Task { await listener.stop(); await udp.stop() } }
        let udpPort = UInt16(udp.channel.localAddress!.port!)
        let engine = engine(try Scope(scope: [cidr]))
        let closedUDP = UInt16.random(in: 40_000...49_999)
        let outcomes = await engine.scan(host, probes: [
            .tcp(listener.port), .tcp(1), .udp(udpPort, payload: TFTP.readRequest()), .udp(closedUDP, payload: [1, 2, 3]),
        ])
        await engine.shutdown()
        let stats = engine.statistics
        #expect(outcomes[0].state == .open && outcomes[0].reason == .connected)
        #expect(outcomes[1].state == .closed && outcomes[1].reason == .refused)
        #expect(outcomes[2].state == .open && outcomes[2].reason == .udpResponse)
        #expect(outcomes[2].reply.map(TFTP.parseReply) == .error(code: 1, message: "File not found"))
        #expect(outcomes[3].state == .closed && outcomes[3].reason == .portUnreachable)
        #expect(outcomes.allSatisfy { $0.hostAnswered && $0.rtt != nil })
        #expect(stats.probesSent == 4 && stats.timeouts == 0 && stats.inFlight == 0)
    }

    /// A TFTP server answers a read request from a new port (RFC 1350; tftpd-hpa and Windows do):
    /// the reply counts, as any reply from the probed address does. A datagram from another
    /// address does not.
    @Test func aUDPReplyFromAnotherPortOfTheProbedHostCounts() async throws {
        let (base, cidr) = ScanTestNet.block()
        let host = ScanTestNet.host(base, 12)
        @Sendable func boundSocket(_ address: IPv4Address) throws -> (Int32, UInt16) {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr = in_addr(s_addr: address.value.bigEndian)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard fd >= 0, ok else { throw AgentError.state("bind \(address): errno \(errno)") }
            return (fd, UInt16(bigEndian: local.sin_port))
        }
        let (server, port) = try boundSocket(host)
        var wait = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let error: [UInt8] = [0, 5, 0, 1] + Array("File not found".utf8) + [0]
        let responder = Thread {
            var buffer = [UInt8](repeating: 0, count: 512)
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(server, &buffer, buffer.count, 0, $0, &length) }
            }
            guard n > 0 else { return }
            // First a datagram from another address to the prober's port (ignored), then the
            // answer from a fresh port of the probed host.
            if let (stray, _) = try? boundSocket(ScanTestNet.host(base, 13)) {
                _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(stray, [9, 9], 2, 0, $0, length) } }
                close(stray)
            }
            usleep(20_000)
            guard let (fresh, _) = try? boundSocket(host) else { return }
            _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fresh, error, error.count, 0, $0, length) } }
            close(fresh)
        }
        responder.start()
        defer { close(server) }
        let engine = engine(try Scope(scope: [cidr]), timeout: .milliseconds(1500))
        let outcomes = await engine.scan(host, probes: [.udp(port, payload: TFTP.readRequest())])
        await engine.shutdown()
        #expect(outcomes[0].state == .open && outcomes[0].reason == .udpResponse, "\(outcomes[0])")
        #expect(outcomes[0].reply.map(TFTP.parseReply) == .error(code: 1, message: "File not found"))
        #expect(engine.statistics.strayDatagrams == 1, "the datagram from another address was ignored")
    }

    /// Sockets of the whole host (any process) with an end in `block`, from /proc/net, but listeners.
    static func sockets(in block: IPv4Address) -> [String] {
        var found: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/udp"] {
            // Read to EOF with read(2): String(contentsOfFile:) stops after the first 4 KiB of a
            // /proc file (about 27 sockets), which hid connections on a busy machine.
            let fd = open(table, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { break }
                bytes += chunk.prefix(n)
            }
            close(fd)
            let text = String(decoding: bytes, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3 else { continue }
                let ends = [fields[1], fields[2]].compactMap { end -> UInt32? in
                    guard let hex = end.split(separator: ":").first, let raw = UInt32(hex, radix: 16) else { return nil }
                    return UInt32(bigEndian: raw) // the __be32 printed as a host-order number
                }
                let inBlock = ends.contains { $0 & 0xFFFF_FF00 == block.value }
                let listening = table.hasSuffix("tcp") && fields[3] == "0A"
                let unconnectedUDP = table.hasSuffix("udp") && fields[2].hasPrefix("00000000")
                if inBlock, !listening, !unconnectedUDP { found.append("\(table) \(line)") }
            }
        }
        return found
    }

    @Test func everySocketIsClosed() async throws {
        let (base, cidr) = ScanTestNet.block()
        let listener = try await ScanTestListener.start(ScanTestNet.host(base, 7), .silent)
        defer { Task { await listener.stop() } }
        // The check sees a connection that is left open.
        let transport = NIOStreamTransport(group: MultiThreadedEventLoopGroup.singleton, gate: ScopeGate(scope: try Scope(scope: [cidr])))
        let held = try #require(await transport.connect(to: ScanTestNet.host(base, 7), port: listener.port, timeout: .seconds(1)))
        #expect(!Self.sockets(in: base).isEmpty)
        held.close()
        try await Task.sleep(for: .milliseconds(100))
        #expect(Self.sockets(in: base) == [])
        let engine = engine(try Scope(scope: [cidr]))
        let ports: [PortProbe] = [.tcp(listener.port), .tcp(1), .tcp(2), .udp(UInt16.random(in: 40_000...49_999), payload: [0])]
        await withTaskGroup(of: Void.self) { group in
            for address in try! Scope(scope: [cidr]).addresses {
                group.addTask { _ = await engine.scan(address, probes: ports) }
            }
        }
        await engine.shutdown()
        let stats = engine.statistics
        #expect(stats.probesSent == 256 * 4 && stats.inFlight == 0)
        // (The scan's connect may be reset while still in the accept queue: not counted.)
        #expect(listener.connections >= 1)
        // The open port was closed with a reset: nothing is left in TIME_WAIT or established,
        // on either side, for any address of this block.
        try await Task.sleep(for: .milliseconds(200))
        #expect(Self.sockets(in: base) == [])
    }

    @Test func theGateStopsAddressesOutsideTheScope() async throws {
        let recorder = ScanConnectRecorder()
        let (base, cidr) = ScanTestNet.block()
        let inside = ScanTestNet.host(base, 1)
        let outside = IPv4Address(base.value &+ 256 + 1) // the next /24
        let engine = engine(try Scope(scope: [cidr], exclude: ["\(ScanTestNet.host(base, 2))"]), recorder: recorder)
        let a = await engine.scan(inside, probes: [.tcp(1)])
        let b = await engine.scan(outside, probes: [.tcp(1), .udp(137, payload: NBStat.query())])
        let c = await engine.scan(ScanTestNet.host(base, 2), probes: [.tcp(1)])
        await engine.shutdown()
        let stats = engine.statistics
        #expect(a[0].state == .closed)
        #expect(b.allSatisfy { !$0.hostAnswered } && c.allSatisfy { !$0.hostAnswered })
        #expect(stats.outOfScope == 3)
        #expect(recorder.addresses == [inside])
    }

    @Test func stopReturnsPendingScansAtOnce() async throws {
        let (base, cidr) = ScanTestNet.block()
        let engine = PortScanEngine(gate: ScopeGate(scope: try Scope(scope: [cidr])),
                                    settings: .init(concurrency: 4, rate: 5, retries: 0, initialTimeout: .seconds(1)))
        let clock = ContinuousClock()
        let start = clock.now
        async let outcomes = engine.scan(ScanTestNet.host(base, 3), probes: (1...50).map { PortProbe.tcp(UInt16($0)) })
        try await Task.sleep(for: .milliseconds(300))
        engine.stop()
        let result = await outcomes
        await engine.shutdown()
        #expect(clock.now - start < .seconds(2))
        #expect(result.contains { !$0.finished })
        #expect(result.filter(\.finished).count < 50)
    }

    // MARK: - Bounded probe connections

    func driver(_ cidr: String, step: Duration, deadline: Duration, maxBytes: Int = 64 * 1024) throws -> ProbeDriver {
        let gate = ScopeGate(scope: try Scope(scope: [cidr]))
        return ProbeDriver(transport: NIOStreamTransport(group: MultiThreadedEventLoopGroup.singleton, gate: gate, maxBytes: maxBytes),
                           limits: .init(connectTimeout: .seconds(1), stepTimeout: step, deadline: deadline))
    }

    @Test func aHostThatNeverSpeaksIsCutAtTheStepTimeout() async throws {
        let (base, cidr) = ScanTestNet.block()
        let host = ScanTestNet.host(base, 4)
        let listener = try await ScanTestListener.start(host, .silent)
        defer { Task { await listener.stop() } }
        let clock = ContinuousClock()
        let start = clock.now
        let run = try await driver(cidr, step: .milliseconds(300), deadline: .seconds(5)).run(BannerStreamProbe(), address: host, port: listener.port)
        let elapsed = clock.now - start
        #expect(run.finished && run.output == [])
        #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(2))
        // A DCE/RPC bind to it ends the same way: no answer, no finding.
        let rpc = try await driver(cidr, step: .milliseconds(300), deadline: .seconds(5)).run(DCERPCStreamProbe(), address: host, port: listener.port)
        #expect(rpc.output == .noAnswer(reason: "timeout"))
    }

    @Test func aTricklingHostIsCutAtTheDeadline() async throws {
        let (base, cidr) = ScanTestNet.block()
        let host = ScanTestNet.host(base, 5)
        // A byte every 50 ms for 30 s: each read succeeds, only the deadline ends it.
        let listener = try await ScanTestListener.start(host, .trickle(interval: .milliseconds(50), count: 600))
        defer { Task { await listener.stop() } }
        let clock = ContinuousClock()
        let start = clock.now
        let run = try await driver(cidr, step: .seconds(1), deadline: .milliseconds(800)).run(BannerStreamProbe(), address: host, port: listener.port)
        let elapsed = clock.now - start
        #expect(run.hitDeadline)
        #expect(elapsed < .milliseconds(1500))
        #expect((run.output ?? []).count < 40)
        // The SMB probe (several connections) is cut by the same deadline.
        let smbStart = clock.now
        let smb = try await driver(cidr, step: .seconds(1), deadline: .milliseconds(800))
            .run(SMBStreamProbe(options: SMBProbeOptions(host: host.description)), address: host, port: listener.port)
        #expect(clock.now - smbStart < .milliseconds(1500))
        #expect(FindingMapper.smb(smb.output, port: listener.port).findings.isEmpty)
    }

    @Test func aFloodIsReadOnlyUpToTheLimit() async throws {
        let (base, cidr) = ScanTestNet.block()
        let host = ScanTestNet.host(base, 6)
        let listener = try await ScanTestListener.start(host, .flood(bytes: 10 * 1024 * 1024))
        defer { Task { await listener.stop() } }
        let transport = NIOStreamTransport(group: MultiThreadedEventLoopGroup.singleton, gate: ScopeGate(scope: try Scope(scope: [cidr])),
                                           maxBytes: 64 * 1024)
        let connection = try #require(await transport.connect(to: host, port: listener.port, timeout: .seconds(1)))
        var total = 0
        var closed = false
        for _ in 0..<1000 {
            switch await connection.read(timeout: .seconds(1)) {
            case .bytes(let b): total += b.count
            case .closed: closed = true
            case .timedOut: break
            }
            if closed { break }
        }
        connection.close()
        #expect(closed)
        #expect(total == 64 * 1024)
        // Through the driver, the banner probe keeps at most its own limit.
        let run = try await driver(cidr, step: .seconds(1), deadline: .seconds(3)).run(BannerStreamProbe(), address: host, port: listener.port)
        #expect(run.finished && (run.output?.count ?? 0) == BannerClassifier.maxBannerBytes)
    }

    @Test func theTransportRefusesAddressesOutsideTheScope() async throws {
        let recorder = ScanConnectRecorder()
        let (base, cidr) = ScanTestNet.block()
        let outside = IPv4Address(base.value &+ 256 + 9)
        let listener = try await ScanTestListener.start(outside, .silent)
        defer { Task { await listener.stop() } }
        let transport = NIOStreamTransport(group: MultiThreadedEventLoopGroup.singleton,
                                           gate: ScopeGate(scope: try Scope(scope: [cidr]), observer: recorder.observer))
        let connection = await transport.connect(to: outside, port: listener.port, timeout: .seconds(1))
        #expect(connection == nil)
        #expect(recorder.all.isEmpty)
        #expect(listener.connections == 0)
    }
}
