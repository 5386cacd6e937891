// libFuzzer target: the NTLMSSP CHALLENGE (target info AV pairs, version) a server returns, raw or
// wrapped in SPNEGO.
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    _ = NTLMSSP.messageType(of: bytes)
    _ = try? NTLMSSP.isAnonymousAuthenticate(bytes)
    if let info = try? NTLMChallengeInfo.parse(blob: bytes) {
        invariant(info.serverChallenge.count <= bytes.count, "server challenge larger than the blob")
        _ = info.osVersion?.description
    }
    _ = SPNEGO.containsSPNEGOOID(bytes)
    if let inner = SPNEGO.findNTLMSSP(in: bytes) {
        invariant(inner.count <= bytes.count, "NTLMSSP found in SPNEGO larger than the blob")
        _ = try? NTLMChallengeInfo.parse(blob: inner)
    }
    return 0
}
