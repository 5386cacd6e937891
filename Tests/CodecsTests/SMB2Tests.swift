import Testing
@testable import CordonCodecs

@Suite struct SMB2NegotiateTests {
    let guid = Array(UInt8(1)...16)
    let salt = [UInt8](repeating: 0xAB, count: 32)

    @Test func requestOffersFiveDialectsWithThe311Contexts() throws {
        let frame = SMB2Negotiate.request(clientGUID: guid, salt: salt)
        let bytes = payload(frame)
        #expect(Array(frame.prefix(4)) == [0, 0, 0, UInt8(bytes.count)])
        #expect(Array(bytes.prefix(4)) == SMB2Header.protocolID)
        var r = ByteReader(bytes)
        _ = try SMB2Header.read(from: &r)
        #expect(try r.readUInt16LE() == 36)
        #expect(try r.readUInt16LE() == 5)
        #expect(try r.readUInt16LE() == SMB2SecurityMode.signingEnabled)
        try r.skip(2 + 4)
        #expect(try r.readBytes(16) == guid)
        let contextOffset = Int(try r.readUInt32LE())
        #expect(try r.readUInt16LE() == 2)
        try r.skip(2)
        #expect(try (0..<5).map { _ in try r.readUInt16LE() } == [0x0202, 0x0210, 0x0300, 0x0302, 0x0311])
        #expect(contextOffset == 112 && contextOffset % 8 == 0)
        try r.seek(to: contextOffset)
        #expect(try r.readUInt16LE() == 1)        // preauth integrity
        #expect(try r.readUInt16LE() == 38)
        try r.skip(4)
        #expect(try r.readUInt16LE() == 1)        // one hash
        #expect(try r.readUInt16LE() == 32)       // salt length
        #expect(try r.readUInt16LE() == 0x0001)   // SHA-512
        #expect(try r.readBytes(32) == salt)
        r.align(to: 8)
        #expect(r.offset == 160)
        #expect(try r.readUInt16LE() == 2)        // encryption
        #expect(try r.readUInt16LE() == 6)
        try r.skip(4)
        #expect(try r.readUInt16LE() == 2)
        #expect(try r.readUInt16LE() == 0x0002)   // AES-128-GCM
        #expect(try r.readUInt16LE() == 0x0001)   // AES-128-CCM
        #expect(r.isAtEnd)
        #expect(try SMB2Negotiate.parseRequestDialects(bytes).dialects == SMB2Dialect.all)
    }

    @Test func requestWithout311HasNoContexts() throws {
        let bytes = payload(SMB2Negotiate.request(dialects: [0x0202, 0x0210], clientGUID: guid, salt: salt))
        #expect(bytes.count == 64 + 36 + 4)
    }

    @Test func responseRoundTripIncludingContexts() throws {
        for dialect in SMB2Dialect.all {
            let response = SMB2NegotiateResponse(dialect: dialect, securityMode: 0x03, serverGUID: guid, capabilities: 0x2F,
                                                 systemTime: FileTime.fileTime(unixSeconds: 1_700_000_000),
                                                 securityBlob: SPNEGO.serverNegTokenInit())
            guard case .smb2(let parsed) = try SMBNegotiateReply.parse(payload(response.makeReply(messageID: 0))) else {
                Issue.record("not SMB2"); return
            }
            #expect(parsed.dialect == dialect)
            #expect(parsed.signingEnabled && parsed.signingRequired)
            #expect(parsed.serverGUID == guid)
            #expect(parsed.capabilities == 0x2F)
            #expect(parsed.systemTimeUnix == 1_700_000_000)
            #expect(parsed.securityBlob == SPNEGO.serverNegTokenInit())
            if dialect == SMB2Dialect.smb311 {
                #expect(parsed.preauthHash == SMB2Negotiate.sha512)
                #expect(parsed.selectedCipher == SMB2Negotiate.aes128GCM)
            }
        }
    }

    @Test func errorStatusIsNotASuccessfulNegotiate() {
        var response = SMB2NegotiateResponse(dialect: 0, securityMode: 0, serverGUID: guid)
        response.status = .notSupported
        #expect(throws: CodecError.unexpectedMessage()) { try SMB2NegotiateResponse.parse(payload(response.makeReply(messageID: 0))) }
    }

    @Test func sessionSetupCarriesTheBlobBothWays() throws {
        let blob = SPNEGO.negTokenInit(mechToken: NTLMSSP.negotiateMessage())
        let request = try SMB2SessionSetup.parseRequestBlob(payload(SMB2SessionSetup.request(securityBlob: blob, messageID: 1)))
        #expect(request.blob == blob)
        #expect(request.header.messageID == 1)
        let reply = SMB2SessionSetup.Response(status: .moreProcessingRequired, sessionID: 99, securityBlob: [9, 8, 7])
        #expect(try SMB2SessionSetup.Response.parse(payload(reply.makeReply(messageID: 1))) == reply)
    }
}
