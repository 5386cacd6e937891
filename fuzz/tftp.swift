// libFuzzer target: the TFTP reply datagram (UDP 69).
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    let reply = TFTP.parseReply(bytes)
    invariant(TFTP.serviceAnswered(bytes) == (reply != .notTFTP), "serviceAnswered disagrees with parseReply")
    if case .data(_, let count) = reply { invariant(count >= 0 && count <= bytes.count, "DATA size \(count) of \(bytes.count) bytes") }
    return 0
}
