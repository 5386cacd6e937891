import NIOCore

/// Runs one ``StreamResponder`` on a TCP connection and keeps the connection within its limits:
/// bytes received, time without input, and total time. Whatever the client does, the
/// connection ends, and the responder never buffers more than it bounds itself to.
final class StreamResponderHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Limits {
        var idleTimeout: TimeAmount
        var lifetime: TimeAmount
        var maxBytes: Int
    }

    private var responder: any StreamResponder
    private let limits: Limits
    private var receivedBytes = 0
    private var lastInput = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var lifetimeTimer: Scheduled<Void>?
    private var closing = false

    init(responder: any StreamResponder, limits: Limits) {
        self.responder = responder
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard lifetimeTimer == nil else { return }
        lastInput = .now()
        let loop = context.eventLoop.assumeIsolated()
        lifetimeTimer = loop.scheduleTask(in: limits.lifetime) { [self] in
            close(context: context)
        }
        scheduleIdleCheck(context: context, after: limits.idleTimeout)
        perform(responder.connected(), context: context)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            let idle = NIODeadline.now() - lastInput
            if idle >= limits.idleTimeout {
                close(context: context)
            } else {
                scheduleIdleCheck(context: context, after: limits.idleTimeout - idle)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var buffer = Self.unwrapInboundIn(data)
        receivedBytes += buffer.readableBytes
        guard receivedBytes <= limits.maxBytes else {
            close(context: context)
            return
        }
        lastInput = .now()
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        perform(responder.received(bytes), context: context)
    }

    private func perform(_ actions: [StreamAction], context: ChannelHandlerContext) {
        for action in actions {
            guard !closing else { return }
            switch action {
            case .send(let bytes):
                context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .close:
                close(context: context)
                return
            }
        }
        context.flush()
    }

    /// Flushes what was written, then closes.
    private func close(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        cancelTimers()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func cancelTimers() {
        idleTimer?.cancel()
        lifetimeTimer?.cancel()
        idleTimer = nil
        lifetimeTimer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        cancelTimers()
        context.close(promise: nil)
    }
}
