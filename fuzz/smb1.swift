// libFuzzer target: SMB1 replies (the SMB payload of one NetBIOS frame, no NetBIOS header):
// negotiate, session setup, tree connect, transaction/trans2 status replies.
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    _ = try? SMBNegotiateReply.parse(bytes)
    guard let message = try? SMB1Message.parse(bytes) else { return 0 }
    // A parsed message lies within the input and re-encodes to a message that parses the same.
    invariant(SMB1Header.size + 1 + message.words.count + message.data.count <= bytes.count, "SMB1 message larger than its input")
    invariant((try? SMB1Message.parse(message.encode())) == message, "SMB1 message does not survive encode/parse")
    _ = try? SMB1NegotiateResponse.parse(message)
    if let session = try? SMB1SessionSetupResponse.parse(message), let blob = session.securityBlob {
        if let ntlm = SPNEGO.findNTLMSSP(in: blob) { _ = try? NTLMChallengeInfo.parse(blob: ntlm) }
    }
    _ = try? SMB1TreeConnectResponse.parse(message)
    _ = try? SMB1Transaction.parseSetup(message)
    _ = message.strings(from: 0, count: 4)
    _ = SMBProbeResult.classifyMS17010(message.header.status)
    return 0
}
