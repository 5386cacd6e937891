/// A 32-bit NT status code as carried in SMB1 (with 32-bit status negotiated) and SMB2 headers.
public struct NTStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = NTStatus(0x0000_0000)
    /// A multi-leg session setup (NTLMSSP CHALLENGE) continues.
    public static let moreProcessingRequired = NTStatus(0xC000_0016)
    /// Not implemented (Trans2 SESSION_SETUP on a clean host).
    public static let notImplemented = NTStatus(0xC000_0002)
    /// Invalid handle: PeekNamedPipe on FID 0 of a patched host (MS17-010).
    public static let invalidHandle = NTStatus(0xC000_0008)
    public static let invalidParameter = NTStatus(0xC000_000D)
    /// Access denied: PeekNamedPipe on a patched host (MS17-010), or anonymous access refused.
    public static let accessDenied = NTStatus(0xC000_0022)
    public static let logonFailure = NTStatus(0xC000_006D)
    public static let accountDisabled = NTStatus(0xC000_0072)
    public static let notSupported = NTStatus(0xC000_00BB)
    public static let networkAccessDenied = NTStatus(0xC000_00CA)
    public static let badNetworkName = NTStatus(0xC000_00CC)
    public static let userSessionDeleted = NTStatus(0xC000_0203)
    public static let requestNotAccepted = NTStatus(0xC000_00D0)
    /// Insufficient server resources: PeekNamedPipe on FID 0 of an unpatched host (MS17-010).
    public static let insufficientServerResources = NTStatus(0xC000_0205)
    public static let invalidSMB = NTStatus(0x0001_0002) // DOS ERRSRV/ERRerror seen from old stacks

    /// True for error severity (top two bits 11).
    public var isError: Bool { rawValue >> 30 == 3 }

    /// A symbolic name for the codes above, else hex.
    public var name: String {
        switch self {
        case .success: "STATUS_SUCCESS"
        case .moreProcessingRequired: "STATUS_MORE_PROCESSING_REQUIRED"
        case .notImplemented: "STATUS_NOT_IMPLEMENTED"
        case .invalidHandle: "STATUS_INVALID_HANDLE"
        case .invalidParameter: "STATUS_INVALID_PARAMETER"
        case .accessDenied: "STATUS_ACCESS_DENIED"
        case .logonFailure: "STATUS_LOGON_FAILURE"
        case .accountDisabled: "STATUS_ACCOUNT_DISABLED"
        case .notSupported: "STATUS_NOT_SUPPORTED"
        case .networkAccessDenied: "STATUS_NETWORK_ACCESS_DENIED"
        case .badNetworkName: "STATUS_BAD_NETWORK_NAME"
        case .userSessionDeleted: "STATUS_USER_SESSION_DELETED"
        case .requestNotAccepted: "STATUS_REQUEST_NOT_ACCEPTED"
        case .insufficientServerResources: "STATUS_INSUFF_SERVER_RESOURCES"
        default: hex
        }
    }

    /// `0xC0000205`-style hex.
    public var hex: String {
        let digits = String(rawValue, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    public var description: String { name == hex ? hex : "\(name) (\(hex))" }
}
