import CordonShared
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one bounded read of a probe connection gave.
public enum StreamRead: Sendable, Equatable {
    case bytes([UInt8])
    /// The peer closed or reset, or the connection hit its byte limit and was cut.
    case closed
    case timedOut
}

/// A TCP connection a safe probe talks over. Every read is bounded in time by its caller and in
/// bytes by the connection.
public protocol StreamConnection: AnyObject, Sendable {
    func send(_ bytes: [UInt8])
    func read(timeout: Duration) async -> StreamRead
    func close()
}

/// Opens connections for safe probes (behind the scope gate).
public protocol StreamTransport: Sendable {
    /// Nil when the connect failed (refused, unreachable, timed out, out of scope).
    func connect(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)?
    /// The same with TLS under the probe (HTTPS on 443): the probe still reads and writes
    /// plaintext. Nil also when the handshake fails or does not finish within `timeout`.
    func connectTLS(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)?
}

extension StreamTransport {
    /// A transport without TLS opens no TLS connections.
    public func connectTLS(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)? { nil }
}

/// The SwiftNIO transport: one channel per connection, at most `maxBytes` read from a host per
/// connection (then it is cut off), every read with a deadline.
public struct NIOStreamTransport: StreamTransport {
    public let group: any EventLoopGroup
    public let gate: ScopeGate
    public let maxBytes: Int

    public init(group: any EventLoopGroup, gate: ScopeGate, maxBytes: Int = 256 * 1024) {
        self.group = group
        self.gate = gate
        self.maxBytes = max(1, maxBytes)
    }

    public func connect(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)? {
        await open(address, port: port, timeout: timeout, tls: nil)
    }

    public func connectTLS(to address: IPv4Address, port: UInt16, timeout: Duration) async -> (any StreamConnection)? {
        guard let context = Self.probeTLSContext else { return nil }
        return await open(address, port: port, timeout: timeout, tls: context)
    }

    /// TLS for reading what a scanned host serves, not for trusting it: worm-era servers have
    /// self-signed or long-expired certificates, so nothing is verified and TLS 1.0 is accepted
    /// (BoringSSL speaks no SSLv3; a host that offers only SSLv3 reads as a failed handshake).
    static let probeTLSContext: NIOSSLContext? = {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = .tlsv1
        return try? NIOSSLContext(configuration: configuration)
    }()

    private func open(_ address: IPv4Address, port: UInt16, timeout: Duration, tls: NIOSSLContext?) async -> (any StreamConnection)? {
        guard gate.admit(address, port: port, proto: .tcp) else { return nil }
        let maxBytes = self.maxBytes
        let handlerBox = HandlerBox()
        let started = ContinuousClock.now
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(max(1_000_000, Int64(RTTEstimator.nanos(timeout)))))
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 65_536))
            .channelInitializer { channel in
                let handler = BoundedReadHandler(maxBytes: maxBytes)
                handlerBox.handler = handler
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handshake = HandshakeWaiter(promise: channel.eventLoop.makePromise())
                        handlerBox.handshake = handshake.promise.futureResult
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHandler(handshake)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        guard let channel = try? await bootstrap.connect(to: NIOStreamTransport.socketAddress(address, port: port)).get(),
              let handler = handlerBox.handler else { return nil }
        if let handshake = handlerBox.handshake {
            // The handshake shares the connect's time budget.
            let left = max(.milliseconds(1), timeout - (ContinuousClock.now - started))
            let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(RTTEstimator.nanos(left)))) {
                channel.close(promise: nil)
            }
            let completed = (try? await handshake.get()) != nil
            timer.cancel()
            guard completed else {
                NIOStreamTransport.abortiveClose(channel)
                return nil
            }
        }
        return NIOStreamConnection(channel: channel, handler: handler)
    }
}

/// Completes its promise when the TLS handshake finished, fails it when the connection errs or
/// closes first; passes everything on.
private final class HandshakeWaiter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { promise.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
    }
}

extension NIOStreamTransport {
    static func socketAddress(_ address: IPv4Address, port: UInt16) -> SocketAddress {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr = in_addr(s_addr: address.value.bigEndian)
        return SocketAddress(sin, host: address.description)
    }

    /// Closes with SO_LINGER 0 (RST): no TIME_WAIT left behind by a probe connection.
    static func abortiveClose(_ channel: any Channel) {
        if let provider = channel as? any SocketOptionProvider {
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }
}

/// Carries the handler out of the channel initializer (set once on the event loop, read after
/// the connect future completed, which orders the two).
private final class HandlerBox: @unchecked Sendable {
    var handler: BoundedReadHandler?
    var handshake: EventLoopFuture<Void>?
}

final class NIOStreamConnection: StreamConnection, @unchecked Sendable {
    let channel: any Channel
    let handler: BoundedReadHandler

    init(channel: any Channel, handler: BoundedReadHandler) {
        self.channel = channel
        self.handler = handler
    }

    func send(_ bytes: [UInt8]) {
        let channel = self.channel
        channel.eventLoop.execute {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func read(timeout: Duration) async -> StreamRead {
        let handler = self.handler
        let channel = self.channel
        let future = channel.eventLoop.flatSubmit { handler.read(timeout: timeout, loop: channel.eventLoop) }
        return await withTaskCancellationHandler {
            (try? await future.get()) ?? .closed
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    func close() {
        NIOStreamTransport.abortiveClose(channel)
    }

    deinit {
        channel.close(promise: nil)
    }
}

/// Buffers what a host sends, up to `maxBytes` in all; past that the connection is closed. One
/// reader at a time waits with a timeout.
final class BoundedReadHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let maxBytes: Int
    private var buffer: [UInt8] = []
    private var total = 0
    private var ended = false
    private var waiter: EventLoopPromise<StreamRead>?
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        ended = true
        wake()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        var bytes = unwrapInboundIn(data)
        let room = maxBytes - total
        let take = min(room, bytes.readableBytes)
        if take > 0, let chunk = bytes.readBytes(length: take) {
            buffer.append(contentsOf: chunk)
            total += take
        }
        if total >= maxBytes {
            // Cut off a host that sends too much.
            ended = true
            context.close(promise: nil)
        }
        wake()
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended = true
        wake()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ended = true
        context.close(promise: nil)
        wake()
    }

    /// On the event loop: the buffered bytes, or wait for some until `timeout`.
    func read(timeout: Duration, loop: any EventLoop) -> EventLoopFuture<StreamRead> {
        if !buffer.isEmpty {
            defer { buffer = [] }
            return loop.makeSucceededFuture(.bytes(buffer))
        }
        if ended { return loop.makeSucceededFuture(.closed) }
        if let previous = waiter {
            waiter = nil
            previous.succeed(.timedOut)
        }
        let promise = loop.makePromise(of: StreamRead.self)
        waiter = promise
        timer = loop.scheduleTask(in: .nanoseconds(max(0, Int64(RTTEstimator.nanos(timeout))))) { [weak self] in
            guard let self, let waiter = self.waiter, waiter.futureResult === promise.futureResult else { return }
            self.waiter = nil
            waiter.succeed(.timedOut)
        }
        return promise.futureResult
    }

    private func wake() {
        guard let waiter else { return }
        if !buffer.isEmpty {
            self.waiter = nil
            timer?.cancel()
            let bytes = buffer
            buffer = []
            waiter.succeed(.bytes(bytes))
        } else if ended {
            self.waiter = nil
            timer?.cancel()
            waiter.succeed(.closed)
        }
    }
}
