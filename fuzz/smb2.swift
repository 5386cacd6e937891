// libFuzzer target: SMB2 replies (the SMB payload of one NetBIOS frame): negotiate (with
// negotiate contexts) and session setup (with the NTLMSSP challenge inside SPNEGO).
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    _ = try? SMBNegotiateReply.parse(bytes)
    if let negotiate = try? SMB2NegotiateResponse.parse(bytes) {
        let blob = negotiate.securityBlob
        _ = SPNEGO.containsSPNEGOOID(blob)
        invariant(blob.count <= bytes.count, "SMB2 security blob larger than the reply")
    }
    if let session = try? SMB2SessionSetup.Response.parse(bytes) {
        invariant(session.securityBlob.count <= bytes.count, "SMB2 session blob larger than the reply")
        if let ntlm = SPNEGO.findNTLMSSP(in: session.securityBlob) { _ = try? NTLMChallengeInfo.parse(blob: ntlm) }
    }
    var reader = ByteReader(bytes)
    _ = try? SMB2Header.read(from: &reader)
    return 0
}
