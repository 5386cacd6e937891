/// A bounds-checked cursor over bytes received from a (hostile) peer.
///
/// Every read checks the remaining length first and throws ``CodecError`` instead of trapping.
/// Offsets are relative to the start of the bytes the reader was created with.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The position of the next read.
    public private(set) var offset: Int

    /// Creates a reader at offset 0.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// Creates a reader over a slice, re-based at offset 0.
    public init(_ bytes: ArraySlice<UInt8>) {
        self.init(Array(bytes))
    }

    /// Bytes left after the cursor.
    public var remaining: Int { bytes.count - offset }

    /// True when the cursor is at the end.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Moves the cursor to an absolute offset (`0...bytes.count`).
    public mutating func seek(to newOffset: Int) throws(CodecError) {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw .outOfBounds("seek to \(newOffset) in \(bytes.count) bytes")
        }
        offset = newOffset
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(CodecError) {
        guard count >= 0, count <= remaining else {
            throw .truncated("skip \(count) with \(remaining) left")
        }
        offset += count
    }

    /// Skips padding so that `offset - base` becomes a multiple of `alignment` (clamped to the end).
    public mutating func align(to alignment: Int, relativeTo base: Int = 0) {
        guard alignment > 1 else { return }
        let rel = offset - base
        let rem = ((rel % alignment) + alignment) % alignment
        if rem != 0 { offset = min(bytes.count, offset + (alignment - rem)) }
    }

    /// Reads one byte.
    public mutating func readUInt8() throws(CodecError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated("u8 at \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a little-endian u16.
    public mutating func readUInt16LE() throws(CodecError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readInteger(2, littleEndian: true))
    }

    /// Reads a big-endian u16.
    public mutating func readUInt16BE() throws(CodecError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readInteger(2, littleEndian: false))
    }

    /// Reads a little-endian u32.
    public mutating func readUInt32LE() throws(CodecError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readInteger(4, littleEndian: true))
    }

    /// Reads a big-endian u32.
    public mutating func readUInt32BE() throws(CodecError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readInteger(4, littleEndian: false))
    }

    /// Reads a little-endian u64.
    public mutating func readUInt64LE() throws(CodecError) -> UInt64 {
        try readInteger(8, littleEndian: true)
    }

    /// Reads a u16 in the given byte order.
    public mutating func readUInt16(littleEndian: Bool) throws(CodecError) -> UInt16 {
        littleEndian ? try readUInt16LE() : try readUInt16BE()
    }

    /// Reads a u32 in the given byte order.
    public mutating func readUInt32(littleEndian: Bool) throws(CodecError) -> UInt32 {
        littleEndian ? try readUInt32LE() : try readUInt32BE()
    }

    /// Reads exactly `count` bytes (`count` must not exceed what is left).
    public mutating func readBytes(_ count: Int) throws(CodecError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw .truncated("\(count) bytes with \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads everything that is left.
    public mutating func readRest() -> [UInt8] {
        let rest = offset < bytes.count ? Array(bytes[offset...]) : []
        offset = bytes.count
        return rest
    }

    /// Reads bytes up to (not including) a NUL, consuming the NUL; at most `maxLength` bytes.
    ///
    /// Throws when no NUL is found within `maxLength` bytes or before the end.
    public mutating func readCString(maxLength: Int) throws(CodecError) -> [UInt8] {
        let limit = min(bytes.count, offset + max(0, maxLength) + 1)
        var i = offset
        while i < limit {
            if bytes[i] == 0 {
                let value = Array(bytes[offset..<i])
                offset = i + 1
                return value
            }
            i += 1
        }
        throw .truncated("no NUL within \(maxLength) bytes at \(offset)")
    }

    /// Reads UTF-16LE code units up to a 0x0000 terminator (consumed); at most `maxUnits` units.
    public mutating func readUTF16CString(maxUnits: Int) throws(CodecError) -> [UInt16] {
        var units: [UInt16] = []
        while units.count <= maxUnits {
            let unit = try readUInt16LE()
            if unit == 0 { return units }
            units.append(unit)
        }
        throw .tooLarge("UTF-16 string longer than \(maxUnits) units")
    }

    /// Returns the bytes at an absolute range without moving the cursor.
    public func bytes(at start: Int, count: Int) throws(CodecError) -> [UInt8] {
        guard start >= 0, count >= 0, start <= bytes.count, count <= bytes.count - start else {
            throw .outOfBounds("range \(start)+\(count) in \(bytes.count) bytes")
        }
        return Array(bytes[start..<(start + count)])
    }

    /// Returns the byte at an absolute offset without moving the cursor.
    public func peekUInt8(at index: Int) throws(CodecError) -> UInt8 {
        guard index >= 0, index < bytes.count else { throw .outOfBounds("byte \(index) of \(bytes.count)") }
        return bytes[index]
    }

    private mutating func readInteger(_ size: Int, littleEndian: Bool) throws(CodecError) -> UInt64 {
        guard size <= remaining else { throw .truncated("\(size)-byte integer at \(offset) with \(remaining) left") }
        var value: UInt64 = 0
        for i in 0..<size {
            let byte = UInt64(bytes[offset + i])
            if littleEndian {
                value |= byte << (8 * UInt64(i))
            } else {
                value = (value << 8) | byte
            }
        }
        offset += size
        return value
    }
}
