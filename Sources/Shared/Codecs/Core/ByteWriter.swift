/// Builds messages byte by byte, with helpers for the integer widths and string encodings the
/// worm-era protocols use, and for patching lengths and offsets once they are known.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(max(0, capacity))
    }

    /// Number of bytes written.
    public var count: Int { bytes.count }

    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }

    public mutating func writeUInt16LE(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    public mutating func writeUInt16BE(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func writeUInt32LE(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public mutating func writeUInt32BE(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public mutating func writeUInt64LE(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func writeBytes<S: Sequence>(_ values: S) where S.Element == UInt8 {
        bytes.append(contentsOf: values)
    }

    /// Writes `count` zero bytes.
    public mutating func writeZeros(_ count: Int) {
        if count > 0 { bytes.append(contentsOf: repeatElement(0, count: count)) }
    }

    /// Pads with zeros until `count - base` is a multiple of `alignment`.
    public mutating func pad(toMultipleOf alignment: Int, relativeTo base: Int = 0) {
        guard alignment > 1 else { return }
        let rem = ((count - base) % alignment + alignment) % alignment
        if rem != 0 { writeZeros(alignment - rem) }
    }

    /// Writes the string's UTF-8 bytes (ASCII for the protocols here), without terminator.
    public mutating func writeASCII(_ string: String) { bytes.append(contentsOf: Array(string.utf8)) }

    /// Writes the string's bytes followed by a NUL.
    public mutating func writeCString(_ string: String) {
        writeASCII(string)
        bytes.append(0)
    }

    /// Writes the string as UTF-16LE, without terminator.
    public mutating func writeUTF16LE(_ string: String) {
        for unit in string.utf16 { writeUInt16LE(unit) }
    }

    /// Writes the string as UTF-16LE followed by a 0x0000 terminator.
    public mutating func writeUTF16CString(_ string: String) {
        writeUTF16LE(string)
        writeUInt16LE(0)
    }

    /// Overwrites a little-endian u16 at an offset already written. Ignored when out of range.
    public mutating func setUInt16LE(_ value: UInt16, at offset: Int) {
        guard offset >= 0, offset + 2 <= bytes.count else { return }
        bytes[offset] = UInt8(truncatingIfNeeded: value)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    /// Overwrites a little-endian u32 at an offset already written. Ignored when out of range.
    public mutating func setUInt32LE(_ value: UInt32, at offset: Int) {
        guard offset >= 0, offset + 4 <= bytes.count else { return }
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(8 * i)) }
    }

    /// Overwrites a single byte at an offset already written. Ignored when out of range.
    public mutating func setUInt8(_ value: UInt8, at offset: Int) {
        guard offset >= 0, offset < bytes.count else { return }
        bytes[offset] = value
    }
}

extension ByteWriter {
    /// Writes exactly `count` bytes: `bytes` cut or zero-padded (GUIDs, UUIDs, challenges).
    public mutating func writeFixed(_ bytes: [UInt8], count: Int) {
        let head = bytes.prefix(max(0, count))
        writeBytes(head)
        writeZeros(count - head.count)
    }

    /// UTF-16LE bytes of a string.
    static func utf16LE(_ string: String) -> [UInt8] {
        var w = ByteWriter()
        w.writeUTF16LE(string)
        return w.bytes
    }
}
