/// How an ``SMBProbe`` talks to a host and which checks it runs.
public struct SMBProbeOptions: Equatable, Sendable {
    /// Direct SMB (TCP 445) or NetBIOS session service first (TCP 139).
    public enum Transport: Equatable, Sendable {
        case direct
        /// Send a session request with each called name in turn until one is accepted.
        case netBIOS(calledNames: [NetBIOSName])
    }

    /// SMB1 session setup style.
    public enum SecurityMode: Equatable, Sendable {
        /// NTLMSSP (raw, or in SPNEGO when the server offers it), as nmap does by default.
        case extended
        /// Pre-NTLMSSP null session (empty account, no passwords), as `smbbasic` does.
        case legacy
    }

    /// The host as written in the `\\host\IPC$` path (IP address or name).
    public var host: String
    public var transport: Transport = .direct
    public var securityMode: SecurityMode = .extended
    /// Send the SMB1-only NEGOTIATE.
    public var checkSMB1 = true
    /// Send the SMB2 NEGOTIATE on its own connection.
    public var checkSMB2 = true
    /// Read the NTLMSSP CHALLENGE (names, OS build); over SMB2 when SMB1 is unavailable.
    public var ntlmInfo = true
    /// Try an anonymous session and a tree connect to IPC$.
    public var nullSession = true
    /// PeekNamedPipe on FID 0 (needs the anonymous session and IPC$).
    public var ms17010 = true
    /// Trans2 SESSION_SETUP MID 65 (needs the anonymous session and IPC$).
    public var doublePulsar = true
    /// The SMB1 process ID.
    public var pid: UInt16
    /// SMB2 client GUID and preauth salt.
    public var clientGUID: [UInt8]
    public var preauthSalt: [UInt8]
    /// The largest NetBIOS frame accepted from the host.
    public var maxFrameSize = 64 * 1024

    /// Options with random PID, GUID and salt.
    public init(host: String) {
        var rng = SystemRandomNumberGenerator()
        self.init(host: host, using: &rng)
    }

    /// Options whose PID, GUID and salt come from the given generator (tests pass a seeded one).
    public init(host: String, using rng: inout some RandomNumberGenerator) {
        self.host = host
        pid = UInt16.random(in: 2...32767, using: &rng)
        clientGUID = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        preauthSalt = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// True when any check needs an SMB1 session setup.
    var needsSMB1Session: Bool { nullSession || ms17010 || doublePulsar || ntlmInfo }
    /// True when any check needs the anonymous logon completed.
    var needsAnonymousLogon: Bool { nullSession || ms17010 || doublePulsar }
}
