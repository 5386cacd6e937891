import Testing
@testable import CordonCodecs

@Suite struct ByteReaderWriterTests {
    @Test func integersRoundTripInBothByteOrders() throws {
        var w = ByteWriter()
        w.writeUInt8(0xAB)
        w.writeUInt16LE(0x1234)
        w.writeUInt16BE(0x1234)
        w.writeUInt32LE(0xDEAD_BEEF)
        w.writeUInt32BE(0xDEAD_BEEF)
        w.writeUInt64LE(0x0102_0304_0506_0708)
        #expect(w.bytes == hex("ab 3412 1234 efbeadde deadbeef 0807060504030201"))
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt8() == 0xAB)
        #expect(try r.readUInt16LE() == 0x1234)
        #expect(try r.readUInt16BE() == 0x1234)
        #expect(try r.readUInt32LE() == 0xDEAD_BEEF)
        #expect(try r.readUInt32BE() == 0xDEAD_BEEF)
        #expect(try r.readUInt64LE() == 0x0102_0304_0506_0708)
        #expect(r.isAtEnd)
    }

    @Test func readsPastTheEndThrowInsteadOfTrapping() {
        var r = ByteReader([1, 2, 3])
        #expect(throws: CodecError.truncated()) { try r.readUInt32LE() }
        #expect(throws: CodecError.truncated()) { try r.readBytes(4) }
        #expect(throws: CodecError.truncated()) { try r.readBytes(-1) }
        #expect(throws: CodecError.truncated()) { try r.skip(Int.max) }
        #expect(throws: CodecError.outOfBounds()) { try r.bytes(at: 2, count: Int.max) }
        #expect(throws: CodecError.outOfBounds()) { try r.bytes(at: -1, count: 1) }
        #expect(throws: CodecError.outOfBounds()) { try r.seek(to: 4) }
        #expect(r.offset == 0)
    }

    @Test func cStringsAreBounded() throws {
        var r = ByteReader(Array("abc".utf8) + [0] + Array("defgh".utf8))
        #expect(try r.readCString(maxLength: 8) == Array("abc".utf8))
        #expect(throws: CodecError.truncated()) { try r.readCString(maxLength: 8) }
        var long = ByteReader(Array(repeating: 0x41, count: 100) + [0])
        #expect(throws: CodecError.truncated()) { try long.readCString(maxLength: 10) }
        var utf16 = ByteReader([0x41, 0, 0x42, 0, 0, 0])
        #expect(try utf16.readUTF16CString(maxUnits: 4) == [0x41, 0x42])
    }

    @Test func errorsCompareByCodeOnly() {
        #expect(CodecError.truncated("a") == CodecError.truncated("b"))
        #expect(CodecError.truncated("a") != CodecError.tooLarge("a"))
    }
}

@Suite struct EvidenceTests {
    @Test func stripsControlAndBidiCharactersAndBoundsLength() {
        #expect(Evidence.ascii([0x41, 0x1B, 0x5B, 0x0A, 0xFF]) == "A?[ ?")
        #expect(Evidence.sanitize("a\u{202E}b\u{0007}c") == "a?b?c")
        #expect(Evidence.sanitize(String(repeating: "x", count: 1000)).count == Evidence.defaultMaxLength)
        #expect(Evidence.utf16([0x4D, 0xDC, 0x4E]) == "M\u{DC}N") // Ü kept
        #expect(Evidence.utf16([0xD800, 0x41]) == "?A")            // lone surrogate
        #expect(Evidence.text([0xC3, 0x28]) == "?(")
    }
}
