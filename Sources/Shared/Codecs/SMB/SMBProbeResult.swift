/// What an ``SMBProbe`` found out about one host. Every check starts as `notTested`; a check that
/// ran but could not decide is `unknown` with the reason, so that a report can say why.
public struct SMBProbeResult: Equatable, Sendable {
    /// Does the host accept an SMB1-only NEGOTIATE (WannaCry/EternalBlue exposure)?
    public enum SMB1Status: Equatable, Sendable {
        case notTested
        /// Accepted; the dialect string the server chose.
        case enabled(dialect: String)
        /// Refused: connection closed/reset at the negotiate, or no dialect accepted.
        case disabled(reason: String)
        case unknown(reason: String)
    }

    /// SMB2/3 support, from a separate SMB2 NEGOTIATE.
    public enum SMB2Status: Equatable, Sendable {
        case notTested
        case supported(SMB2NegotiateResponse)
        case unsupported(reason: String)
        case unknown(reason: String)
    }

    /// Anonymous (null) session: empty user, empty password (Zotob, RestrictAnonymous).
    public enum NullSessionStatus: Equatable, Sendable {
        case notTested
        /// Logged on anonymously; `guest` when the server mapped us to the guest account.
        case allowed(guest: Bool)
        case denied(NTStatus)
        case unknown(reason: String)
    }

    /// Tree connect to `\\host\IPC$` on the anonymous session (an SMB1 TID, or an SMB2 tree ID).
    public enum IPCStatus: Equatable, Sendable {
        case notTested
        case connected(tid: UInt32)
        case denied(NTStatus)
        case unknown(reason: String)
    }

    /// MS17-010 via PeekNamedPipe on FID 0 (`smb-vuln-ms17-010.nse`).
    public enum MS17010Status: Equatable, Sendable {
        case notTested
        /// STATUS_INSUFF_SERVER_RESOURCES (0xC0000205): the patch is missing.
        case vulnerable(NTStatus)
        /// STATUS_ACCESS_DENIED or STATUS_INVALID_HANDLE: patched.
        case patched(NTStatus)
        /// Any other answer, or the check could not run; the status when there was one.
        case unknown(reason: String, status: NTStatus?)
    }

    /// DoublePulsar implant via Trans2 SESSION_SETUP MID 65 (`smb-double-pulsar-backdoor.nse`).
    public enum DoublePulsarStatus: Equatable, Sendable {
        case notTested
        /// Answered with MID 81: the implant is installed.
        case present(mid: UInt16, status: NTStatus)
        /// Answered with another MID.
        case absent(mid: UInt16, status: NTStatus)
        case unknown(reason: String)
    }

    public var smb1: SMB1Status = .notTested
    /// The SMB1 negotiate response, when SMB1 answered.
    public var smb1Negotiate: SMB1NegotiateResponse?
    public var smb2: SMB2Status = .notTested
    public var nullSession: NullSessionStatus = .notTested
    public var ipc: IPCStatus = .notTested
    /// The same anonymous session and IPC$ tree connect over SMB2/3, on the SMB2 connection
    /// (hosts with SMB1 off, such as Samba's defaults with `restrict anonymous = 0`).
    public var smb2NullSession: NullSessionStatus = .notTested
    public var smb2IPC: IPCStatus = .notTested
    public var ms17010: MS17010Status = .notTested
    public var doublePulsar: DoublePulsarStatus = .notTested
    /// Names and OS build from the NTLMSSP CHALLENGE (SMB1 or SMB2 session setup).
    public var ntlm: NTLMChallengeInfo?
    /// Native OS / LAN manager strings from the SMB1 session setup reply (sanitized).
    public var nativeOS: String?
    public var nativeLanMan: String?
    public var primaryDomain: String?
    /// Notes about steps that failed (parse errors, NetBIOS refusals), bounded in number.
    public private(set) var notes: [String] = []

    public init() {}

    /// True/false when a negotiate said whether signing is required; nil when unknown.
    public var signingRequired: Bool? {
        if case .supported(let smb2) = smb2 { return smb2.signingRequired }
        return smb1Negotiate?.signingRequired
    }

    /// The highest SMB2 dialect, when SMB2 answered.
    public var smb2Dialect: UInt16? {
        if case .supported(let smb2) = smb2 { return smb2.dialect }
        return nil
    }

    mutating func note(_ text: String) {
        guard notes.count < 16 else { return }
        notes.append(Evidence.sanitize(text))
    }

    /// Classifies the status of the PeekNamedPipe reply as the nmap script does.
    public static func classifyMS17010(_ status: NTStatus) -> MS17010Status {
        switch status {
        case .insufficientServerResources: .vulnerable(status)
        case .accessDenied, .invalidHandle: .patched(status)
        default: .unknown(reason: "unexpected PeekNamedPipe status", status: status)
        }
    }
}
