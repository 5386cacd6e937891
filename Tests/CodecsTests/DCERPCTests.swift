import Testing
@testable import CordonCodecs

@Suite struct DCERPCTests {
    /// The BIND msrpc.lua builds (captured by Fixtures/msrpc-bind-harness.lua, call ID 'AAAA').
    @Test func bindIsMsrpcLuasByteForByte() throws {
        let expected = hex(try Fixture.text("msrpc-bind-epmapper.hex"))
        #expect(expected.count == 72)
        #expect(DCERPC.bindRequest(callID: 0x4141_4141) == expected)
    }

    @Test func uuidStringsParseToTheWireLayout() {
        #expect(DCERPC.SyntaxID(uuidString: "e1af8308-5d1f-11c9-91a4-08002b14a0fa", majorVersion: 3) == .endpointMapper)
        #expect(DCERPC.SyntaxID(uuidString: "8a885d04-1ceb-11c9-9fe8-08002b104860", majorVersion: 2) == .ndr)
        #expect(DCERPC.SyntaxID(uuidString: "zz", majorVersion: 1) == nil)
    }

    @Test func bindAckRoundTripAndServerParse() throws {
        let request = DCERPC.bindRequest(callID: 7)
        let parsed = try DCERPC.parseBindRequest(request)
        #expect(parsed.callID == 7 && parsed.interface == .endpointMapper)
        guard case .bindAck(let ack) = try DCERPC.parseBindReply(DCERPC.makeBindAck(callID: 7)) else { Issue.record("no ack"); return }
        #expect(ack.accepted)
        #expect(ack.secondaryAddress == "135")
        #expect(ack.results.first?.transferSyntax == .ndr)
        #expect(try DCERPC.parseBindReply(DCERPC.makeBindNak(callID: 7, reason: 4)) == .bindNak(reason: 4))
    }

    @Test func bigEndianDataRepresentationIsHonoured() throws {
        // A fault PDU in big-endian representation: drep 00 00 00 00.
        var w = ByteWriter()
        w.writeBytes([5, 0, DCERPC.PacketType.fault, 3, 0, 0, 0, 0])
        w.writeUInt16BE(32); w.writeUInt16BE(0); w.writeUInt32BE(1)
        w.writeUInt32BE(0); w.writeUInt16BE(0); w.writeUInt8(0); w.writeUInt8(0)
        w.writeUInt32BE(0x1C01_0003)
        w.writeZeros(4)
        #expect(try DCERPC.parseBindReply(w.bytes) == .fault(status: 0x1C01_0003))
        // A bind_ack with big-endian integers.
        var b = ByteWriter()
        b.writeBytes([5, 0, DCERPC.PacketType.bindAck, 3, 0, 0, 0, 0])
        b.writeUInt16BE(0); b.writeUInt16BE(0); b.writeUInt32BE(9)
        b.writeUInt16BE(0x10B8); b.writeUInt16BE(0x10B8); b.writeUInt32BE(0x1234)
        b.writeUInt16BE(4); b.writeBytes(Array("135".utf8) + [0])
        b.pad(toMultipleOf: 4)
        b.writeUInt8(1); b.writeZeros(3)
        b.writeUInt16BE(0); b.writeUInt16BE(0); b.writeBytes(DCERPC.SyntaxID.ndr.uuid); b.writeUInt32BE(2)
        b.setUInt8(UInt8(b.count), at: 9)
        guard case .bindAck(let ack) = try DCERPC.parseBindReply(b.bytes) else { Issue.record("no ack"); return }
        #expect(ack.assocGroup == 0x1234)
        #expect(ack.secondaryAddress == "135")
        #expect(ack.accepted)
        #expect(ack.results.first?.transferSyntax.majorVersion == 2)
        #expect(ack.maxTransmitFragment == 0x10B8)
    }

    @Test func probeReassemblesAndClassifies() {
        var probe = DCERPCBindProbe()
        guard case .send(let bind) = probe.connected() else { Issue.record("no bind"); return }
        let ack = DCERPC.makeBindAck(callID: (try? DCERPC.parseBindRequest(bind).callID) ?? 0)
        #expect(probe.receive(Array(ack.prefix(5))) == .wait)
        #expect(probe.receive(Array(ack.dropFirst(5).prefix(10))) == .wait)
        guard case .finished(.msrpc(let parsed)) = probe.receive(Array(ack.dropFirst(15))) else { Issue.record("not msrpc"); return }
        #expect(parsed.accepted)

        var http = DCERPCBindProbe()
        _ = http.connected()
        guard case .finished(.notDCERPC) = http.receive(Array("HTTP/1.1 400 Bad Request\r\n".utf8)) else { Issue.record("not classified"); return }
        var silent = DCERPCBindProbe()
        _ = silent.connected()
        #expect(silent.connectionClosed() == .finished(.noAnswer(reason: "connection closed")))
    }

    @Test func hugeFragmentLengthsAreRefused() {
        var pdu = DCERPC.makeBindAck(callID: 1)
        pdu[8] = 0xFF; pdu[9] = 0xFF
        #expect(throws: CodecError.tooLarge()) { try DCERPC.parseBindReply(pdu) }
    }
}
