import CordonCodecs

extension WormHostProfile {
    /// Windows XP SP2, unpatched: SMB1 with null sessions and MS17-010 missing, NetBIOS (139,
    /// UDP 137) and the endpoint mapper. Many exposures, no infection.
    public static let xp = WormHostProfile(
        name: "xp", summary: "Windows XP SP2, unpatched: SMB1 + null session + MS17-010 missing, RPC 135, NetBIOS",
        smb: SimulatedSMBProfile(ms17010Vulnerable: true, computerName: "XPPRO"), netBIOSSession: true,
        rpcEndpointMapper: true, nbstat: true)

    /// Windows 2000 SP4 that every worm got: IIS 5 with Code Red II's root.exe, RPC, SMB1 with
    /// null sessions, MS17-010 missing and DoublePulsar, Blaster's and Zotob's backdoors, TFTP.
    public static let windows2000 = WormHostProfile(
        name: "w2k", summary: "Windows 2000 SP4 hit by every worm: IIS 5 + root.exe, RPC, SMB1 + DoublePulsar, 4444/8888/33333, TFTP",
        smb: .windows2000Infected, netBIOSSession: true, rpcEndpointMapper: true,
        iis: SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true),
        backdoors: [.blasterShell, .zotobShell, .zotobFTP], nbstat: true, tftp: true)

    /// Windows Server 2003 SP2 domain controller, patched: SMB1 with signing required, RPC, NetBIOS.
    public static let dc2003 = WormHostProfile(
        name: "dc2003", summary: "Windows Server 2003 DC, patched: SMB1 with signing required, RPC 135, NetBIOS",
        smb: .windows2003DC, netBIOSSession: true, rpcEndpointMapper: true, nbstat: true)

    /// Code Red II: IIS 5.0 with the .ida mapping and root.exe in /scripts and /msadc.
    public static let codeRed = WormHostProfile(
        name: "codered", summary: "IIS 5.0 with the .ida mapping and Code Red II's root.exe",
        iis: SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true), nbstat: true)

    /// IIS 5.0 with the .ida mapping removed and no root.exe: exposed, not infected.
    public static let iis5 = WormHostProfile(
        name: "iis5", summary: "IIS 5.0 without the .ida mapping, clean",
        iis: SimulatedIIS(version: "5.0", idaMapped: false, rootExeInstalled: false), nbstat: true)

    /// Blaster: the endpoint mapper on 135, the cmd.exe shell on 4444 and a TFTP server.
    public static let blaster = WormHostProfile(
        name: "blaster", summary: "Blaster: RPC 135, cmd.exe shell on 4444, TFTP on UDP 69",
        rpcEndpointMapper: true, backdoors: [.blasterShell], nbstat: true, tftp: true)

    /// Zotob: SMB1 null session on 445, its shell on 8888 and its FTP server on 33333.
    public static let zotob = WormHostProfile(
        name: "zotob", summary: "Zotob: SMB1 null session, shell on 8888, FTP on 33333",
        smb: SimulatedSMBProfile(nullSessionAllowed: true, ms17010Vulnerable: false, computerName: "W2KZOTOB",
                                 osVersion: .init(major: 5, minor: 0, build: 2195), nativeOS: "Windows 5.0"),
        netBIOSSession: true, backdoors: [.zotobShell, .zotobFTP], nbstat: true)

    /// Conficker.C: SMB1 on 139/445 (no null session) and the peer-to-peer service.
    public static let conficker = WormHostProfile(
        name: "conficker", summary: "Conficker.C: SMB on 139/445 and the P2P service on its computed ports",
        smb: SimulatedSMBProfile(nullSessionAllowed: false, ms17010Vulnerable: false, computerName: "XPCONF"),
        netBIOSSession: true, nbstat: true, confickerP2P: true)

    /// WannaCry: Windows 7 SP1 before May 2017 with SMB1, MS17-010 missing and DoublePulsar.
    public static let wannaCry: WormHostProfile = {
        var smb = SimulatedSMBProfile.windows7Unpatched
        smb.nullSessionAllowed = true
        smb.doublePulsarInstalled = true
        smb.computerName = "WIN7WCRY"
        return WormHostProfile(name: "wannacry", summary: "Windows 7 SP1 unpatched: SMB1, MS17-010 missing, DoublePulsar",
                               smb: smb, netBIOSSession: true, nbstat: true)
    }()

    /// Windows 10, patched: SMB 3.1.1 only, signing required, nothing else.
    public static let patched: WormHostProfile = {
        var smb = SimulatedSMBProfile.windows10
        smb.signingRequired = true
        return WormHostProfile(name: "patched", summary: "Windows 10: SMB2/3 only with signing required, nothing else", smb: smb)
    }()

    /// A file server with SMB1 removed that still takes anonymous sessions and IPC$ over SMB2/3
    /// (Windows with RestrictNullSessAccess=0, or Samba's defaults with `restrict anonymous = 0`).
    public static let anonymousSMB2: WormHostProfile = {
        var smb = SimulatedSMBProfile.windows10
        smb.nullSessionAllowed = true
        smb.computerName = "FS2016ANON"
        return WormHostProfile(name: "anon-smb2", summary: "File server, SMB1 removed, anonymous SMB2/3 session and IPC$ allowed", smb: smb)
    }()

    /// Every preset, in a stable order.
    public static let presets: [WormHostProfile] = [
        .xp, .windows2000, .dc2003, .codeRed, .iis5, .blaster, .zotob, .conficker, .wannaCry, .patched, .anonymousSMB2,
    ]

    /// The preset with that name (case-insensitive), or nil.
    public static func preset(named name: String) -> WormHostProfile? {
        let lower = name.lowercased()
        return presets.first { $0.name == lower }
    }
}
