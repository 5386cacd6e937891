import Testing
@testable import CordonCodecs

/// The bytes nmap sends, captured from Debian's nselib/smb.lua and the NSE scripts by
/// Fixtures/smb-nmap-harness.lua (PID 0x1234, UID 0x0800, TID 0x0801, MID 1).
@Suite struct SMB1RequestBytesTests {
    func nmapRequest(_ name: String) throws -> [UInt8] {
        let line = try #require(try Fixture.lines("smb-nmap-requests.txt").first { $0.hasPrefix(name + " ") })
        return hex(String(line.dropFirst(name.count + 1)))
    }

    @Test func negotiateIsNmapsByteForByte() throws {
        let expected = try nmapRequest("negotiate")
        #expect(SMB1Negotiate.nmapRequest(pid: 0x1234) == expected)
        #expect(SMB1Negotiate.smb1OnlyRequest(pid: 0x1234) == expected)
        // And what DETECTIONS.md says it is.
        #expect(expected == hex("00000031 ff534d42 72 00000000 18 4568 0000 0000000000000000 0000 0000 3412 0000 0100 00 0e00")
                + [0x02] + Array("NT LM 0.12".utf8) + [0x00, 0x02, 0x00])
    }

    @Test func peekNamedPipeIsNmapsByteForByte() throws {
        #expect(SMB1Transaction.ms17010PeekNamedPipe(pid: 0x1234, uid: 0x0800, tid: 0x0801, mid: 1) == (try nmapRequest("ms17010")))
    }

    @Test func doublePulsarPingIsNmapsByteForByte() throws {
        let ping = SMB1Transaction.doublePulsarPing(pid: 0x1234, uid: 0x0800, tid: 0x0801)
        #expect(ping == (try nmapRequest("doublepulsar")))
        #expect(try SMB1Message.parse(payload(ping)).header.mid == 65)
    }

    @Test func smb1OnlyNegotiateNeverOffersSMB2() throws {
        let request = SMB1Negotiate.smb1OnlyRequest(dialects: SMB1Negotiate.classicDialects + SMB1Negotiate.smb2Dialects, pid: 7)
        let dialects = try SMB1Negotiate.parseRequestDialects(try SMB1Message.parse(payload(request)))
        #expect(dialects == SMB1Negotiate.classicDialects)
        let legacy = try SMB1Message.parse(payload(SMB1Negotiate.smb1OnlyRequest(extendedSecurity: false, pid: 7)))
        #expect(legacy.header.flags2 & SMB1Flags2.extendedSecurity == 0)
    }

    @Test func treeConnectCarriesTheIPCPath() throws {
        let request = SMB1TreeConnect.request(path: SMB1TreeConnect.ipcPath(host: "198.18.0.1"), pid: 1, uid: 2, mid: 3)
        let message = try SMB1Message.parse(payload(request))
        #expect(try SMB1TreeConnect.parseRequestPath(message) == "\\\\198.18.0.1\\IPC$")
        #expect(message.header.uid == 2)
        #expect(SMB1TreeConnect.ipcPath(host: "a\\b/c\r\n") == "\\\\abc\\IPC$")
    }
}

@Suite struct SMB1ReplyParsingTests {
    let request = SMB1Header(command: SMB1Command.negotiate, pid: 0x1234, mid: 1)

    @Test func extendedNegotiateReplyRoundTrip() throws {
        let reply = SMB1NegotiateResponse(dialectIndex: 0, flags2: SMB1Flags2.extendedSecurity | SMB1Flags2.unicode,
                                          securityMode: 0x0F, sessionKey: 0xABCD,
                                          capabilities: SMB1Capabilities.extendedSecurity | SMB1Capabilities.unicode,
                                          systemTime: 0x01D2_CAFE_0000_0000, timeZone: -60, serverGUID: Array(1...16),
                                          securityBlob: SPNEGO.serverNegTokenInit())
        guard case .smb1(let parsed) = try SMBNegotiateReply.parse(payload(reply.makeReply(requestHeader: request))) else {
            Issue.record("not SMB1"); return
        }
        #expect(parsed.dialectIndex == 0)
        #expect(parsed.signingRequired && parsed.signingEnabled)
        #expect(parsed.extendedSecurity)
        #expect(parsed.offersSPNEGO)
        #expect(parsed.serverGUID == Array(1...16))
        #expect(parsed.sessionKey == 0xABCD)
        #expect(parsed.timeZone == -60)
        #expect(parsed.systemTime == 0x01D2_CAFE_0000_0000)
    }

    @Test func legacyNegotiateReplyGivesChallengeDomainAndServer() throws {
        for (flags2, capabilities) in [(SMB1Flags2.unicode, SMB1Capabilities.unicode), (0, SMB1Capabilities.unicode), (0, 0)] {
            let reply = SMB1NegotiateResponse(dialectIndex: 0, flags2: flags2, securityMode: 0x03,
                                              capabilities: capabilities, challenge: Array(1...8),
                                              domainName: "WORKGROUP", serverName: "WORMHOST")
            guard case .smb1(let parsed) = try SMBNegotiateReply.parse(payload(reply.makeReply(requestHeader: request))) else {
                Issue.record("not SMB1"); return
            }
            #expect(!parsed.extendedSecurity)
            #expect(!parsed.signingRequired)
            #expect(parsed.challenge == Array(1...8))
            #expect(parsed.domainName == "WORKGROUP")
            #expect(parsed.serverName == "WORMHOST")
        }
    }

    @Test func noDialectAccepted() throws {
        let reply = SMB1NegotiateResponse(dialectIndex: 0xFFFF).makeReply(requestHeader: request)
        guard case .smb1(let parsed) = try SMBNegotiateReply.parse(payload(reply)) else { Issue.record("not SMB1"); return }
        #expect(parsed.noDialectAccepted)
    }

    @Test func sessionSetupReplyStringsAreAlignedAndDecoded() throws {
        let header = SMB1Header(command: SMB1Command.sessionSetupAndX, pid: 1, uid: 0, mid: 2)
        for blob: [UInt8]? in [nil, [1, 2, 3], [1, 2, 3, 4]] {
            for unicode in [true, false] {
                let reply = SMB1SessionSetupResponse(status: .success, uid: 0x800, isGuest: true, securityBlob: blob,
                                                     nativeOS: "Windows 5.1", nativeLanMan: "Windows 2000 LAN Manager",
                                                     primaryDomain: "WORKGROUP")
                let parsed = try SMB1SessionSetupResponse.parse(try SMB1Message.parse(payload(reply.makeReply(requestHeader: header, unicode: unicode))))
                #expect(parsed.uid == 0x800)
                #expect(parsed.isGuest)
                #expect(parsed.securityBlob == blob)
                #expect(parsed.nativeOS == "Windows 5.1")
                #expect(parsed.nativeLanMan == "Windows 2000 LAN Manager")
                #expect(parsed.primaryDomain == "WORKGROUP")
            }
        }
    }

    @Test func errorRepliesWithoutByteCountParse() throws {
        var bytes = SMB1Message(header: SMB1Header(command: SMB1Command.sessionSetupAndX, status: .logonFailure)).encode()
        bytes.removeLast(2)
        let message = try SMB1Message.parse(bytes)
        #expect(try SMB1SessionSetupResponse.parse(message).status == .logonFailure)
    }

    @Test func ms17010StatusClassificationFollowsTheScript() {
        #expect(SMBProbeResult.classifyMS17010(NTStatus(0xC000_0205)) == .vulnerable(.insufficientServerResources))
        #expect(SMBProbeResult.classifyMS17010(NTStatus(0xC000_0022)) == .patched(.accessDenied))
        #expect(SMBProbeResult.classifyMS17010(NTStatus(0xC000_0008)) == .patched(.invalidHandle))
        #expect(SMBProbeResult.classifyMS17010(.notImplemented) == .unknown(reason: "unexpected PeekNamedPipe status", status: .notImplemented))
        #expect(NTStatus(0xC000_0205).description == "STATUS_INSUFF_SERVER_RESOURCES (0xC0000205)")
    }
}

@Suite struct NTLMSSPTests {
    @Test func negotiateMessageLayout() {
        let message = NTLMSSP.negotiateMessage()
        #expect(Array(message.prefix(8)) == NTLMSSP.signature)
        #expect(message.count == 40)
        #expect(message[8] == 1)
        #expect(message.last == 0x0F)
    }

    @Test func challengeRoundTripGivesTargetInfoAndVersion() throws {
        let info = NTLMChallengeInfo(negotiateFlags: NTLMSSP.Flags.ntlm, serverChallenge: Array(1...8), targetName: "CORP",
                                     netBIOSComputerName: "DC01", netBIOSDomainName: "CORP", dnsComputerName: "dc01.corp.example",
                                     dnsDomainName: "corp.example", dnsTreeName: "corp.example", timestamp: 0x01D2_0000_1111_2222,
                                     osVersion: .init(major: 5, minor: 2, build: 3790))
        let message = info.makeChallengeMessage()
        for blob in [message, SPNEGO.negTokenResp(responseToken: message, negState: 1, supportedMech: true)] {
            let parsed = try NTLMChallengeInfo.parse(blob: blob)
            #expect(parsed.netBIOSComputerName == "DC01")
            #expect(parsed.netBIOSDomainName == "CORP")
            #expect(parsed.dnsComputerName == "dc01.corp.example")
            #expect(parsed.dnsDomainName == "corp.example")
            #expect(parsed.dnsTreeName == "corp.example")
            #expect(parsed.targetName == "CORP")
            #expect(parsed.timestamp == 0x01D2_0000_1111_2222)
            #expect(parsed.osVersion?.description == "5.2.3790")
            #expect(parsed.serverChallenge == Array(1...8))
        }
    }

    @Test func challengeWithoutVersionOrTargetInfo() throws {
        var info = NTLMChallengeInfo(serverChallenge: Array(1...8), netBIOSDomainName: "WG")
        info.osVersion = nil
        let parsed = try NTLMChallengeInfo.parse(blob: info.makeChallengeMessage())
        #expect(parsed.osVersion == nil)
        #expect(parsed.netBIOSDomainName == "WG")
        // Win9x style: stops right after the challenge.
        let short = Array(info.makeChallengeMessage().prefix(32))
        var patched = short
        patched[12] = 0; patched[13] = 0 // no target name
        #expect(try NTLMChallengeInfo.parse(blob: patched).netBIOSDomainName == nil)
    }

    @Test func hostileOffsetsAndPairCountsAreRejected() {
        var message = NTLMChallengeInfo(serverChallenge: Array(1...8), netBIOSDomainName: "WG").makeChallengeMessage()
        message[44] = 0xFF; message[45] = 0xFF; message[46] = 0xFF; message[47] = 0x7F // target info offset
        #expect(throws: CodecError.outOfBounds()) { try NTLMChallengeInfo.parse(blob: message) }
        // 40 empty AV pairs of an unknown type.
        var info = ByteWriter()
        for _ in 0..<40 { info.writeUInt16LE(0x99); info.writeUInt16LE(0) }
        var w = ByteWriter()
        w.writeBytes(NTLMSSP.signature); w.writeUInt32LE(2)
        w.writeUInt16LE(0); w.writeUInt16LE(0); w.writeUInt32LE(48)
        w.writeUInt32LE(0); w.writeBytes(Array(1...8)); w.writeZeros(8)
        w.writeUInt16LE(UInt16(info.count)); w.writeUInt16LE(UInt16(info.count)); w.writeUInt32LE(48)
        w.writeBytes(info.bytes)
        #expect(throws: CodecError.outOfBounds()) { try NTLMChallengeInfo.parse(blob: w.bytes) }
    }

    @Test func anonymousAuthenticateIsRecognisedAsAnonymous() throws {
        let message = NTLMSSP.anonymousAuthenticateMessage()
        #expect(try NTLMSSP.isAnonymousAuthenticate(message))
        #expect(try NTLMSSP.isAnonymousAuthenticate(SPNEGO.negTokenResp(responseToken: message)))
        #expect(NTLMSSP.messageType(of: SPNEGO.negTokenInit(mechToken: NTLMSSP.negotiateMessage())) == 1)
    }

    @Test func spnegoLongLengthsEncode() {
        let token = [UInt8](repeating: 0x4E, count: 300)
        let wrapped = SPNEGO.negTokenInit(mechToken: token)
        #expect(wrapped[0] == 0x60 && wrapped[1] == 0x82)
        #expect(Int(wrapped[2]) << 8 | Int(wrapped[3]) == wrapped.count - 4)
        #expect(SPNEGO.containsSPNEGOOID(wrapped))
    }
}
