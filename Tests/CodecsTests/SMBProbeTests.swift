import Testing
@testable import CordonCodecs

@Suite struct SMBProbeConversationTests {
    func options(_ configure: (inout SMBProbeOptions) -> Void = { _ in }) -> SMBProbeOptions {
        var rng = SeededRandom(seed: 42)
        var options = SMBProbeOptions(host: "198.18.0.1", using: &rng)
        configure(&options)
        return options
    }

    /// Every combination of host profile and client mode gives the result the profile implies.
    @Test(arguments: 0..<256)
    func profileCombinations(_ bits: Int) {
        let profile = SimulatedSMBProfile(
            smb1Enabled: bits & 1 != 0, smb2Enabled: bits & 2 != 0,
            maxSMB2Dialect: bits & 64 != 0 ? SMB2Dialect.smb311 : SMB2Dialect.smb202,
            signingRequired: bits & 4 != 0, nullSessionAllowed: bits & 8 != 0, ms17010Vulnerable: bits & 16 != 0,
            doublePulsarInstalled: bits & 32 != 0, computerName: "HOST\(bits)", domain: "DOM")
        let legacy = bits & 128 != 0
        let probeOptions = options { $0.securityMode = legacy ? .legacy : .extended }
        let (result, connections) = runProbe(probeOptions, profile: profile, chunk: 1 + bits % 13)

        #expect(connections == 2)
        if profile.smb1Enabled {
            #expect(result.smb1 == .enabled(dialect: "NT LM 0.12"))
            #expect(result.smb1Negotiate?.signingRequired == profile.signingRequired)
            #expect(result.smb1Negotiate?.extendedSecurity == !legacy)
            if profile.nullSessionAllowed {
                #expect(result.nullSession == .allowed(guest: false))
                #expect(result.ipc == .connected(tid: 0x0801))
                #expect(result.ms17010 == (profile.ms17010Vulnerable ? .vulnerable(.insufficientServerResources) : .patched(.accessDenied)))
                #expect(result.doublePulsar == (profile.doublePulsarInstalled
                    ? .present(mid: 81, status: .notImplemented) : .absent(mid: 65, status: .notImplemented)))
                #expect(result.nativeOS == "Windows 5.1")
                #expect(result.nativeLanMan == "Windows 2000 LAN Manager")
            } else {
                #expect(result.nullSession == .denied(.accessDenied))
                #expect(result.ipc == .unknown(reason: "anonymous logon refused"))
                #expect(result.ms17010 == .unknown(reason: "anonymous logon refused", status: nil))
                #expect(result.doublePulsar == .unknown(reason: "anonymous logon refused"))
            }
        } else {
            #expect(result.smb1 == .disabled(reason: "connection closed at the SMB1-only negotiate"))
            #expect(result.nullSession == .unknown(reason: "SMBv1 disabled"))
            #expect(result.ms17010 == .unknown(reason: "SMBv1 disabled", status: nil))
        }
        if profile.smb2Enabled {
            guard case .supported(let smb2) = result.smb2 else { Issue.record("SMB2 not supported: \(result.smb2)"); return }
            #expect(smb2.dialect == profile.maxSMB2Dialect)
            #expect(smb2.signingRequired == profile.signingRequired)
            #expect(smb2.systemTime == profile.systemTime)
            #expect(result.signingRequired == profile.signingRequired)
            // The anonymous session and IPC$ over SMB2/3, on the same connection.
            if profile.nullSessionAllowed {
                #expect(result.smb2NullSession == .allowed(guest: false))
                #expect(result.smb2IPC == .connected(tid: 0x0801))
            } else {
                #expect(result.smb2NullSession == .denied(.accessDenied))
                #expect(result.smb2IPC == .unknown(reason: "anonymous logon refused"))
            }
        } else {
            #expect(result.smb2 == .unsupported(reason: "connection closed at the SMB2 negotiate"))
            #expect(result.smb2NullSession == .unknown(reason: "connection closed"))
            #expect(result.smb2IPC == .unknown(reason: "connection closed"))
        }
        // NTLMSSP names: from SMB1 with extended security, else from the SMB2 session setup leg.
        if (profile.smb1Enabled && !legacy) || profile.smb2Enabled {
            #expect(result.ntlm?.netBIOSComputerName == "HOST\(bits)")
            #expect(result.ntlm?.netBIOSDomainName == "DOM")
            #expect(result.ntlm?.osVersion == profile.osVersion)
        } else {
            #expect(result.ntlm == nil)
        }
    }

    @Test func presetsLookLikeTheirWorms() {
        let wannaCryTarget = runProbe(options(), profile: .windows7Unpatched).result
        #expect(wannaCryTarget.smb1 == .enabled(dialect: "NT LM 0.12"))
        #expect(wannaCryTarget.nullSession == .denied(.accessDenied))
        #expect(wannaCryTarget.smb2Dialect == SMB2Dialect.smb210)
        #expect(wannaCryTarget.ntlm?.osVersion?.description == "6.1.7601")

        let infected = runProbe(options(), profile: .windows2000Infected).result
        #expect(infected.ms17010 == .vulnerable(.insufficientServerResources))
        #expect(infected.doublePulsar == .present(mid: 81, status: .notImplemented))
        #expect(infected.smb2 == .unsupported(reason: "connection closed at the SMB2 negotiate"))

        let dc = runProbe(options(), profile: .windows2003DC).result
        #expect(dc.ms17010 == .patched(.invalidHandle))
        #expect(dc.signingRequired == true)
        #expect(dc.ntlm?.dnsDomainName == "corp.example")

        let modern = runProbe(options(), profile: .windows10).result
        #expect(modern.smb1 == .disabled(reason: "connection closed at the SMB1-only negotiate"))
        #expect(modern.smb2Dialect == SMB2Dialect.smb311)
        #expect(modern.ntlm?.osVersion?.description == "10.0.19041")
    }

    @Test func smb2TreeConnectCodecRoundTripsAndRefusesGarbage() throws {
        let request = SMB2TreeConnect.request(path: "\\\\198.18.0.1\\IPC$", messageID: 3, sessionID: 0x11)
        let parsed = try SMB2TreeConnect.parseRequest(Array(request.dropFirst(4)))
        #expect(parsed.path == "\\\\198.18.0.1\\IPC$" && parsed.header.messageID == 3 && parsed.header.sessionID == 0x11)
        let reply = SMB2TreeConnect.Response(status: .success, treeID: 7, shareType: SMB2TreeConnect.ShareType.pipe).makeReply(messageID: 3, sessionID: 0x11)
        #expect(try SMB2TreeConnect.Response.parse(Array(reply.dropFirst(4))) == .init(status: .success, treeID: 7, shareType: 2))
        let denied = SMB2TreeConnect.Response(status: .accessDenied, treeID: 0, shareType: nil).makeReply(messageID: 3, sessionID: 0x11)
        #expect(try SMB2TreeConnect.Response.parse(Array(denied.dropFirst(4))) == .init(status: .accessDenied, treeID: 0, shareType: nil))
        // A success with a body of the wrong size, and another command's answer, are refused.
        var bad = Array(reply.dropFirst(4))
        bad[64] = 9
        #expect(throws: CodecError.self) { try SMB2TreeConnect.Response.parse(bad) }
        #expect(throws: CodecError.self) { try SMB2TreeConnect.Response.parse(Array(SMB2SessionSetup.request(securityBlob: [1], messageID: 1).dropFirst(4))) }
        for cut in 0..<reply.count - 4 { _ = try? SMB2TreeConnect.Response.parse(Array(reply.dropFirst(4).prefix(cut))) }
    }

    @Test func anAnonymousSMB2SessionOnAHostWithoutSMB1() {
        var profile = SimulatedSMBProfile.windows10
        profile.nullSessionAllowed = true
        let result = runProbe(options(), profile: profile).result
        #expect(result.smb1 == .disabled(reason: "connection closed at the SMB1-only negotiate"))
        #expect(result.smb2NullSession == .allowed(guest: false))
        #expect(result.smb2IPC == .connected(tid: 0x0801))
        // Not checked when SMB2 is not.
        let smb1Only = runProbe(options { $0.checkSMB2 = false; $0.ntlmInfo = false }, profile: profile).result
        #expect(smb1Only.smb2NullSession == .notTested && smb1Only.smb2IPC == .notTested)
    }

    @Test func netBIOSTransportRetriesTheNextCalledName() {
        let probeOptions = options {
            $0.transport = .netBIOS(calledNames: [NetBIOSName(name: "NOTTHISONE"), .anySMBServer])
            $0.checkSMB2 = false
        }
        let (result, connections) = runProbe(probeOptions, profile: .windowsXP)
        #expect(connections == 2)
        #expect(result.smb1 == .enabled(dialect: "NT LM 0.12"))
        #expect(result.ms17010 == .vulnerable(.insufficientServerResources))
        #expect(result.notes.first?.contains("NetBIOS session refused") == true)
    }

    @Test func connectionFailuresLeaveEverythingUnknown() {
        let (result, connections) = runProbe(options(), profile: .windowsXP, acceptConnections: false)
        #expect(connections == 0)
        #expect(result.smb1 == .unknown(reason: "connection failed"))
        #expect(result.smb2 == .unknown(reason: "connection failed"))
        #expect(result.ms17010 == .unknown(reason: "connection failed", status: nil))
    }

    @Test func timeoutAtNegotiateIsUnknownNotDisabled() {
        var conversation = SMB1Conversation(options: options())
        guard case .send = conversation.connected() else { Issue.record("no negotiate"); return }
        #expect(conversation.timedOut() == .done)
        #expect(conversation.result.smb1 == .unknown(reason: "no answer to the SMB1-only negotiate"))
    }

    @Test func onlyRequestedChecksRun() {
        let probeOptions = options {
            $0.nullSession = false; $0.ms17010 = false; $0.doublePulsar = false; $0.ntlmInfo = false
        }
        let (result, connections) = runProbe(probeOptions, profile: .windows7Unpatched)
        #expect(connections == 2)
        #expect(result.nullSession == .notTested)
        #expect(result.ms17010 == .notTested)
        #expect(result.ntlm == nil)
        #expect(result.smb1 == .enabled(dialect: "NT LM 0.12"))
    }

    @Test func garbageRepliesEndTheConversationWithUnknown() {
        var conversation = SMB1Conversation(options: options())
        _ = conversation.connected()
        #expect(conversation.receive([0, 0, 0, 4, 0xDE, 0xAD, 0xBE, 0xEF]) == .done)
        guard case .unknown = conversation.result.smb1 else { Issue.record("\(conversation.result.smb1)"); return }
        var oversized = SMB1Conversation(options: options())
        _ = oversized.connected()
        #expect(oversized.receive([0, 0xFF, 0xFF, 0xFF]) == .done)
    }
}
