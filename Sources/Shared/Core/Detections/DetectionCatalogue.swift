/// Every detection Cordon reports, scan and inventory alike. IDs never change meaning; a
/// retired detection keeps its ID reserved.
public enum DetectionCatalogue {
    // MARK: Scan: Code Red (MS01-033)
    public static let codeRedIIS = "codered.iis-exposed"
    public static let codeRedIdaMapping = "codered.ida-mapping"
    public static let codeRedRootExe = "codered.rootexe-present"
    // MARK: Scan: Blaster (MS03-026, MS03-039)
    public static let blasterRPC = "blaster.rpc-exposed"
    public static let blasterShell = "blaster.shell-4444"
    public static let blasterTFTP = "blaster.tftp-69"
    // MARK: Scan: Zotob (MS05-039)
    public static let zotobNullSession = "zotob.null-session"
    public static let zotobShell = "zotob.shell-8888"
    public static let zotobFTP = "zotob.ftp-33333"
    // MARK: Scan: Conficker (MS08-067)
    public static let confickerSMB = "conficker.smb-exposed"
    public static let confickerP2P = "conficker.p2p-reply"
    // MARK: Scan: WannaCry (MS17-010)
    public static let wannacrySMBv1 = "wannacry.smbv1-enabled"
    public static let wannacryMS17010 = "wannacry.ms17-010-unpatched"
    public static let wannacryDoublePulsar = "wannacry.doublepulsar"
    // MARK: Scan: any SMB worm
    /// An anonymous session and IPC$ over SMB2/3 on a host that refuses them over SMB1 (or has
    /// SMB1 off). Not Zotob's: its MS05-039 exploit spoke SMB1 to Windows 2000. What a null
    /// session still gives a worm is the account list for a password attack (Conficker's
    /// dictionary attack enumerated users this way) and the named pipes.
    public static let smbNullSession = "smb.null-session"
    // MARK: Passive sensor on the jump host
    /// A host of the segment that keeps trying the jump host's 135/139/445: it is sweeping its
    /// neighbours, as Conficker and Blaster hosts do.
    public static let wormSpreading = "general.worm-spreading"
    // MARK: Inventory of the jump host
    public static let passwordAge = "jumphost.password-age"
    public static let emptyPassword = "jumphost.empty-password"
    public static let unexpectedUID0 = "jumphost.unexpected-uid0"
    public static let newScheduledTask = "jumphost.new-scheduled-task"
    public static let taskFromWritablePath = "jumphost.task-writable-path"
    public static let failedLogonBurst = "jumphost.failed-logon-burst"
    public static let wormPortsUnblocked = "jumphost.worm-ports-unblocked"

    public static let all: [Detection] = [
        Detection(id: codeRedIIS, worm: .codeRed, kind: .exposure, severity: .medium, source: .scan,
                  title: "IIS 4.0/5.0 web server answering (Code Red target)", references: ["MS01-033"],
                  remediation: "Install MS01-033; stop IIS where it is not needed."),
        Detection(id: codeRedIdaMapping, worm: .codeRed, kind: .exposure, severity: .high, source: .scan,
                  title: "IIS Index Server .ida/.idq ISAPI mapping is live", references: ["MS01-033"],
                  remediation: "Install MS01-033 and remove the .ida/.idq script mappings."),
        Detection(id: codeRedRootExe, worm: .codeRed, kind: .ioc, severity: .critical, source: .scan,
                  title: "Code Red II backdoor: root.exe in /scripts or /msadc", references: ["MS01-033"],
                  remediation: "Isolate the host; rebuild it: Code Red II left a copy of cmd.exe reachable over HTTP."),
        Detection(id: blasterRPC, worm: .blaster, kind: .exposure, severity: .high, source: .scan,
                  title: "DCE/RPC endpoint mapper answers on TCP 135", references: ["MS03-026", "MS03-039"],
                  remediation: "Install MS03-039 (supersedes MS03-026); block TCP/UDP 135, 139, 445 and TCP 593; disable DCOM where not needed."),
        Detection(id: blasterShell, worm: .blaster, kind: .ioc, severity: .critical, source: .scan,
                  title: "Remote cmd.exe shell on TCP 4444 (Blaster)", references: ["MS03-039"],
                  remediation: "Isolate the host; remove msblast.exe and its Run key; install MS03-039."),
        Detection(id: blasterTFTP, worm: .blaster, kind: .ioc, severity: .high, source: .scan,
                  title: "TFTP server answers on UDP 69 (Blaster's worm transfer)", references: ["MS03-039"],
                  remediation: "Find the process serving TFTP; Windows hosts should not run one."),
        Detection(id: zotobNullSession, worm: .zotob, kind: .exposure, severity: .high, source: .scan,
                  title: "Anonymous (null) SMB session and IPC$ accepted on TCP 445", references: ["MS05-039"],
                  remediation: "Install MS05-039; set RestrictAnonymous; block TCP 445 at segment borders."),
        Detection(id: zotobShell, worm: .zotob, kind: .ioc, severity: .critical, source: .scan,
                  title: "Remote shell on TCP 8888 (Zotob backdoor)", references: ["MS05-039"],
                  remediation: "Isolate the host; remove the worm (botzor.exe and its Run key); install MS05-039."),
        Detection(id: zotobFTP, worm: .zotob, kind: .ioc, severity: .high, source: .scan,
                  title: "FTP server on TCP 33333 (Zotob's worm transfer)", references: ["MS05-039"],
                  remediation: "Isolate the host and remove the worm; install MS05-039."),
        Detection(id: confickerSMB, worm: .conficker, kind: .exposure, severity: .medium, source: .scan,
                  title: "SMB (TCP 139/445) reachable: MS08-067 target; patch state not probed (unsafe)",
                  references: ["MS08-067", "KB958644", "KB957097", "KB958687"],
                  remediation: "Install KB958644 (+KB957097, KB958687); change all admin passwords; disable AutoRun; block 139/445."),
        Detection(id: confickerP2P, worm: .conficker, kind: .ioc, severity: .critical, source: .scan,
                  title: "Conficker.C peer-to-peer reply", references: ["MS08-067", "KB958644"],
                  remediation: "Isolate the host; clean it with a Conficker removal tool; change every admin password; delete its scheduled jobs; install KB958644."),
        Detection(id: wannacrySMBv1, worm: .wannacry, kind: .exposure, severity: .high, source: .scan,
                  title: "SMBv1 enabled (accepts an SMB1-only negotiate)", references: ["MS17-010"],
                  remediation: "Disable SMBv1; install MS17-010."),
        Detection(id: wannacryMS17010, worm: .wannacry, kind: .exposure, severity: .critical, source: .scan,
                  title: "MS17-010 missing (PeekNamedPipe on FID 0 answers STATUS_INSUFF_SERVER_RESOURCES)", references: ["MS17-010"],
                  remediation: "Install MS17-010 now; disable SMBv1; block TCP 445."),
        Detection(id: wannacryDoublePulsar, worm: .wannacry, kind: .ioc, severity: .critical, source: .scan,
                  title: "DoublePulsar implant answers (Trans2 SESSION_SETUP MID 81)", references: ["MS17-010"],
                  remediation: "Isolate the host and rebuild it; DoublePulsar lets anyone run code on it."),
        // Seen by the jump host's passive sensor, not by a probe; reported in the scan report
        // on the host it is about, and kept and resolved like the scan's findings.
        Detection(id: wormSpreading, worm: .general, kind: .ioc, severity: .critical, source: .scan,
                  title: "Sweeping the segment: repeated connection attempts to the jump host's TCP 135/139/445",
                  references: ["MS08-067", "MS03-026", "MS17-010"],
                  remediation: "Isolate the host now and find the worm on it; it is trying its neighbours' SMB/RPC ports."),
        Detection(id: smbNullSession, worm: .general, kind: .exposure, severity: .medium, source: .scan,
                  title: "Anonymous SMB2/3 session and IPC$ accepted on TCP 445 (no SMB1 null session)",
                  references: ["MS05-039", "MS08-067"],
                  remediation: "Refuse anonymous access: RestrictAnonymous=1 and RestrictNullSessAccess=1 on Windows, "
                      + "restrict anonymous = 2 on Samba; block TCP 445 at segment borders."),
        Detection(id: passwordAge, worm: .conficker, kind: .exposure, severity: .medium, source: .inventory,
                  title: "Account password older than the policy age", references: ["KB958644"],
                  remediation: "Rotate the password (Cordon task rotate-password); Conficker spreads by guessing admin passwords."),
        Detection(id: emptyPassword, worm: .conficker, kind: .exposure, severity: .critical, source: .inventory,
                  title: "Account with an empty password", references: [],
                  remediation: "Set a password or lock the account (rotate-password)."),
        Detection(id: unexpectedUID0, worm: .general, kind: .ioc, severity: .critical, source: .inventory,
                  title: "An account other than root has UID 0 and can log in", references: [],
                  remediation: "Lock it now (lock-account: password locked, shell nologin; cordon plan proposes it), then investigate and remove the account; it is a common backdoor."),
        Detection(id: newScheduledTask, worm: .conficker, kind: .ioc, severity: .high, source: .inventory,
                  title: "Scheduled task that appeared since the baseline", references: ["KB958644"],
                  remediation: "Review it; remove it with remove-scheduled-task if it is not yours (Conficker schedules jobs)."),
        Detection(id: taskFromWritablePath, worm: .general, kind: .ioc, severity: .high, source: .inventory,
                  title: "Scheduled task runs from a world-writable or temporary path", references: [],
                  remediation: "Review and remove the task; move legitimate jobs to root-owned paths."),
        Detection(id: failedLogonBurst, worm: .conficker, kind: .ioc, severity: .high, source: .inventory,
                  title: "Burst of failed logons from one source (password guessing)", references: ["KB958644"],
                  remediation: "Find and isolate the source host; it is likely infected and guessing passwords."),
        Detection(id: wormPortsUnblocked, worm: .general, kind: .exposure, severity: .medium, source: .inventory,
                  title: "Worm ports not blocked on the jump host's firewall", references: ["MS03-039", "MS17-010"],
                  remediation: "Push block-ports for TCP 135, 139, 445, 593 and UDP 135, 137, 138, 445."),
    ]

    private static let byID: [String: Detection] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    public static func detection(_ id: String) -> Detection? { byID[id] }
}
