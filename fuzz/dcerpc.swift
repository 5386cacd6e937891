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

    func run(_ reads: [[UInt8]]) -> DCERPCBindProbe.Result {
        var probe = DCERPCBindProbe(callID: 1)
        guard case .send = probe.connected() else { fatalError("DCERPCBindProbe did not send a BIND") }
        for read in reads {
            if case .finished(let result) = probe.receive(read) { return result }
        }
        guard case .finished(let result) = input.closesAtEnd ? probe.connectionClosed() : probe.timedOut() else {
            fatalError("DCERPCBindProbe did not finish at the end of input")
        }
        return result
    }
    // The verdict does not depend on how the reply was cut (only the evidence of a non-DCE/RPC
    // reply may: it shows what had arrived when the probe gave up).
    let cut = run(input.reads(input.stream, record: FuzzInput.dceRecord))
    let whole = run(input.stream.isEmpty ? [] : [input.stream])
    switch (cut, whole) {
    case (.notDCERPC, .notDCERPC): break
    default: invariant(cut == whole, "verdict depends on how the reply was cut: \(cut) vs \(whole)")
    }
    return 0
}
