import CordonCodecs
import CordonShared

/// What a safe probe of one port found, before it is turned into report entries.
public enum ServiceProbeResult: Sendable {
    case http(HTTPProbeResult)
    /// The same probe over TLS.
    case https(HTTPProbeResult)
    case smb(SMBProbeResult)
    case dcerpc(DCERPCBindProbe.Result)
    /// The banner bytes read (empty when the service said nothing).
    case banner(ScanProfile.BannerRole, [UInt8])
    case conficker(ConfickerP2P.ReplyValidation)
    case nbstat(NBStat.Response)
    case tftp(TFTP.Reply)
}

/// What the report says about one port beyond its state.
public struct ServiceAnnotation: Sendable, Equatable {
    public var service: String?
    public var product: String?
    public var version: String?
    public var banner: String?

    public init(service: String? = nil, product: String? = nil, version: String? = nil, banner: String? = nil) {
        self.service = service
        self.product = product
        self.version = version
        self.banner = banner
    }
}

/// Names and OS a probe learned about the host.
public struct HostIdentity: Sendable, Equatable {
    public var netbiosName: String?
    public var workgroup: String?
    public var dnsName: String?
    public var mac: String?
    public var osGuess: String?

    public init(netbiosName: String? = nil, workgroup: String? = nil, dnsName: String? = nil, mac: String? = nil, osGuess: String? = nil) {
        self.netbiosName = netbiosName
        self.workgroup = workgroup
        self.dnsName = dnsName
        self.mac = mac
        self.osGuess = osGuess
    }

    /// Fills the fields still empty from `other`.
    public mutating func merge(_ other: HostIdentity) {
        netbiosName = netbiosName ?? other.netbiosName
        workgroup = workgroup ?? other.workgroup
        dnsName = dnsName ?? other.dnsName
        mac = mac ?? other.mac
        osGuess = osGuess ?? other.osGuess
    }
}

/// The mapping of one probe's result.
public struct ProbeMapping: Sendable, Equatable {
    public var annotation: ServiceAnnotation
    public var findings: [FindingObservation]
    public var identity: HostIdentity

    public init(annotation: ServiceAnnotation = .init(), findings: [FindingObservation] = [], identity: HostIdentity = .init()) {
        self.annotation = annotation
        self.findings = findings
        self.identity = identity
    }
}

/// Turns probe results into catalogue findings, service names and host identity. Pure.
///
/// Evidence is printable and bounded; where a verdict is inferred rather than observed the
/// evidence says so ("inferred from ..."), and unsafe checks are reported as not probed.
public enum FindingMapper {
    static let bannerLength = 256

    public static func map(_ result: ServiceProbeResult, port: UInt16, proto: TransportProtocol) -> ProbeMapping {
        switch result {
        case .http(let r): http(r, port: port, tls: false)
        case .https(let r): http(r, port: port, tls: true)
        case .smb(let r): smb(r, port: port)
        case .dcerpc(let r): dcerpc(r, port: port)
        case .banner(let role, let bytes): banner(bytes, role: role, port: port)
        case .conficker(let v): conficker(v, port: port, proto: proto)
        case .nbstat(let r): nbstat(r, port: port)
        case .tftp(let r): tftp(r, port: port)
        }
    }

    // MARK: HTTP (Code Red)

    public static func http(_ r: HTTPProbeResult, port: UInt16, tls: Bool = false) -> ProbeMapping {
        var m = ProbeMapping()
        let name = tls ? "https" : "http"
        m.annotation.service = r.rootStatus != nil ? name : ScanProfile.serviceName(port: port, proto: .tcp)
        if let server = r.serverHeader { m.annotation.banner = Evidence.sanitize("Server: \(server)", maxLength: bannerLength) }
        let p = Int(port)
        if let version = r.iisVersion {
            m.annotation.product = "Microsoft IIS httpd"
            m.annotation.version = version
            m.identity.osGuess = "Windows (inferred from IIS \(version))"
            let major = Int(version.split(separator: ".").first ?? "") ?? 0
            if major == 4 || major == 5 {
                m.findings.append(FindingObservation(
                    detectionID: DetectionCatalogue.codeRedIIS, port: p, proto: .tcp,
                    evidence: "Server: \(r.serverHeader ?? "Microsoft-IIS/\(version)") (HTTP \(r.rootStatus ?? 0) to GET /"
                        + (r.rootHeadCutOff.map { "; the response head was cut off: \($0)" } ?? "") + "); patch state not probed"))
            }
        } else if let server = r.serverHeader {
            m.annotation.product = productFromServerHeader(server)
        }
        if case .live(let evidence) = r.idaMapping {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.codeRedIdaMapping, port: p, proto: .tcp,
                evidence: "GET \(IIS.idaProbePath) answered by the Index Server ISAPI handler: \(evidence)"))
        }
        for (path, presence) in r.rootExe {
            if case .present(let evidence) = presence {
                m.findings.append(FindingObservation(
                    detectionID: DetectionCatalogue.codeRedRootExe, port: p, proto: .tcp,
                    evidence: "GET \(path) (no command run): \(evidence)"))
                break
            }
        }
        return m
    }

    /// "Apache/2.4.57 (Debian)" → "Apache/2.4.57".
    static func productFromServerHeader(_ header: String) -> String {
        String(Evidence.sanitize(header, maxLength: 80).split(separator: " ").first ?? "")
    }

    // MARK: SMB (WannaCry, Zotob, Conficker exposure)

    public static func smb(_ r: SMBProbeResult, port: UInt16) -> ProbeMapping {
        var m = ProbeMapping()
        let p = Int(port)
        m.annotation.service = port == 139 ? "netbios-ssn" : "microsoft-ds"
        let samba = [r.nativeLanMan, r.nativeOS].contains { $0?.localizedSambaCheck == true }
        let answered: Bool = {
            if case .enabled = r.smb1 { return true }
            if case .supported = r.smb2 { return true }
            return r.smb1Negotiate != nil
        }()
        if samba {
            m.annotation.product = "Samba smbd"
            if let lanman = r.nativeLanMan, lanman.localizedSambaCheck {
                let version = lanman.split(separator: " ").dropFirst().first.map(String.init)
                m.annotation.version = version
                m.identity.osGuess = Evidence.sanitize(lanman, maxLength: 80)
            }
        } else if answered {
            m.annotation.product = "Microsoft Windows SMB"
        }
        // Identity: NTLMSSP names and OS build, else the native OS string.
        if let ntlm = r.ntlm {
            m.identity.netbiosName = nonEmpty(ntlm.netBIOSComputerName)
            m.identity.workgroup = nonEmpty(ntlm.netBIOSDomainName)
            if let dns = nonEmpty(ntlm.dnsComputerName), dns.contains(".") { m.identity.dnsName = dns }
            if !samba, let v = ntlm.osVersion {
                m.identity.osGuess = "Windows \(v.major).\(v.minor) (build \(v.build))"
            }
        }
        if m.identity.osGuess == nil, let os = nonEmpty(r.nativeOS) { m.identity.osGuess = Evidence.sanitize(os, maxLength: 80) }
        m.identity.workgroup = m.identity.workgroup ?? nonEmpty(r.primaryDomain)

        var dialects: [String] = []
        if case .enabled(let dialect) = r.smb1 { dialects.append("SMB1 \(dialect)") }
        if let d = r.smb2Dialect { dialects.append("SMB \(smb2DialectName(d))") }
        if !dialects.isEmpty { m.annotation.banner = Evidence.sanitize(dialects.joined(separator: ", "), maxLength: bannerLength) }

        // Conficker (MS08-067): the port answers SMB; the patch state is deliberately not probed.
        if answered, !samba {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.confickerSMB, port: p, proto: .tcp,
                evidence: "SMB answers on TCP \(port)\(dialects.isEmpty ? "" : " (\(dialects.joined(separator: ", ")))"); "
                    + "MS08-067 patch state unknown: not probed (unsafe check)"))
        }
        if case .enabled(let dialect) = r.smb1 {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.wannacrySMBv1, port: p, proto: .tcp,
                evidence: "SMB1-only NEGOTIATE accepted: dialect \(dialect)"))
        }
        if case .allowed(let guest) = r.nullSession, case .connected = r.ipc {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.zotobNullSession, port: p, proto: .tcp,
                evidence: "anonymous session setup succeeded\(guest ? " (mapped to guest)" : "") and tree connect to IPC$ succeeded"))
        } else if case .allowed(let guest) = r.smb2NullSession, case .connected = r.smb2IPC {
            // The same exposure without SMB1: reported on its own, not as Zotob's.
            let dialect = r.smb2Dialect.map { " (SMB \(SMB2Dialect.name($0)))" } ?? ""
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.smbNullSession, port: p, proto: .tcp,
                evidence: "anonymous SMB2 session setup succeeded\(guest ? " (mapped to guest)" : "")\(dialect) and tree connect to IPC$ succeeded"
                    + Self.smb1NullSessionNote(r.nullSession)))
        }
        if case .vulnerable(let status) = r.ms17010 {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.wannacryMS17010, port: p, proto: .tcp,
                evidence: "PeekNamedPipe on FID 0 answered \(statusText(status)): MS17-010 missing (inferred from that status, "
                    + "as smb-vuln-ms17-010 does; nothing exploited)"))
        }
        if case .present(let mid, let status) = r.doublePulsar {
            m.findings.append(FindingObservation(
                detectionID: DetectionCatalogue.wannacryDoublePulsar, port: p, proto: .tcp,
                evidence: "Trans2 SESSION_SETUP with MID 65 answered with MID \(mid) (\(statusText(status))): DoublePulsar ping reply"))
        }
        return m
    }

    static func smb2DialectName(_ d: UInt16) -> String {
        switch d {
        case 0x0202: "2.0.2"
        case 0x0210: "2.1"
        case 0x0300: "3.0"
        case 0x0302: "3.0.2"
        case 0x0311: "3.1.1"
        case 0x02FF: "2.x"
        default: "0x" + String(d, radix: 16)
        }
    }

    /// "STATUS_INSUFF_SERVER_RESOURCES (0xC0000205)".
    static func statusText(_ status: NTStatus) -> String { Evidence.sanitize(status.description, maxLength: 80) }

    /// What the SMB1 null-session check said, for the evidence of the SMB2 one.
    static func smb1NullSessionNote(_ status: SMBProbeResult.NullSessionStatus) -> String {
        switch status {
        case .notTested: ""
        case .allowed: "; over SMB1 the anonymous session was accepted but IPC$ was not"
        case .denied(let status): "; over SMB1 refused (\(statusText(status)))"
        case .unknown(let reason): "; over SMB1: \(Evidence.sanitize(reason, maxLength: 80))"
        }
    }

    // MARK: DCE/RPC (Blaster)

    public static func dcerpc(_ r: DCERPCBindProbe.Result, port: UInt16) -> ProbeMapping {
        var m = ProbeMapping()
        switch r {
        case .msrpc(let ack):
            m.annotation = ServiceAnnotation(service: "msrpc", product: "Microsoft Windows RPC",
                                             banner: Evidence.sanitize("bind_ack \(ack.accepted ? "accepted" : "rejected")", maxLength: bannerLength))
            if ack.accepted {
                m.findings.append(FindingObservation(
                    detectionID: DetectionCatalogue.blasterRPC, port: Int(port), proto: .tcp,
                    evidence: "DCE/RPC bind to the endpoint mapper (e1af8308-5d1f-11c9-91a4-08002b14a0fa v3) acknowledged"
                        + (ack.secondaryAddress.isEmpty ? "" : ", secondary address \(Evidence.sanitize(ack.secondaryAddress, maxLength: 32))")
                        + "; MS03-026/MS03-039 patch state not probed"))
            }
        case .bindNak(let reason):
            m.annotation = ServiceAnnotation(service: "msrpc", banner: "bind_nak reason \(reason)")
        case .fault(let status):
            m.annotation = ServiceAnnotation(service: "msrpc", banner: "fault 0x\(String(status, radix: 16))")
        case .notDCERPC(let evidence):
            m.annotation = ServiceAnnotation(service: ScanProfile.serviceName(port: port, proto: .tcp),
                                             banner: Evidence.sanitize(evidence, maxLength: bannerLength))
        case .noAnswer:
            m.annotation = ServiceAnnotation(service: ScanProfile.serviceName(port: port, proto: .tcp))
        }
        return m
    }

    // MARK: Banners (Blaster and Zotob backdoors)

    public static func banner(_ bytes: [UInt8], role: ScanProfile.BannerRole, port: UInt16) -> ProbeMapping {
        var m = ProbeMapping()
        let c = BannerClassifier.classify(bytes)
        m.annotation.service = ScanProfile.serviceName(port: port, proto: .tcp)
        if !c.evidence.isEmpty { m.annotation.banner = Evidence.sanitize(c.evidence, maxLength: bannerLength) }
        let p = Int(port)
        switch c.kind {
        case .windowsShell(let version, _):
            m.annotation.service = "shell"
            m.annotation.product = "Microsoft Windows cmd.exe"
            m.annotation.version = version
            if let version { m.identity.osGuess = "Windows \(version) (inferred from a cmd.exe banner)" }
            switch role {
            case .blasterShell:
                m.findings.append(FindingObservation(detectionID: DetectionCatalogue.blasterShell, port: p, proto: .tcp,
                                                     evidence: "cmd.exe banner: \(c.evidence)"))
            case .zotobShell:
                m.findings.append(FindingObservation(detectionID: DetectionCatalogue.zotobShell, port: p, proto: .tcp,
                                                     evidence: "cmd.exe banner: \(c.evidence)"))
            case .zotobFTP:
                // A shell where Zotob puts its FTP server: still a backdoor shell.
                m.findings.append(FindingObservation(detectionID: DetectionCatalogue.zotobShell, port: p, proto: .tcp,
                                                     evidence: "cmd.exe banner on TCP \(port): \(c.evidence)"))
            }
        case .ftp(let greeting):
            m.annotation.service = "ftp"
            if role == .zotobFTP {
                m.findings.append(FindingObservation(detectionID: DetectionCatalogue.zotobFTP, port: p, proto: .tcp,
                                                     evidence: "FTP greeting: \(greeting)"))
            }
        case .other, .empty:
            break
        }
        return m
    }

    // MARK: Conficker P2P

    public static func conficker(_ v: ConfickerP2P.ReplyValidation, port: UInt16, proto: TransportProtocol) -> ProbeMapping {
        var m = ProbeMapping()
        guard case .infected(let message) = v else { return m }
        m.annotation = ServiceAnnotation(service: "conficker-p2p", product: "Conficker.C P2P")
        var evidence = "valid Conficker.C P2P reply on \(proto.rawValue)/\(port): decrypted, checksum correct, flags 0x\(String(message.flags, radix: 16))"
        if let s = message.sysinfo {
            evidence += ", sysinfo Windows \(s.osMajor).\(s.osMinor) build \(s.osBuild) SP\(s.servicePackMajor)"
            m.identity.osGuess = "Windows \(s.osMajor).\(s.osMinor) (build \(s.osBuild)) (from the Conficker reply)"
        }
        m.findings.append(FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: Int(port), proto: proto, evidence: evidence))
        return m
    }

    // MARK: UDP: NBSTAT, TFTP

    public static func nbstat(_ r: NBStat.Response, port: UInt16) -> ProbeMapping {
        var m = ProbeMapping()
        m.annotation.service = "netbios-ns"
        m.identity.netbiosName = nonEmpty(r.computerName)
        m.identity.workgroup = nonEmpty(r.workgroup)
        m.identity.mac = r.macString
        let names = r.names.prefix(8).map { "\($0.name.name)<\(String(format2: $0.name.suffix))>" }
        m.annotation.banner = Evidence.sanitize(names.joined(separator: " "), maxLength: bannerLength)
        return m
    }

    public static func tftp(_ reply: TFTP.Reply, port: UInt16) -> ProbeMapping {
        var m = ProbeMapping()
        let evidence: String
        switch reply {
        case .notTFTP: return m
        case .data(let block, let size): evidence = "TFTP DATA block \(block) (\(size) bytes)"
        case .error(let code, let message): evidence = "TFTP ERROR \(code) \(message)"
        case .optionAck: evidence = "TFTP OACK"
        }
        m.annotation = ServiceAnnotation(service: "tftp", banner: Evidence.sanitize(evidence, maxLength: bannerLength))
        m.findings.append(FindingObservation(detectionID: DetectionCatalogue.blasterTFTP, port: Int(port), proto: .udp,
                                             evidence: "read request of \(TFTP.probeFileName) answered: \(evidence)"))
        return m
    }

    static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return Evidence.sanitize(s, maxLength: 64)
    }
}

extension String {
    fileprivate var localizedSambaCheck: Bool { lowercased().contains("samba") }

    fileprivate init(format2 value: UInt8) {
        let hex = String(value, radix: 16, uppercase: true)
        self = hex.count < 2 ? "0" + hex : hex
    }
}
