/// Incremental decoder of NetBIOS session-service frames.
///
/// Feed it whatever the socket delivered, then pull complete frames. A frame whose declared length
/// exceeds `maxFrameSize` is an error (and the decoder stays failed), so a hostile peer cannot make
/// us buffer 16 MiB.
public struct NetBIOSFrameDecoder: Sendable {
    /// The largest payload accepted.
    public let maxFrameSize: Int
    private var buffer: [UInt8] = []
    private var failure: CodecError?

    /// Creates a decoder. SMB replies to our probes are a few KiB; 64 KiB is a generous default.
    public init(maxFrameSize: Int = 64 * 1024) {
        self.maxFrameSize = max(0, min(maxFrameSize, NetBIOSSession.maxLength))
    }

    /// Bytes buffered but not yet returned as a frame.
    public var bufferedByteCount: Int { buffer.count }

    /// Appends received bytes. Bytes fed after a failure are dropped.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        buffer.append(contentsOf: bytes)
        // Fail early on an oversized header so that the buffer never grows past one frame + header.
        if buffer.count >= 4, declaredLength() > maxFrameSize {
            failure = .tooLarge("NetBIOS frame declares \(declaredLength()) bytes, limit \(maxFrameSize)")
            buffer = []
        }
    }

    /// Returns the next complete frame, nil when more bytes are needed, or throws when the stream
    /// is invalid (oversized frame).
    public mutating func nextFrame() throws(CodecError) -> NetBIOSFrame? {
        if let failure { throw failure }
        guard buffer.count >= 4 else { return nil }
        let length = declaredLength()
        if length > maxFrameSize {
            let error = CodecError.tooLarge("NetBIOS frame declares \(length) bytes, limit \(maxFrameSize)")
            failure = error
            buffer = []
            throw error
        }
        guard buffer.count >= 4 + length else { return nil }
        let frame = NetBIOSFrame(type: buffer[0], payload: Array(buffer[4..<(4 + length)]))
        buffer.removeFirst(4 + length)
        return frame
    }

    private func declaredLength() -> Int {
        (Int(buffer[1]) << 16) | (Int(buffer[2]) << 8) | Int(buffer[3])
    }
}
