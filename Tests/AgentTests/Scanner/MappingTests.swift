import CordonCodecs
import CordonShared
import Testing
@testable import CordonAgent

@Suite struct ScanProfileTests {
    @Test func wormsProfilePorts() throws {
        let worms = try ScanProfile.named("worms")
        #expect(worms.tcp.map(\.port) == [80, 443, 135, 139, 445, 593, 4444, 8888, 33333])
        #expect(worms.udp.map(\.port) == [69, 137])
        #expect(worms.confickerP2P)
        #expect(worms.tcp.first { $0.port == 445 }?.probe == .smbDirect)
        #expect(worms.tcp.first { $0.port == 4444 }?.probe == .banner(.blasterShell))
        #expect(worms.udp.first { $0.port == 137 }?.probe == .nbstat)
        let quick = try ScanProfile.named("quick")
        #expect(quick.tcp.map(\.port) == [445])
        #expect(quick.udp.isEmpty && !quick.confickerP2P)
    }

    @Test func unknownProfileIsAClearError() {
        #expect {
            _ = try ScanProfile.named("wormz")
        } throws: { error in
            (error as? AgentError) == .config && "\(error)".contains("wormz") && "\(error)".contains("worms")
        }
    }

    @Test func nmapServiceNames() {
        #expect(ScanProfile.serviceName(port: 445, proto: .tcp) == "microsoft-ds")
        #expect(ScanProfile.serviceName(port: 139, proto: .tcp) == "netbios-ssn")
        #expect(ScanProfile.serviceName(port: 135, proto: .tcp) == "msrpc")
        #expect(ScanProfile.serviceName(port: 137, proto: .udp) == "netbios-ns")
        #expect(ScanProfile.serviceName(port: 69, proto: .udp) == "tftp")
    }
}

/// Probe results from the codecs' simulated servers, through the real state machines and the
/// real driver (in memory), mapped to findings.
@Suite struct ScanFindingMappingTests {
    let address = IPv4Address(198, 18, 0, 9)

    func run<P: StreamProbe>(_ probe: P, _ server: ScanMemoryTransport.Server) async -> ProbeDriver.Run<P.Output> {
        let driver = ProbeDriver(transport: ScanMemoryTransport(server: server),
                                 limits: .init(connectTimeout: .seconds(1), stepTimeout: .milliseconds(50), deadline: .seconds(5)))
        return await driver.run(probe, address: address, port: 445)
    }

    func ids(_ m: ProbeMapping) -> Set<String> { Set(m.findings.map(\.detectionID)) }

    @Test func anAnonymousSMB2SessionIsItsOwnExposureNotZotobs() async {
        var anonymous = SimulatedSMBProfile.windows10
        anonymous.nullSessionAllowed = true
        let r = await run(SMBStreamProbe(options: SMBProbeOptions(host: address.description)), .smb(anonymous))
        let m = FindingMapper.smb(r.output, port: 445)
        #expect(ids(m) == [DetectionCatalogue.smbNullSession, DetectionCatalogue.confickerSMB])
        let evidence = m.findings.first { $0.detectionID == DetectionCatalogue.smbNullSession }?.evidence ?? ""
        #expect(evidence.contains("SMB 3.1.1") && evidence.contains("IPC$") && evidence.contains("over SMB1: SMBv1 disabled"), "\(evidence)")
        // With SMB1 null sessions too, the host is Zotob's exposure, reported once.
        let xp = await run(SMBStreamProbe(options: SMBProbeOptions(host: address.description)), .smb(.windowsXP))
        #expect(ids(FindingMapper.smb(xp.output, port: 445)).contains(DetectionCatalogue.zotobNullSession))
        #expect(!ids(FindingMapper.smb(xp.output, port: 445)).contains(DetectionCatalogue.smbNullSession))
        // Refused over SMB2 (Windows 10's default): nothing.
        let refused = await run(SMBStreamProbe(options: SMBProbeOptions(host: address.description)), .smb(.windows10))
        #expect(ids(FindingMapper.smb(refused.output, port: 445)) == [DetectionCatalogue.confickerSMB])
    }

    @Test func unpatchedSMB1HostIsAWannaCryTarget() async {
        let r = await run(SMBStreamProbe(options: SMBProbeOptions(host: address.description)), .smb(.windowsXP))
        #expect(r.finished)
        let m = FindingMapper.smb(r.output, port: 445)
        #expect(ids(m) == [DetectionCatalogue.wannacrySMBv1, DetectionCatalogue.wannacryMS17010, DetectionCatalogue.zotobNullSession,
                           DetectionCatalogue.confickerSMB])
        let ms17 = m.findings.first { $0.detectionID == DetectionCatalogue.wannacryMS17010 }
        #expect(ms17?.evidence.contains("0xC0000205") == true)
        #expect(ms17?.port == 445 && ms17?.proto == .tcp)
        #expect(m.findings.first { $0.detectionID == DetectionCatalogue.confickerSMB }?.evidence.contains("not probed") == true)
        #expect(m.annotation.service == "microsoft-ds")
        #expect(m.identity.netbiosName == "WORMHOST")
        #expect(m.identity.workgroup == "WORKGROUP")
        #expect(m.identity.osGuess == "Windows 5.1 (build 2600)")
    }

    @Test func doublePulsarImplantIsAnIOC() async {
        let r = await run(SMBStreamProbe(options: SMBProbeOptions(host: address.description)), .smb(.windows2000Infected))
        let m = FindingMapper.smb(r.output, port: 445)
        #expect(ids(m).contains(DetectionCatalogue.wannacryDoublePulsar))
        #expect(m.identity.osGuess == "Windows 5.0 (build 2195)")
    }

    @Test func patchedAndModernHostsHaveNoWannaCryFindings() async {
        let dc = FindingMapper.smb(await run(SMBStreamProbe(options: SMBProbeOptions(host: "x")), .smb(.windows2003DC)).output, port: 445)
        #expect(ids(dc).contains(DetectionCatalogue.wannacrySMBv1))
        #expect(!ids(dc).contains(DetectionCatalogue.wannacryMS17010))
        #expect(dc.identity.dnsName == "dc01.corp.example")
        let win10 = FindingMapper.smb(await run(SMBStreamProbe(options: SMBProbeOptions(host: "x")), .smb(.windows10)).output, port: 445)
        #expect(ids(win10) == [DetectionCatalogue.confickerSMB])
        #expect(win10.annotation.banner?.contains("3.1.1") == true)
        let win7 = FindingMapper.smb(await run(SMBStreamProbe(options: SMBProbeOptions(host: "x")), .smb(.windows7Unpatched)).output, port: 445)
        // No null session: MS17-010 cannot be checked, and is not claimed.
        #expect(ids(win7) == [DetectionCatalogue.wannacrySMBv1, DetectionCatalogue.confickerSMB])
    }

    @Test func refusedConnectionsGiveNoFindings() async {
        let r = await run(SMBStreamProbe(options: SMBProbeOptions(host: "x")), .refuse)
        #expect(r.connections == 0)
        #expect(FindingMapper.smb(r.output, port: 445).findings.isEmpty)
    }

    @Test func codeRedIIS() async {
        let clean = await run(HTTPStreamProbe(host: address.description), .iis(SimulatedIIS(version: "5.0", idaMapped: false)))
        #expect(ids(FindingMapper.http(clean.output, port: 80)) == [DetectionCatalogue.codeRedIIS])
        let infected = await run(HTTPStreamProbe(host: address.description), .iis(SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true)))
        let m = FindingMapper.http(infected.output, port: 80)
        #expect(ids(m) == [DetectionCatalogue.codeRedIIS, DetectionCatalogue.codeRedIdaMapping, DetectionCatalogue.codeRedRootExe])
        #expect(m.annotation.product == "Microsoft IIS httpd" && m.annotation.version == "5.0" && m.annotation.service == "http")
        let iis6 = await run(HTTPStreamProbe(host: address.description), .iis(SimulatedIIS(version: "6.0", idaMapped: false)))
        #expect(FindingMapper.http(iis6.output, port: 80).findings.isEmpty)
        // A head cut off after the Server line: the finding stands and its evidence says so.
        var cut = HTTPProbeResult()
        cut.rootStatus = 200
        cut.serverHeader = "Microsoft-IIS/5.0"
        cut.iisVersion = "5.0"
        cut.rootHeadCutOff = "response head over 16384 bytes"
        let evidence = FindingMapper.http(cut, port: 80).findings.first { $0.detectionID == DetectionCatalogue.codeRedIIS }?.evidence
        #expect(evidence?.contains("the response head was cut off: response head over 16384 bytes") == true, "\(evidence ?? "nil")")
    }

    @Test func endpointMapper() async {
        let r = await run(DCERPCStreamProbe(), .epmap)
        let m = FindingMapper.dcerpc(r.output, port: 135)
        #expect(ids(m) == [DetectionCatalogue.blasterRPC])
        #expect(m.annotation.service == "msrpc")
        #expect(FindingMapper.dcerpc(.notDCERPC(evidence: "48545450"), port: 135).findings.isEmpty)
        #expect(FindingMapper.dcerpc(.bindNak(reason: 4), port: 135).findings.isEmpty)
    }

    @Test func bannersOfBackdoors() async {
        let shell = await run(BannerStreamProbe(), .banner(BannerClassifier.windowsXPShellBanner))
        #expect(shell.finished)
        let blaster = FindingMapper.banner(shell.output ?? [], role: .blasterShell, port: 4444)
        #expect(ids(blaster) == [DetectionCatalogue.blasterShell])
        #expect(blaster.annotation.version == "5.1.2600")
        #expect(ids(FindingMapper.banner(shell.output ?? [], role: .zotobShell, port: 8888)) == [DetectionCatalogue.zotobShell])
        let ftp = FindingMapper.banner(Array("220 bot FTP ready\r\n".utf8), role: .zotobFTP, port: 33333)
        #expect(ids(ftp) == [DetectionCatalogue.zotobFTP])
        #expect(ftp.annotation.service == "ftp")
        // An ordinary service on a backdoor port is no finding.
        #expect(FindingMapper.banner(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8), role: .blasterShell, port: 4444).findings.isEmpty)
        #expect(FindingMapper.banner([], role: .blasterShell, port: 4444).findings.isEmpty)
    }

    @Test func confickerReplies() {
        let octets = IPv4Octets(198, 18, 0, 9)
        let reply = ConfickerP2P.makeReply(address: octets, port: 4321, key1: 5, key2: 6, transport: .udp)
        let m = FindingMapper.conficker(ConfickerP2P.validateReply(reply, transport: .udp), port: 4321, proto: .udp)
        #expect(ids(m) == [DetectionCatalogue.confickerP2P])
        #expect(m.findings.first?.proto == .udp && m.findings.first?.port == 4321)
        var tampered = reply
        tampered[tampered.count - 1] ^= 0xFF
        #expect(FindingMapper.conficker(ConfickerP2P.validateReply(tampered, transport: .udp), port: 4321, proto: .udp).findings.isEmpty)
        #expect(FindingMapper.conficker(ConfickerP2P.validateReply([1, 2, 3], transport: .udp), port: 4321, proto: .udp).findings.isEmpty)
    }

    @Test func nbstatAndTFTP() throws {
        let response = NBStat.makeResponse(transactionID: 7, names: [
            .init(name: NetBIOSName(name: "XPBOX", suffix: 0x00), flags: 0x0400),
            .init(name: NetBIOSName(name: "XPBOX", suffix: 0x20), flags: 0x0400),
            .init(name: NetBIOSName(name: "LAB", suffix: 0x00), flags: 0x8400),
        ], macAddress: [0x00, 0x0C, 0x29, 0x01, 0x02, 0x03])
        let m = FindingMapper.nbstat(try NBStat.parseResponse(response), port: 137)
        #expect(m.identity.netbiosName == "XPBOX" && m.identity.workgroup == "LAB" && m.identity.mac == "00:0c:29:01:02:03")
        #expect(m.findings.isEmpty)
        let tftp = FindingMapper.tftp(TFTP.parseReply(TFTP.makeError()), port: 69)
        #expect(ids(tftp) == [DetectionCatalogue.blasterTFTP])
        #expect(tftp.findings.first?.proto == .udp)
        #expect(FindingMapper.tftp(.notTFTP, port: 69).findings.isEmpty)
    }

    @Test func evidenceIsBoundedAndPrintable() {
        var hostile = Array("Microsoft Windows XP [Version 5.1.2600]\u{1B}[2J\u{202E}".utf8)
        hostile += [UInt8](repeating: 0x07, count: 5000)
        hostile += Array("\r\nC:\\>".utf8)
        let m = FindingMapper.banner(hostile, role: .blasterShell, port: 4444)
        for f in m.findings {
            #expect(f.evidence.count <= FindingObservation.maxEvidence)
            #expect(f.evidence.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
        }
        #expect((m.annotation.banner?.count ?? 0) <= 256)
        // Every finding the mapper emits uses a scan detection of the catalogue.
        for id in ids(m) { #expect(DetectionCatalogue.detection(id)?.source == .scan) }
    }

    @Test func hostReportListsOpenAndFilteredAndTakesIdentityByPriority() {
        var b = HostReportBuilder(address: address)
        b.record(.tcp(445), PortOutcome(state: .open, reason: .connected))
        b.record(.tcp(80), PortOutcome(state: .closed, reason: .refused))
        b.record(.tcp(135), PortOutcome(state: .filtered, reason: .timeout, tries: 2))
        b.record(.udp(137, payload: []), PortOutcome(state: .open, reason: .udpResponse))
        b.record(.udp(69, payload: []), PortOutcome(state: .openFiltered, reason: .timeout))
        b.apply(ProbeMapping(identity: HostIdentity(netbiosName: "FROMSMB", osGuess: "Windows 5.1 (build 2600)")), port: 445, proto: .tcp, priority: 1)
        b.apply(ProbeMapping(identity: HostIdentity(netbiosName: "FROMNBSTAT", mac: "aa:bb:cc:dd:ee:ff")), port: 137, proto: .udp, priority: 0)
        let host = b.build()
        #expect(host.services.map { "\($0.port)/\($0.proto.rawValue)" } == ["445/tcp", "135/tcp", "137/udp"])
        #expect(host.netbiosName == "FROMNBSTAT" && host.osGuess == "Windows 5.1 (build 2600)" && host.mac == "aa:bb:cc:dd:ee:ff")
        #expect(host.reason == "syn-ack tcp/445")
        #expect(host.complete)
    }
}
