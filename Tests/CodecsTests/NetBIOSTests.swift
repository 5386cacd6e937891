import Testing
@testable import CordonCodecs

@Suite struct NetBIOSFramingTests {
    @Test func framesWithA24BitBigEndianLength() throws {
        #expect(try NetBIOSSession.frame([1, 2, 3]) == [0, 0, 0, 3, 1, 2, 3])
        let big = [UInt8](repeating: 7, count: 0x012345)
        #expect(Array(try NetBIOSSession.frame(big).prefix(4)) == [0x00, 0x01, 0x23, 0x45])
        #expect(throws: CodecError.tooLarge()) { try NetBIOSSession.frame([UInt8](repeating: 0, count: 0x100_0000)) }
    }

    @Test func decoderReassemblesByteByByteAndSplitsBackToBackFrames() throws {
        let a = try NetBIOSSession.frame([0xAA, 0xBB])
        let b = try NetBIOSSession.frame([])
        let c = try NetBIOSSession.frame(Array(0..<200))
        var decoder = NetBIOSFrameDecoder(maxFrameSize: 1024)
        var frames: [NetBIOSFrame] = []
        for byte in a + b + c {
            decoder.feed([byte])
            while let frame = try decoder.nextFrame() { frames.append(frame) }
        }
        #expect(frames.map(\.payload) == [[0xAA, 0xBB], [], Array(0..<200)])
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func decoderRejectsOversizedFramesBeforeBuffering() {
        var decoder = NetBIOSFrameDecoder(maxFrameSize: 100)
        decoder.feed([0x00, 0xFF, 0xFF, 0xFF])
        #expect(throws: CodecError.tooLarge()) { try decoder.nextFrame() }
        decoder.feed([UInt8](repeating: 0, count: 1000))
        #expect(decoder.bufferedByteCount == 0)
        #expect(throws: CodecError.tooLarge()) { try decoder.nextFrame() }
    }

    @Test func sessionRequestEncodesStarSMBServer() throws {
        let request = NetBIOSSession.sessionRequest()
        #expect(request.count == 4 + 68)
        #expect(Array(request.prefix(4)) == [0x81, 0, 0, 0x44])
        // "*SMBSERVER" padded with spaces, suffix 0x20: '*' = 0x2A -> "CK", 'S' = 0x53 -> "FD", ' ' -> "CA".
        let called = Array(request[4..<38])
        #expect(called.first == 0x20 && called.last == 0x00)
        #expect(String(decoding: called[1...32], as: UTF8.self) == "CKFDENECFDEFFCFGEFFCCACACACACACA")
        let parsed = try NetBIOSSession.parseSessionRequest(try NetBIOSFrame(bytes: request))
        #expect(parsed.called == .anySMBServer)
        #expect(parsed.calling.name == "CORDON")
    }

    @Test func sessionResponses() throws {
        #expect(try NetBIOSSession.parseSessionResponse(NetBIOSFrame(bytes: NetBIOSSession.positiveResponse())) == .positive)
        #expect(try NetBIOSSession.parseSessionResponse(NetBIOSFrame(bytes: NetBIOSSession.negativeResponse(errorCode: 0x82)))
                == .negative(errorCode: 0x82))
        #expect(try NetBIOSSession.parseSessionResponse(NetBIOSFrame(bytes: [0x84, 0, 0, 6, 198, 18, 0, 1, 0x01, 0xBD]))
                == .retarget(address: IPv4Octets(198, 18, 0, 1), port: 445))
        #expect(throws: CodecError.truncated()) { try NetBIOSSession.parseSessionResponse(NetBIOSFrame(type: 0x83, payload: [])) }
        #expect(throws: CodecError.unexpectedMessage()) { try NetBIOSSession.parseSessionResponse(NetBIOSFrame(type: 0x00, payload: [])) }
    }
}

@Suite struct NBStatTests {
    /// The query `netbios.lua` (`do_nbstat`) sends: ID 0x1337, one question, `*` padded with NULs,
    /// type NBSTAT, class IN.
    @Test func queryMatchesNmapBytes() {
        let expected = hex("1337 0000 0001 0000 0000 0000 20")
            + Array("CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".utf8) + hex("00 0021 0001")
        #expect(NBStat.query() == expected)
        #expect(NBStat.query().count == 50)
    }

    @Test func responseRoundTripGivesNamesWorkgroupComputerAndMAC() throws {
        let names = [
            NBStat.NameEntry(name: NetBIOSName(name: "WORMHOST", suffix: 0x00), flags: 0x0400),
            NBStat.NameEntry(name: NetBIOSName(name: "WORKGROUP", suffix: 0x00), flags: 0x8400),
            NBStat.NameEntry(name: NetBIOSName(name: "WORMHOST", suffix: 0x20), flags: 0x0400),
            NBStat.NameEntry(name: NetBIOSName(name: "WORKGROUP", suffix: 0x1E), flags: 0x8400),
        ]
        let bytes = NBStat.makeResponse(transactionID: 0x1337, names: names, macAddress: [0, 0x0C, 0x29, 0xAA, 0xBB, 0xCC])
        let response = try NBStat.parseResponse(bytes, expectedTransactionID: 0x1337)
        #expect(response.names == names)
        #expect(response.workgroup == "WORKGROUP")
        #expect(response.computerName == "WORMHOST")
        #expect(response.macString == "00:0c:29:aa:bb:cc")
        #expect(throws: CodecError.unexpectedMessage()) { try NBStat.parseResponse(bytes, expectedTransactionID: 1) }
    }

    @Test func rejectsQueriesErrorsAndOversizedNameCounts() throws {
        #expect(throws: CodecError.unexpectedMessage()) { try NBStat.parseResponse(NBStat.query()) }
        var bytes = NBStat.makeResponse(transactionID: 1, names: [], macAddress: [])
        bytes[3] |= 0x03 // rcode
        #expect(throws: CodecError.invalidValue()) { try NBStat.parseResponse(bytes) }
        var many = NBStat.makeResponse(transactionID: 1, names: [], macAddress: [])
        let countIndex = 12 + 34 + 10
        many[countIndex] = 200
        #expect(throws: CodecError.self) { try NBStat.parseResponse(many) }
    }

    @Test func hostileNamesAreSanitized() throws {
        var raw = NBStat.makeResponse(transactionID: 1, names: [NBStat.NameEntry(name: NetBIOSName(name: "AAAA", suffix: 0x20), flags: 0)],
                                      macAddress: [])
        let nameStart = 12 + 34 + 10 + 1
        raw[nameStart] = 0x1B // ESC
        raw[nameStart + 1] = 0xFF
        let response = try NBStat.parseResponse(raw)
        #expect(response.computerName == "??AA")
        #expect(response.macString == nil)
    }
}
