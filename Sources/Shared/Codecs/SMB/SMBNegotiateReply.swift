/// The reply to a NEGOTIATE, which may be SMB1 (`FF 'SMB'`) or SMB2/3 (`FE 'SMB'`).
public enum SMBNegotiateReply: Equatable, Sendable {
    case smb1(SMB1NegotiateResponse)
    case smb2(SMB2NegotiateResponse)

    /// Parses the SMB payload of a NetBIOS frame.
    public static func parse(_ payload: [UInt8]) throws(CodecError) -> SMBNegotiateReply {
        guard payload.count >= 4 else { throw .truncated("SMB payload of \(payload.count) bytes") }
        if Array(payload.prefix(4)) == SMB1Header.protocolID {
            return .smb1(try SMB1NegotiateResponse.parse(try SMB1Message.parse(payload)))
        }
        if Array(payload.prefix(4)) == SMB2Header.protocolID {
            return .smb2(try SMB2NegotiateResponse.parse(payload))
        }
        throw .invalidValue("neither SMB1 nor SMB2 protocol ID")
    }
}
