import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the coordinator allows a connection before it has shown a certificate or sent a request:
/// the request path cannot enforce these, because nothing reaches it.
///
/// - A connection that has not finished its TLS handshake `handshakeTimeout` after it opened is
///   closed (a partial ClientHello, or a TCP connection that never speaks TLS).
/// - No one address holds more than `maxHandshakesPerAddress` connections in the handshake at
///   once; over it, a new connection from there is closed at once. One host with thousands of
///   idle sockets cannot take the descriptors the agents and operators need.
/// - At most `maxConnections` connections are open in all (below the open-files limit, so
///   accept(2) never fails with EMFILE); over it, new ones are closed at once.
///
/// Between requests, Hummingbird's idle timeout closes a connection that sends no complete
/// request head (a client dripping header bytes) and idle keep-alive connections.
public final class ConnectionGate: Sendable {
    public let maxConnections: Int
    public let maxHandshakesPerAddress: Int
    public let handshakeTimeout: TimeAmount

    private struct State {
        var open = 0
        var handshaking: [String: Int] = [:]
        var refused = 0
        var timedOut = 0
    }
    private let state = Mutex(State())

    public init(maxConnections: Int, maxHandshakesPerAddress: Int, handshakeTimeout: TimeAmount) {
        self.maxConnections = max(1, maxConnections)
        self.maxHandshakesPerAddress = max(1, maxHandshakesPerAddress)
        self.handshakeTimeout = handshakeTimeout
    }

    /// Counts a new connection in, or says why it is refused.
    func admit(_ address: String) -> String? {
        state.withLock { state in
            if state.open >= maxConnections {
                state.refused += 1
                return "\(state.open) connections are open (maxConnections \(maxConnections))"
            }
            if state.handshaking[address, default: 0] >= maxHandshakesPerAddress {
                state.refused += 1
                return "\(address) has \(maxHandshakesPerAddress) connections in the TLS handshake already"
            }
            state.open += 1
            state.handshaking[address, default: 0] += 1
            return nil
        }
    }

    func handshakeEnded(_ address: String, timedOut: Bool) {
        state.withLock { state in
            if timedOut { state.timedOut += 1 }
            let left = state.handshaking[address, default: 1] - 1
            state.handshaking[address] = left > 0 ? left : nil
        }
    }

    func closed() {
        state.withLock { $0.open -= 1 }
    }

    /// Open connections, those still in the handshake, and the totals refused and timed out.
    public var counts: (open: Int, handshaking: Int, refused: Int, timedOut: Int) {
        state.withLock { ($0.open, $0.handshaking.values.reduce(0, +), $0.refused, $0.timedOut) }
    }

    /// Raises this process's soft open-files limit to its hard limit (capped at 1,048,576) and
    /// returns the soft limit now in force. systemd's default soft limit is 1,024.
    public static func raiseOpenFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let wanted = min(limit.rlim_max, 1 << 20)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// The connection cap for an open-files limit: what is left after a reserve for the
    /// database, the logs and the files a request opens.
    public static func connectionCap(openFilesLimit: Int) -> Int {
        max(16, openFilesLimit - 256)
    }
}

/// Wraps the TLS child channel: admits or refuses the connection, and arms the handshake deadline.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let gate: ConnectionGate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = gate.admit(address) {
            logger.warning("connection refused", metadata: ["peer": "\(address)", "reason": "\(refusal)"])
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionRefused())
        }
        let gate = self.gate
        channel.closeFuture.whenComplete { _ in gate.closed() }
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // After the TLS handler, where its handshake event arrives.
            let deadline = HandshakeDeadlineHandler(gate: gate, address: address, logger: logger)
            let tls = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            try channel.pipeline.syncOperations.addHandler(deadline, position: .after(tls))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    struct ConnectionRefused: Error {}
}

/// Closes the connection when its TLS handshake has not finished in time; leaves the pipeline
/// once it has.
final class HandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let gate: ConnectionGate
    private let address: String
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var ended = false

    init(gate: ConnectionGate, address: String, logger: Logger) {
        self.gate = gate
        self.address = address
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, !ended else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: gate.handshakeTimeout) {
            let (handler, context) = loopBound.value
            guard !handler.ended else { return }
            handler.end(timedOut: true)
            handler.logger.info("TLS handshake not finished in time: connection closed",
                                metadata: ["peer": "\(handler.address)", "timeout": "\(handler.gate.handshakeTimeout)"])
            context.close(promise: nil)
        }
    }

    private func end(timedOut: Bool) {
        guard !ended else { return }
        ended = true
        timer?.cancel()
        timer = nil
        gate.handshakeEnded(address, timedOut: timedOut)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let done: Bool
        if case .handshakeCompleted? = event as? TLSUserEvent { done = true } else { done = false }
        context.fireUserInboundEventTriggered(event)
        if done {
            end(timedOut: false)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(timedOut: false)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end(timedOut: false)
    }
}
