import NIOCore

/// Runs one ``DatagramResponder`` on a UDP socket: one answer per datagram at most, sent back to
/// the sender, no more than a fixed number per second (a token bucket), so that the socket can
/// neither be flooded into work nor used to reflect traffic at scale.
final class DatagramResponderHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: any DatagramResponder
    private let ratePerSecond: Double
    private var tokens: Double
    private var lastRefill = NIODeadline.now()

    init(responder: any DatagramResponder, maxRepliesPerSecond: Int) {
        self.responder = responder
        ratePerSecond = Double(max(1, maxRepliesPerSecond))
        tokens = ratePerSecond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = Self.unwrapInboundIn(data)
        let size = envelope.data.readableBytes
        guard size <= 65_507, let bytes = envelope.data.readBytes(length: size), takeToken() else { return }
        guard let answer = responder.answer(bytes) else { return }
        let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))
        context.writeAndFlush(Self.wrapOutboundOut(reply), promise: nil)
    }

    private func takeToken() -> Bool {
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1_000_000_000
        lastRefill = now
        tokens = min(ratePerSecond, tokens + elapsed * ratePerSecond)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A UDP socket sees ICMP errors (port unreachable from a sender that went away) as read
        // errors: they are not fatal for the listener.
    }
}
