// libFuzzer target: NetBIOS: the NBSTAT (UDP 137) node status response, the session service
// response (TCP 139), and the frame decoder fed in socket-sized reads.
// Input: a control byte (see FuzzInput), then the bytes the host sends.
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let bytes = input.stream
    if let status = try? NBStat.parseResponse(bytes) {
        _ = status.workgroup
        _ = status.computerName
        _ = status.macString
    }
    _ = try? NBStat.parseResponse(bytes, expectedTransactionID: 0x1337)
    if let frame = try? NetBIOSFrame(bytes: bytes) {
        invariant(frame.payload.count + 4 <= bytes.count, "NetBIOS frame larger than its input")
        _ = try? NetBIOSSession.parseSessionResponse(frame)
    }
    _ = try? NetBIOSName.decodeFirstLevel(bytes)
    _ = NetBIOSName.fromRaw(Array(bytes.prefix(16)))
    // The decoder never hands out more bytes than it was fed.
    var decoder = NetBIOSFrameDecoder(maxFrameSize: 64 * 1024)
    var handedOut = 0
    for read in input.reads(input.stream, record: FuzzInput.netBIOSRecord) {
        decoder.feed(read)
        while true {
            guard let frame = try? decoder.nextFrame() else { break }
            handedOut += 4 + frame.payload.count
            _ = try? NetBIOSSession.parseSessionResponse(frame)
        }
    }
    invariant(handedOut + decoder.bufferedByteCount <= input.stream.count, "decoder produced more bytes than it was fed")
    // The frames do not depend on how the stream was cut.
    func frames(_ reads: [[UInt8]]) -> [NetBIOSFrame] {
        var decoder = NetBIOSFrameDecoder(maxFrameSize: 4096)
        var frames: [NetBIOSFrame] = []
        for read in reads {
            decoder.feed(read)
            while let frame = try? decoder.nextFrame() { frames.append(frame) }
        }
        return frames
    }
    let cut = frames(input.reads(input.stream, record: FuzzInput.netBIOSRecord))
    let whole = frames([input.stream])
    invariant(cut.count == whole.count && zip(cut, whole).allSatisfy { $0.type == $1.type && $0.payload == $1.payload },
              "frames depend on how the stream was cut: \(cut.count) vs \(whole.count)")
    return 0
}
