import CordonCodecs
import CordonShared
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import X509
import Crypto
import Synchronization
import Testing
@testable import CordonAgent

#if canImport(Glibc)
import Glibc
#endif

/// Test helpers of the scanner: loopback addresses, NIO listeners that play worm-era hosts with
/// the codecs' server-side builders, an in-memory transport, and a connect recorder.
enum ScanTestNet {
    /// A fresh 127.x.y.0/24 block, unlikely to collide with other suites running at the same time.
    static func block() -> (base: IPv4Address, cidr: String) {
        let x = UInt8.random(in: 100...199)
        let y = UInt8.random(in: 1...254)
        return (IPv4Address(127, x, y, 0), "127.\(x).\(y).0/24")
    }

    static func host(_ base: IPv4Address, _ last: UInt8) -> IPv4Address { IPv4Address(base.value | UInt32(last)) }

    static var isRoot: Bool { getuid() == 0 }

    static func logger() -> Logger {
        var logger = Logger(label: "cordon.test.scan")
        logger.logLevel = .critical
        return logger
    }

    /// Short timings so that live tests end in seconds.
    static func tuning(step: Duration = .milliseconds(800), deadline: Duration = .seconds(4)) -> ScanTuning {
        var t = ScanTuning()
        t.serviceLimits = ProbeDriver.Limits(connectTimeout: .seconds(1), stepTimeout: step, deadline: deadline)
        t.minimumUDPWait = .milliseconds(150)
        t.progressInterval = .milliseconds(50)
        return t
    }

    static func config(_ scope: [String], exclude: [String] = [], retries: Int = 0, timeout: Double = 0.3) -> ScanConfig {
        ScanConfig(scope: scope, exclude: exclude, profile: "worms", rate: 20_000, concurrency: 512,
                   timeout: ConfigDuration(seconds: timeout), retries: retries)
    }
}

/// Records every target that passed the scope gate.
final class ScanConnectRecorder: Sendable {
    private let targets = Mutex<[(IPv4Address, UInt16, TransportProtocol)]>([])

    var observer: ScopeGate.Observer {
        { address, port, proto in self.targets.withLock { $0.append((address, port, proto)) } }
    }

    var all: [(IPv4Address, UInt16, TransportProtocol)] { targets.withLock { $0 } }
    var addresses: Set<IPv4Address> { Set(all.map(\.0)) }
}

// MARK: - Listeners

/// What an in-test TCP listener does with each connection.
enum ScanTestBehaviour: Sendable {
    /// Accept and never say anything.
    case silent
    /// One byte every `interval`, at most `count` bytes.
    case trickle(interval: TimeAmount, count: Int)
    /// Send `bytes` bytes as fast as possible, then close.
    case flood(bytes: Int)
    /// Say `banner` on connect and keep the connection open.
    case banner([UInt8])
    /// A simulated SMB host.
    case smb(SimulatedSMBProfile)
    /// A simulated IIS: one response per connection, then close.
    case iis(SimulatedIIS)
    /// An endpoint mapper: bind_ack to a bind.
    case epmap
    /// An infected Conficker.C peer on `address`: a valid reply to the P2P probe.
    case conficker(IPv4Address, port: UInt16)
}

final class ScanTestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let behaviour: ScanTestBehaviour
    private var smb: SimulatedSMBServer?
    private var input: [UInt8] = []
    private var done = false
    private var sent = 0

    init(_ behaviour: ScanTestBehaviour) {
        self.behaviour = behaviour
        if case .smb(let profile) = behaviour { smb = SimulatedSMBServer(profile: profile) }
    }

    private func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func trickle(_ context: ChannelHandlerContext, interval: TimeAmount, count: Int) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: interval) {
            let (handler, context) = bound.value
            guard handler.sent < count, context.channel.isActive else { return }
            handler.sent += 1
            handler.write(context, [UInt8(ascii: "x")])
            handler.trickle(context, interval: interval, count: count)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        switch behaviour {
        case .banner(let bytes):
            write(context, bytes)
        case .trickle(let interval, let count):
            trickle(context, interval: interval, count: count)
        case .flood(let total):
            let chunk = [UInt8](repeating: 0x41, count: 64 * 1024)
            var left = total
            while left > 0 {
                let n = min(left, chunk.count)
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: chunk.prefix(n))), promise: nil)
                left -= n
            }
            context.flush()
        default:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        switch behaviour {
        case .smb:
            guard var server = smb else { return }
            for action in server.receive(bytes) {
                switch action {
                case .send(let reply): write(context, reply)
                case .close: context.close(promise: nil)
                case .none: break
                }
            }
            smb = server
        case .iis(let iis):
            input += bytes
            if !done, input.count > 16 * 1024 || scanContains("\r\n\r\n", in: input) {
                done = true
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: iis.response(to: input))))
                    .whenComplete { _ in channel.close(promise: nil) }
            }
        case .epmap:
            input += bytes
            if !done, let length = try? DCERPC.pduLength(input), input.count >= length {
                done = true
                let callID = (try? DCERPC.parseBindRequest(Array(input.prefix(length))).callID) ?? 1
                write(context, DCERPC.makeBindAck(callID: callID))
            }
        case .conficker(let address, let port):
            input += bytes
            if !done, input.count >= 2, input.count >= 2 + (Int(input[0]) | Int(input[1]) << 8) {
                done = true
                write(context, ConfickerP2P.makeReply(address: address.octets, port: port, key1: 0x1234_5678, key2: 0x0BAD_F00D,
                                                      noise: [1, 2, 3], transport: .tcp))
            }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A TCP listener on a loopback address, one handler per connection; counts connections.
final class ScanTestListener: Sendable {
    let channel: any Channel
    let port: UInt16
    private let counter: ScanCounterBox

    private init(channel: any Channel, port: UInt16, counter: ScanCounterBox) {
        self.channel = channel
        self.port = port
        self.counter = counter
    }

    /// With `tls`, the behaviour runs under TLS (HTTPS on 443).
    static func start(_ address: IPv4Address, port: UInt16 = 0, _ behaviour: ScanTestBehaviour,
                      tls: NIOSSLContext? = nil) async throws -> ScanTestListener {
        let counter = ScanCounterBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counter.increment()
                return child.eventLoop.makeCompletedFuture {
                    if let tls { try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try child.pipeline.syncOperations.addHandler(ScanTestHandler(behaviour))
                }
            }
            .bind(host: address.description, port: Int(port)).get()
        return ScanTestListener(channel: channel, port: UInt16(channel.localAddress?.port ?? 0), counter: counter)
    }

    var connections: Int { counter.value }

    func stop() async {
        try? await channel.close()
    }
}

/// A TLS server context with a throwaway certificate, as a worm-era web server would have one
/// that nobody checks.
enum ScanTestTLS {
    static func serverContext(for address: IPv4Address) throws -> NIOSSLContext {
        let ca = try CertificateAuthority.create(commonName: "scan test")
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issueServerCertificate(for: Certificate.PublicKey(key.publicKey), names: [address.description])
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(try certificate.serializeAsPEM().pemString.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }
}

final class ScanCounterBox: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// A UDP responder on a loopback address.
final class ScanTestUDPResponder: Sendable {
    enum Kind: Sendable {
        case nbstat(name: String, workgroup: String, mac: [UInt8])
        case tftp
        case conficker(IPv4Address, port: UInt16)
    }

    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let kind: Kind
        init(_ kind: Kind) { self.kind = kind }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            var payload = envelope.data
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            let reply: [UInt8]
            switch kind {
            case .nbstat(let name, let workgroup, let mac):
                guard bytes.count >= 2 else { return }
                let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
                reply = NBStat.makeResponse(transactionID: id, names: [
                    .init(name: NetBIOSName(name: name, suffix: 0x00), flags: 0x0400),
                    .init(name: NetBIOSName(name: name, suffix: 0x20), flags: 0x0400),
                    .init(name: NetBIOSName(name: workgroup, suffix: 0x00), flags: 0x8400),
                ], macAddress: mac)
            case .tftp:
                reply = TFTP.makeError()
            case .conficker(let address, let port):
                reply = ConfickerP2P.makeReply(address: address.octets, port: port, key1: 77, key2: 99, transport: .udp)
            }
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                                                    data: context.channel.allocator.buffer(bytes: reply))), promise: nil)
        }
    }

    static func start(_ address: IPv4Address, port: UInt16, _ kind: Kind) async throws -> ScanTestUDPResponder {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(kind)) }
            }
            .bind(host: address.description, port: Int(port)).get()
        return ScanTestUDPResponder(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

// MARK: - In-memory transport (simulated servers, no sockets)

/// Connections answered by the codecs' server-side state machines, in memory.
struct ScanMemoryTransport: StreamTransport {
    enum Server: Sendable {
        case smb(SimulatedSMBProfile)
        case iis(SimulatedIIS)
        case banner([UInt8])
        case epmap
        case refuse
    }

    let server: Server

    func connect(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)? {
        if case .refuse = server { return nil }
        return ScanMemoryConnection(server: server)
    }
}

final class ScanMemoryConnection: StreamConnection, @unchecked Sendable {
    private let lock = NSLock()
    private var smb: SimulatedSMBServer?
    private let server: ScanMemoryTransport.Server
    private var pending: [[UInt8]] = []
    private var closed = false
    private var request: [UInt8] = []

    init(server: ScanMemoryTransport.Server) {
        self.server = server
        if case .smb(let profile) = server { smb = SimulatedSMBServer(profile: profile) }
        if case .banner(let bytes) = server { pending.append(bytes) }
    }

    func send(_ bytes: [UInt8]) {
        lock.withLock { handle(bytes) }
    }

    private func handle(_ bytes: [UInt8]) {
        switch server {
        case .smb:
            guard var s = smb else { return }
            for action in s.receive(bytes) {
                switch action {
                case .send(let reply): pending.append(reply)
                case .close: closed = true
                case .none: break
                }
            }
            smb = s
        case .iis(let iis):
            request += bytes
            if scanContains("\r\n\r\n", in: request) {
                pending.append(iis.response(to: request))
                closed = true
            }
        case .epmap:
            pending.append(DCERPC.makeBindAck(callID: (try? DCERPC.parseBindRequest(bytes).callID) ?? 1))
        case .banner, .refuse:
            break
        }
    }

    func read(timeout: Duration) async -> StreamRead {
        lock.withLock { next() }
    }

    private func next() -> StreamRead {
        if !pending.isEmpty {
            // Deliver in small pieces to exercise reassembly.
            var first = pending.removeFirst()
            if first.count > 7 {
                pending.insert(Array(first.dropFirst(7)), at: 0)
                first = Array(first.prefix(7))
            }
            return .bytes(first)
        }
        return closed ? .closed : .timedOut
    }

    func close() {
        lock.withLock { closed = true }
    }
}

func scanContains(_ needle: String, in haystack: [UInt8]) -> Bool {
    let n = Array(needle.utf8)
    guard !n.isEmpty, haystack.count >= n.count else { return false }
    for i in 0...(haystack.count - n.count) where haystack[i] == n[0] && Array(haystack[i..<(i + n.count)]) == n { return true }
    return false
}
