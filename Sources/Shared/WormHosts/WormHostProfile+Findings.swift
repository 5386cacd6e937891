import CordonCodecs

/// The scan detection IDs of the catalogue (`DetectionCatalogue` in CordonShared, which this
/// module does not depend on; a test checks that the two agree).
public enum WormFinding {
    public static let codeRedIIS = "codered.iis-exposed"
    public static let codeRedIdaMapping = "codered.ida-mapping"
    public static let codeRedRootExe = "codered.rootexe-present"
    public static let blasterRPC = "blaster.rpc-exposed"
    public static let blasterShell = "blaster.shell-4444"
    public static let blasterTFTP = "blaster.tftp-69"
    public static let zotobNullSession = "zotob.null-session"
    public static let zotobShell = "zotob.shell-8888"
    public static let zotobFTP = "zotob.ftp-33333"
    public static let confickerSMB = "conficker.smb-exposed"
    public static let confickerP2P = "conficker.p2p-reply"
    public static let wannacrySMBv1 = "wannacry.smbv1-enabled"
    public static let wannacryMS17010 = "wannacry.ms17-010-unpatched"
    public static let wannacryDoublePulsar = "wannacry.doublepulsar"
    public static let smbNullSession = "smb.null-session"

    /// Every scan detection, in catalogue order.
    public static let all: [String] = [
        codeRedIIS, codeRedIdaMapping, codeRedRootExe, blasterRPC, blasterShell, blasterTFTP, zotobNullSession,
        zotobShell, zotobFTP, confickerSMB, confickerP2P, wannacrySMBv1, wannacryMS17010, wannacryDoublePulsar,
        smbNullSession,
    ]
}

extension WormHostProfile {
    /// The detection IDs a safe scan of this host should report, in catalogue order.
    ///
    /// What the probes can see, not everything that is true of the host: MS17-010 and
    /// DoublePulsar are only checked on an anonymous SMB1 session, so a host that refuses the null
    /// session does not report them even when it is missing the patch.
    public var expectedFindings: [String] {
        var found: Set<String> = []
        if let smb {
            found.insert(WormFinding.confickerSMB)
            if smb.smb1Enabled {
                found.insert(WormFinding.wannacrySMBv1)
                if smb.nullSessionAllowed {
                    found.insert(WormFinding.zotobNullSession)
                    if smb.ms17010Vulnerable { found.insert(WormFinding.wannacryMS17010) }
                    if smb.doublePulsarInstalled { found.insert(WormFinding.wannacryDoublePulsar) }
                }
            } else if smb.smb2Enabled, smb.nullSessionAllowed {
                found.insert(WormFinding.smbNullSession)
            }
        }
        if let iis, let major = Int(iis.version.split(separator: ".").first ?? ""), (4...5).contains(major) {
            found.insert(WormFinding.codeRedIIS)
            if iis.idaMapped { found.insert(WormFinding.codeRedIdaMapping) }
            if iis.rootExeInstalled { found.insert(WormFinding.codeRedRootExe) }
        }
        if rpcEndpointMapper { found.insert(WormFinding.blasterRPC) }
        if tftp { found.insert(WormFinding.blasterTFTP) }
        for backdoor in backdoors {
            switch (backdoor.kind, backdoor.port) {
            case (.shell, 4444): found.insert(WormFinding.blasterShell)
            case (.shell, 8888): found.insert(WormFinding.zotobShell)
            case (.ftp, 33333): found.insert(WormFinding.zotobFTP)
            default: break
            }
        }
        if confickerP2P { found.insert(WormFinding.confickerP2P) }
        return WormFinding.all.filter(found.contains)
    }
}
