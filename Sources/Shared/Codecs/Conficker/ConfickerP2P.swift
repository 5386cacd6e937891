/// Conficker.C's peer-to-peer protocol as far as `p2p-conficker.nse` speaks it: the probe, the
/// reply check (decrypt, parse, checksum) and, for simulated infected hosts, a reply builder.
///
/// Wire layout (little-endian): key1 u32, key2 u32 in clear; then, encrypted with the rolling
/// XOR cipher keyed by key1:key2: flags u16, optional fields chosen by the flags, the checksum u32
/// of everything before it (key included, in clear), then random noise. Over TCP the packet is
/// preceded by its u16 length.
public enum ConfickerP2P {
    /// Flag bits of the mode field.
    public enum Flag {
        public static let mode: UInt16 = 1 << 0
        public static let localAck: UInt16 = 1 << 1
        public static let isTCP: UInt16 = 1 << 2
        public static let ipIncluded: UInt16 = 1 << 3
        public static let unknown0Included: UInt16 = 1 << 4
        public static let unknown1Included: UInt16 = 1 << 5
        public static let dataIncluded: UInt16 = 1 << 6
        public static let sysinfoIncluded: UInt16 = 1 << 7
        public static let encoded: UInt16 = 1 << 15
    }

    public enum Transport: Sendable, Equatable { case tcp, udp }

    /// The script's MAX_PACKET: larger replies are not accepted.
    public static let maxPacket = 0x2000

    /// The checksum over key and plaintext fields: start with the length, then per byte
    /// `h = hash ^ byte; hash = rotl32(h, 1)`.
    public static func checksum(_ data: [UInt8]) -> UInt32 {
        var hash = UInt32(truncatingIfNeeded: data.count)
        for byte in data {
            let h = hash ^ UInt32(byte)
            hash = (h << 1) | (h >> 31)
        }
        return hash
    }

    /// The symmetric cipher: per byte, rotate the 64-bit key key2:key1 left by one, XOR the byte
    /// with the key's low byte k, then add k to the 64-bit key. A zero key leaves data unchanged.
    public static func cipher(_ data: [UInt8], key1: UInt32, key2: UInt32) -> [UInt8] {
        var key = UInt64(key2) << 32 | UInt64(key1)
        var out = [UInt8]()
        out.reserveCapacity(data.count)
        for byte in data {
            key = (key << 1) | (key >> 63)
            let k = UInt8(truncatingIfNeeded: key)
            out.append(byte ^ k)
            key &+= UInt64(k)
        }
        return out
    }

    /// The probe, as the script's `p2p_create_packet`: flags MODE|ENCODED (|IS_TCP for TCP),
    /// checksum, encryption of everything after the key, and the u16 length in front for TCP.
    ///
    /// - Parameters: key1, key2: random in 1...0x7FFFFFFF (the script's range); 0/0 disables the cipher.
    public static func makeProbe(transport: Transport, key1: UInt32, key2: UInt32) -> [UInt8] {
        var flags = Flag.mode | Flag.encoded
        if transport == .tcp { flags |= Flag.isTCP }
        var plain = ByteWriter(capacity: 16)
        plain.writeUInt32LE(key1)
        plain.writeUInt32LE(key2)
        plain.writeUInt16LE(flags)
        return seal(plain.bytes, key1: key1, key2: key2, noise: [], transport: transport)
    }

    /// A probe with keys from a random generator, in the script's range.
    public static func makeProbe(transport: Transport, using rng: inout some RandomNumberGenerator) -> (packet: [UInt8], key1: UInt32, key2: UInt32) {
        let key1 = UInt32.random(in: 1...0x7FFF_FFFF, using: &rng)
        let key2 = UInt32.random(in: 1...0x7FFF_FFFF, using: &rng)
        return (makeProbe(transport: transport, key1: key1, key2: key2), key1, key2)
    }

    /// Appends the checksum of `plain` (key + fields), then noise, encrypts all but the key and
    /// adds the TCP length prefix.
    static func seal(_ plain: [UInt8], key1: UInt32, key2: UInt32, noise: [UInt8], transport: Transport) -> [UInt8] {
        var w = ByteWriter(capacity: plain.count + 4 + noise.count)
        w.writeBytes(plain)
        w.writeUInt32LE(checksum(plain))
        w.writeBytes(noise)
        let packet = Array(w.bytes.prefix(8)) + cipher(Array(w.bytes.dropFirst(8)), key1: key1, key2: key2)
        guard transport == .tcp else { return packet }
        var framed = ByteWriter(capacity: packet.count + 2)
        framed.writeUInt16LE(UInt16(truncatingIfNeeded: packet.count))
        framed.writeBytes(packet)
        return framed.bytes
    }
}
