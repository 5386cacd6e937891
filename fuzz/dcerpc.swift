// libFuzzer target: DCE/RPC on TCP 135: the bind reply (bind_ack / bind_nak / fault) and the
// bind probe that reassembles it from socket reads.
// Input: a control byte (see FuzzInput), then the bytes the host sends.
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let bytes = input.stream
    _ = try? DCERPC.Header.parse(bytes)
    if let length = try? DCERPC.pduLength(bytes) {
        invariant(length >= 0 && length <= DCERPC.maxPDUSize, "PDU length \(length) out of bounds")
    }
    _ = try? DCERPC.parseBindReply(bytes)

    var probe = DCERPCBindProbe(callID: 1)
    guard case .send = probe.connected() else { fatalError("DCERPCBindProbe did not send a BIND") }
    var finished = false
    for read in input.reads(input.stream, record: FuzzInput.dceRecord) {
        if case .finished = probe.receive(read) { finished = true; break }
    }
    if !finished {
        let last = input.closesAtEnd ? probe.connectionClosed() : probe.timedOut()
        guard case .finished = last else { fatalError("DCERPCBindProbe did not finish at the end of input") }
    }
    return 0
}
