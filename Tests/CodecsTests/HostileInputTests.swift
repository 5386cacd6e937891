import Testing
@testable import CordonCodecs

/// Every parser against truncations at every length, huge declared lengths and seeded random
/// bytes: none may trap; each either parses or reports an error / unknown.
@Suite struct HostileInputTests {
    /// Valid messages of every kind the scanner parses.
    static func samples() -> [(String, [UInt8])] {
        let header = SMB1Header(command: SMB1Command.negotiate, pid: 1, mid: 1)
        let sessionHeader = SMB1Header(command: SMB1Command.sessionSetupAndX, pid: 1, mid: 2)
        let challenge = SimulatedSMBProfile.windows2003DC.ntlmIdentity.makeChallengeMessage()
        return [
            ("smb1-negotiate-ext", payload(SMB1NegotiateResponse(dialectIndex: 0, flags2: 0x0800, capabilities: SMB1Capabilities.extendedSecurity,
                                                                 serverGUID: Array(1...16), securityBlob: SPNEGO.serverNegTokenInit())
                .makeReply(requestHeader: header))),
            ("smb1-negotiate-legacy", payload(SMB1NegotiateResponse(dialectIndex: 0, flags2: SMB1Flags2.unicode, challenge: Array(1...8),
                                                                    domainName: "WG", serverName: "S").makeReply(requestHeader: header))),
            ("smb1-session", payload(SMB1SessionSetupResponse(status: .moreProcessingRequired, uid: 1,
                                                              securityBlob: SPNEGO.negTokenResp(responseToken: challenge, negState: 1),
                                                              nativeOS: "Windows 5.1", nativeLanMan: "LM")
                .makeReply(requestHeader: sessionHeader))),
            ("smb1-tree", payload(SMB1TreeConnectResponse(status: .success, tid: 5).makeReply(requestHeader: sessionHeader))),
            ("smb2-negotiate", payload(SMB2NegotiateResponse(dialect: SMB2Dialect.smb311, securityMode: 1, serverGUID: Array(1...16),
                                                             securityBlob: SPNEGO.serverNegTokenInit()).makeReply(messageID: 0))),
            ("smb2-session", payload(SMB2SessionSetup.Response(status: .moreProcessingRequired, sessionID: 1,
                                                              securityBlob: SPNEGO.negTokenResp(responseToken: challenge)).makeReply(messageID: 1))),
            ("ntlm-challenge", challenge),
            ("nbstat", NBStat.makeResponse(transactionID: 1, names: [NBStat.NameEntry(name: NetBIOSName(name: "A"), flags: 0)],
                                           macAddress: [1, 2, 3, 4, 5, 6])),
            ("dcerpc-ack", DCERPC.makeBindAck(callID: 1)),
            ("http", SimulatedIIS(rootExeInstalled: true).response(path: "/NULL.ida")),
            ("conficker-udp", ConfickerP2P.makeReply(address: IPv4Octets(1, 2, 3, 4), port: 5, key1: 1, key2: 2, noise: [1, 2], transport: .udp)),
            ("conficker-tcp", ConfickerP2P.makeReply(address: IPv4Octets(1, 2, 3, 4), port: 5, key1: 1, key2: 2, transport: .tcp)),
            ("tftp", TFTP.makeError()),
            ("banner", BannerClassifier.windowsXPShellBanner),
        ]
    }

    /// Feeds one input to every parser and state machine.
    static func exercise(_ bytes: [UInt8]) {
        _ = try? SMBNegotiateReply.parse(bytes)
        if let message = try? SMB1Message.parse(bytes) {
            _ = try? SMB1NegotiateResponse.parse(message)
            _ = try? SMB1SessionSetupResponse.parse(message)
            _ = try? SMB1TreeConnectResponse.parse(message)
            _ = try? SMB1SessionSetup.Request.parse(message)
            _ = try? SMB1Negotiate.parseRequestDialects(message)
            _ = try? SMB1Transaction.parseSetup(message)
            _ = try? SMB1TreeConnect.parseRequestPath(message)
        }
        _ = try? SMB2NegotiateResponse.parse(bytes)
        _ = try? SMB2SessionSetup.Response.parse(bytes)
        _ = try? SMB2SessionSetup.parseRequestBlob(bytes)
        _ = try? SMB2Negotiate.parseRequestDialects(bytes)
        _ = try? NTLMChallengeInfo.parse(blob: bytes)
        _ = try? NTLMSSP.isAnonymousAuthenticate(bytes)
        _ = NTLMSSP.messageType(of: bytes)
        _ = try? NBStat.parseResponse(bytes)
        _ = try? DCERPC.parseBindReply(bytes)
        _ = try? DCERPC.parseBindRequest(bytes)
        _ = try? NetBIOSFrame(bytes: bytes)
        _ = try? NetBIOSSession.parseSessionRequest(NetBIOSFrame(type: 0x81, payload: bytes))
        _ = try? NetBIOSSession.parseSessionResponse(NetBIOSFrame(type: bytes.first ?? 0x82, payload: bytes))
        _ = ConfickerP2P.validateReply(bytes, transport: .tcp)
        _ = ConfickerP2P.validateReply(bytes, transport: .udp)
        _ = TFTP.parseReply(bytes)
        _ = BannerClassifier.classify(bytes)
        _ = HTTPRequest.parseRequestLine(bytes)
        var http = HTTPResponseHeadParser()
        _ = http.feed(bytes)
        var exchange = HTTPExchange(request: try! HTTPRequest(path: "/", host: "h"))
        _ = exchange.receive(bytes)
        _ = exchange.connectionClosed()
        var dce = DCERPCBindProbe()
        _ = dce.receive(bytes)
        var decoder = NetBIOSFrameDecoder()
        decoder.feed(bytes)
        while (try? decoder.nextFrame()) != nil {}
        // The state machines, with the input wrapped in a NetBIOS frame at every step.
        let framed = NetBIOSSession.frameSmall(bytes)
        var rng = SeededRandom(seed: 1)
        var conversation = SMB1Conversation(options: SMBProbeOptions(host: "h", using: &rng))
        _ = conversation.connected()
        _ = conversation.receive(framed)
        var smb2 = SMB2Conversation(options: SMBProbeOptions(host: "h", using: &rng), readChallenge: true)
        _ = smb2.connected()
        _ = smb2.receive(framed)
        var server = SimulatedSMBServer(profile: .windows7Unpatched)
        _ = server.receive(framed)
        _ = server.respond(to: bytes)
    }

    @Test func truncatedAtEveryLength() {
        for (_, sample) in Self.samples() {
            for length in 0...sample.count { Self.exercise(Array(sample.prefix(length))) }
        }
    }

    @Test func truncatedMessagesAreErrorsNotSuccesses() {
        let negotiate = Self.samples()[0].1
        for length in 0..<37 { #expect((try? SMBNegotiateReply.parse(Array(negotiate.prefix(length)))) == nil, "length \(length)") }
        let challenge = SimulatedSMBProfile.windows2003DC.ntlmIdentity.makeChallengeMessage()
        for length in 0..<32 { #expect((try? NTLMChallengeInfo.parse(blob: Array(challenge.prefix(length)))) == nil) }
    }

    @Test func hugeDeclaredLengthsAndCounts() {
        var rng = SeededRandom(seed: 0xC0FFEE)
        for (_, sample) in Self.samples() where sample.count > 8 {
            // Overwrite each 16-bit position with 0xFFFF / 0x7FFF, and each 32-bit with 0xFFFFFFFF.
            for position in 0..<(sample.count - 1) {
                for value: [UInt8] in [[0xFF, 0xFF], [0xFF, 0x7F], [0x00, 0x80]] {
                    var mutated = sample
                    mutated[position] = value[0]
                    mutated[position + 1] = value[1]
                    Self.exercise(mutated)
                }
                if position + 3 < sample.count, rng.next() % 4 == 0 {
                    var mutated = sample
                    for i in 0..<4 { mutated[position + i] = 0xFF }
                    Self.exercise(mutated)
                }
            }
        }
    }

    @Test func seededRandomBytesAndMutations() {
        var rng = SeededRandom(seed: 20_170_512)
        let samples = Self.samples().map(\.1)
        for i in 0..<4000 {
            if i % 2 == 0 {
                Self.exercise(rng.bytes(Int.random(in: 0...300, using: &rng)))
            } else {
                var mutated = samples[i / 2 % samples.count]
                for _ in 0..<Int.random(in: 1...6, using: &rng) where !mutated.isEmpty {
                    mutated[Int.random(in: 0..<mutated.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                Self.exercise(mutated)
            }
        }
    }

    @Test func probesEndWithUnknownOnNoise() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<300 {
            var probe = SMBProbe(options: SMBProbeOptions(host: "198.18.0.1", using: &rng))
            var action = probe.start()
            var steps = 0
            while steps < 50 {
                steps += 1
                switch action {
                case .openConnection: action = probe.connected()
                case .send: action = .wait
                case .wait:
                    var noise = rng.bytes(Int.random(in: 0...80, using: &rng))
                    if rng.next() % 2 == 0 { noise = [0, 0, 0, UInt8(min(noise.count, 255))] + noise }
                    action = rng.next() % 5 == 0 ? probe.connectionClosed() : probe.receive(noise)
                case .finished(let result):
                    if case .vulnerable = result.ms17010 { Issue.record("noise reported as vulnerable") }
                    if case .present = result.doublePulsar { Issue.record("noise reported as DoublePulsar") }
                    steps = 1000
                }
            }
            if steps < 1000 { _ = probe.timedOut() }
        }
    }
}
