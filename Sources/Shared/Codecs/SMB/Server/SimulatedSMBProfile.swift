/// What a simulated worm-era SMB host is like: which protocols it speaks, whether it lets an
/// anonymous user in, whether it is missing MS17-010 or carries DoublePulsar, and who it says it is.
public struct SimulatedSMBProfile: Equatable, Sendable {
    public var smb1Enabled: Bool
    public var smb2Enabled: Bool
    /// The highest SMB2 dialect it accepts (0x0202 ... 0x0311).
    public var maxSMB2Dialect: UInt16
    public var signingRequired: Bool
    public var nullSessionAllowed: Bool
    public var ms17010Vulnerable: Bool
    public var doublePulsarInstalled: Bool
    /// Answer SMB1 negotiates with extended security (NTLMSSP) when the client asks for it.
    public var extendedSecurity: Bool
    public var computerName: String
    public var domain: String
    public var dnsDomain: String?
    public var osVersion: NTLMChallengeInfo.OSVersion
    /// The native OS string of the SMB1 session setup reply (e.g. "Windows 5.1").
    public var nativeOS: String
    public var nativeLanMan: String
    /// Server time (FILETIME) written into negotiate replies.
    public var systemTime: UInt64
    /// The status a patched host answers PeekNamedPipe FID 0 with.
    public var patchedPeekStatus: NTStatus

    public init(smb1Enabled: Bool = true, smb2Enabled: Bool = false, maxSMB2Dialect: UInt16 = SMB2Dialect.smb210,
                signingRequired: Bool = false, nullSessionAllowed: Bool = true, ms17010Vulnerable: Bool = false,
                doublePulsarInstalled: Bool = false, extendedSecurity: Bool = true, computerName: String = "WORMHOST",
                domain: String = "WORKGROUP", dnsDomain: String? = nil,
                osVersion: NTLMChallengeInfo.OSVersion = .init(major: 5, minor: 1, build: 2600),
                nativeOS: String = "Windows 5.1", nativeLanMan: String = "Windows 2000 LAN Manager",
                systemTime: UInt64 = FileTime.fileTime(unixSeconds: 1_494_547_200), // 2017-05-12
                patchedPeekStatus: NTStatus = .accessDenied) {
        self.smb1Enabled = smb1Enabled
        self.smb2Enabled = smb2Enabled
        self.maxSMB2Dialect = maxSMB2Dialect
        self.signingRequired = signingRequired
        self.nullSessionAllowed = nullSessionAllowed
        self.ms17010Vulnerable = ms17010Vulnerable
        self.doublePulsarInstalled = doublePulsarInstalled
        self.extendedSecurity = extendedSecurity
        self.computerName = computerName
        self.domain = domain
        self.dnsDomain = dnsDomain
        self.osVersion = osVersion
        self.nativeOS = nativeOS
        self.nativeLanMan = nativeLanMan
        self.systemTime = systemTime
        self.patchedPeekStatus = patchedPeekStatus
    }

    /// Windows XP SP2: SMB1 only, null sessions, unpatched.
    public static let windowsXP = SimulatedSMBProfile(ms17010Vulnerable: true)

    /// Windows 2000 SP4: SMB1 only, null sessions, MS17-010 missing, DoublePulsar installed.
    public static let windows2000Infected = SimulatedSMBProfile(
        ms17010Vulnerable: true, doublePulsarInstalled: true, computerName: "W2KSRV",
        osVersion: .init(major: 5, minor: 0, build: 2195), nativeOS: "Windows 5.0")

    /// Windows Server 2003 SP2: SMB1, patched, signing required (a domain controller).
    public static let windows2003DC = SimulatedSMBProfile(
        signingRequired: true, nullSessionAllowed: true, computerName: "DC01", domain: "CORP", dnsDomain: "corp.example",
        osVersion: .init(major: 5, minor: 2, build: 3790), nativeOS: "Windows Server 2003 3790 Service Pack 2",
        nativeLanMan: "Windows Server 2003 5.2", patchedPeekStatus: .invalidHandle)

    /// Windows 7 SP1 before May 2017: SMB1 and SMB 2.1, no null session, MS17-010 missing.
    public static let windows7Unpatched = SimulatedSMBProfile(
        smb2Enabled: true, maxSMB2Dialect: SMB2Dialect.smb210, nullSessionAllowed: false, ms17010Vulnerable: true,
        computerName: "WIN7PC", osVersion: .init(major: 6, minor: 1, build: 7601),
        nativeOS: "Windows 7 Professional 7601 Service Pack 1", nativeLanMan: "Windows 7 Professional 6.1")

    /// Windows 10: SMBv1 off, SMB 3.1.1, no null session.
    public static let windows10 = SimulatedSMBProfile(
        smb1Enabled: false, smb2Enabled: true, maxSMB2Dialect: SMB2Dialect.smb311, nullSessionAllowed: false,
        computerName: "WIN10PC", osVersion: .init(major: 10, minor: 0, build: 19041), nativeOS: "", nativeLanMan: "")

    var ntlmIdentity: NTLMChallengeInfo {
        NTLMChallengeInfo(negotiateFlags: NTLMSSP.Flags.ntlm | NTLMSSP.Flags.extendedSessionSecurity
                            | NTLMSSP.Flags.targetTypeDomain | NTLMSSP.Flags.alwaysSign,
                          serverChallenge: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
                          targetName: domain, netBIOSComputerName: computerName, netBIOSDomainName: domain,
                          dnsComputerName: dnsDomain.map { "\(computerName.lowercased()).\($0)" } ?? computerName.lowercased(),
                          dnsDomainName: dnsDomain ?? domain.lowercased(), dnsTreeName: dnsDomain,
                          timestamp: systemTime, osVersion: osVersion)
    }

    /// A 16-byte server GUID derived from the computer name (stable across connections).
    var serverGUID: [UInt8] {
        var guid = [UInt8](repeating: 0, count: 16)
        for (i, byte) in computerName.utf8.enumerated() { guid[i % 16] ^= byte &+ UInt8(truncatingIfNeeded: i) }
        return guid
    }
}
