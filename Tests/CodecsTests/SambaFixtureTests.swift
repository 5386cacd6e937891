import Testing
@testable import CordonCodecs

/// Replies captured from real Samba 4.17 (Debian) by the lab client (Fixtures/samba-lab.sh):
/// smbd with `server min protocol = NT1` (SMB1 on), the default (SMB1 off), and SMB1 with
/// `server signing = mandatory` + `restrict anonymous = 2`; nmbd for NBSTAT; samba-dcerpcd for
/// the endpoint mapper. Each file holds one NetBIOS frame (or datagram / PDU) in hex.
@Suite struct SambaFixtureTests {
    func frame(_ name: String) throws -> NetBIOSFrame {
        try NetBIOSFrame(bytes: hex(try Fixture.text(name)))
    }

    func smb1(_ name: String) throws -> SMB1Message {
        try SMB1Message.parse(try frame(name).payload)
    }

    @Test func negotiateWithSMB1On() throws {
        guard case .smb1(let n) = try SMBNegotiateReply.parse(try frame("samba-smb1-negotiate-extended.hex").payload) else {
            Issue.record("not SMB1"); return
        }
        #expect(n.dialectIndex == 0)
        #expect(n.extendedSecurity && n.offersSPNEGO)
        #expect(n.signingEnabled == false && n.signingRequired == false)
        #expect(n.serverGUID?.count == 16)
        #expect(n.capabilities & SMB1Capabilities.unicode != 0)
    }

    @Test func legacyNegotiateCarriesUTF16NamesWithoutTheUnicodeFlag() throws {
        guard case .smb1(let n) = try SMBNegotiateReply.parse(try frame("samba-smb1-negotiate-legacy.hex").payload) else {
            Issue.record("not SMB1"); return
        }
        #expect(!n.extendedSecurity)
        #expect(n.flags2 & SMB1Flags2.unicode == 0)
        #expect(n.challenge?.count == 8)
        #expect(n.domainName == "CXLAB")
        #expect(n.serverName == "CXSAMBA1")
    }

    @Test func smb1DisabledAnswersNoDialect() throws {
        guard case .smb1(let n) = try SMBNegotiateReply.parse(try frame("samba-smb1-negotiate-smb1-disabled.hex").payload) else {
            Issue.record("not SMB1"); return
        }
        #expect(n.noDialectAccepted)
    }

    @Test func signingRequiredIsSeenOnBothProtocols() throws {
        guard case .smb1(let n1) = try SMBNegotiateReply.parse(try frame("samba-smb1-negotiate-signing-required.hex").payload),
              case .smb2(let n2) = try SMBNegotiateReply.parse(try frame("samba-smb2-negotiate-signing-required.hex").payload) else {
            Issue.record("wrong protocol"); return
        }
        #expect(n1.signingRequired && n1.securityMode == 0x0F)
        #expect(n2.signingRequired)
    }

    @Test func ntlmChallengeNamesTheServer() throws {
        let reply = try SMB1SessionSetupResponse.parse(try smb1("samba-smb1-session-challenge.hex"))
        #expect(reply.status == .moreProcessingRequired)
        #expect(reply.uid != 0)
        #expect(reply.nativeOS == "Windows 6.1")
        #expect(reply.nativeLanMan == "Samba 4.17.12-Debian")
        let info = try NTLMChallengeInfo.parse(blob: try #require(reply.securityBlob))
        #expect(info.netBIOSComputerName == "CXSAMBA1")
        #expect(info.netBIOSDomainName == "CXSAMBA1")
        #expect(info.osVersion?.description == "6.1.0")
        #expect(info.timestamp != nil)
        let smb2 = try SMB2SessionSetup.Response.parse(try frame("samba-smb2-session-challenge.hex").payload)
        #expect(smb2.status == .moreProcessingRequired)
        #expect(try NTLMChallengeInfo.parse(blob: smb2.securityBlob).netBIOSComputerName == "CXSAMBA2")
    }

    @Test func anonymousLogonsAndIPC() throws {
        let anonymous = try SMB1SessionSetupResponse.parse(try smb1("samba-smb1-session-anonymous.hex"))
        #expect(anonymous.status == .success && !anonymous.isGuest)
        let legacy = try SMB1SessionSetupResponse.parse(try smb1("samba-smb1-session-legacy-null.hex"))
        #expect(legacy.status == .success)
        #expect(legacy.nativeOS == "Windows 6.1")
        #expect(legacy.primaryDomain == "CXLAB")
        let tree = try SMB1TreeConnectResponse.parse(try smb1("samba-smb1-tree-ipc.hex"))
        #expect(tree.status == .success && tree.tid != 0 && tree.service == "IPC")
        let denied = try SMB1TreeConnectResponse.parse(try smb1("samba-smb1-tree-ipc-denied.hex"))
        #expect(denied.status == .accessDenied)
    }

    /// Samba is not Windows: PeekNamedPipe on FID 0 gives STATUS_INVALID_HANDLE ("patched" by the
    /// nmap script's rule) and Trans2 SESSION_SETUP gives ACCESS_DENIED with MID 65 (no implant).
    @Test func wannaCryChecksOnSamba() throws {
        let peek = try smb1("samba-smb1-peeknamedpipe.hex")
        #expect(peek.header.command == SMB1Command.transaction)
        #expect(SMBProbeResult.classifyMS17010(peek.header.status) == .patched(.invalidHandle))
        let pulsar = try smb1("samba-smb1-trans2-doublepulsar.hex")
        #expect(pulsar.header.mid == 65)
        #expect(pulsar.header.status == .accessDenied)
    }

    @Test func smb2Negotiate311() throws {
        guard case .smb2(let n) = try SMBNegotiateReply.parse(try frame("samba-smb2-negotiate.hex").payload) else {
            Issue.record("not SMB2"); return
        }
        #expect(n.dialect == SMB2Dialect.smb311)
        #expect(n.signingEnabled && !n.signingRequired)
        #expect(n.preauthHash == SMB2Negotiate.sha512)
        #expect(n.selectedCipher == nil) // Samba 4.17 returned only the preauth context
        #expect(SPNEGO.containsSPNEGOOID(n.securityBlob))
        #expect(n.systemTime > FileTime.fileTime(unixSeconds: 1_600_000_000))
    }

    @Test func netBIOSNBStatAndDCERPC() throws {
        #expect(try NetBIOSSession.parseSessionResponse(try frame("samba-netbios-positive.hex")) == .positive)
        let nbstat = try NBStat.parseResponse(hex(try Fixture.text("samba-nbstat-response.hex")), expectedTransactionID: 0x1337)
        #expect(nbstat.workgroup == "CXLAB")
        #expect(nbstat.computerName == "CXSAMBA3")
        #expect(nbstat.names.count == 5)
        #expect(nbstat.macString == nil) // Samba reports an all-zero unit ID
        guard case .bindAck(let ack) = try DCERPC.parseBindReply(hex(try Fixture.text("samba-dcerpc-bind-ack.hex"))) else {
            Issue.record("no bind_ack"); return
        }
        #expect(ack.accepted && ack.secondaryAddress == "135")
        #expect(ack.results.first?.transferSyntax == .ndr)
    }

    /// The SMB1 conversation, replayed with Samba's own replies, ends with what the live run saw.
    @Test func replayedSMB1ConversationGivesTheLiveResult() throws {
        var rng = SeededRandom(seed: 1)
        var options = SMBProbeOptions(host: "198.18.0.1", using: &rng)
        options.pid = 0x1234
        var conversation = SMB1Conversation(options: options)
        guard case .send = conversation.connected() else { Issue.record("no negotiate"); return }
        let replies = ["samba-smb1-negotiate-extended.hex", "samba-smb1-session-challenge.hex", "samba-smb1-session-anonymous.hex",
                       "samba-smb1-tree-ipc.hex", "samba-smb1-peeknamedpipe.hex", "samba-smb1-trans2-doublepulsar.hex"]
        var last = SMBConversationAction.wait
        for name in replies {
            last = conversation.receive(hex(try Fixture.text(name)))
            if name != replies.last { guard case .send = last else { Issue.record("stopped at \(name): \(last)"); return } }
        }
        #expect(last == .done)
        let result = conversation.result
        #expect(result.smb1 == .enabled(dialect: "NT LM 0.12"))
        #expect(result.nullSession == .allowed(guest: false))
        guard case .connected = result.ipc else { Issue.record("\(result.ipc)"); return }
        #expect(result.ms17010 == .patched(.invalidHandle))
        #expect(result.doublePulsar == .absent(mid: 65, status: .accessDenied))
        #expect(result.ntlm?.netBIOSComputerName == "CXSAMBA1")
        #expect(result.nativeLanMan == "Samba 4.17.12-Debian")
    }
}
