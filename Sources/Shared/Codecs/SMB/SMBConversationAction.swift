/// What a one-connection SMB conversation asks its driver to do next.
public enum SMBConversationAction: Equatable, Sendable {
    /// Write these bytes, then wait for input (call `receive`, `connectionClosed` or `timedOut`).
    case send([UInt8])
    /// Nothing to send; more input is needed.
    case wait
    /// The conversation is over: close the connection and read `result`.
    case done
}

/// Receives NetBIOS frames for a conversation and skips keep-alives.
struct SMBFrameInput: Sendable {
    var decoder: NetBIOSFrameDecoder

    init(maxFrameSize: Int) {
        decoder = NetBIOSFrameDecoder(maxFrameSize: maxFrameSize)
    }

    /// The next non-keep-alive frame, nil when more bytes are needed.
    mutating func next() throws(CodecError) -> NetBIOSFrame? {
        while let frame = try decoder.nextFrame() {
            if frame.type == NetBIOSSession.MessageType.keepAlive { continue }
            return frame
        }
        return nil
    }
}
