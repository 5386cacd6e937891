/// The four peer-to-peer ports of Conficker.C, computed as nmap's `p2p-conficker.nse` does.
public struct ConfickerPorts: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// First TCP and UDP ports: depend on the IP address only.
    public var tcp1: UInt16
    public var udp1: UInt16
    /// Second TCP and UDP ports: depend on the IP address and the week.
    public var tcp2: UInt16
    public var udp2: UInt16

    public init(tcp1: UInt16, udp1: UInt16, tcp2: UInt16, udp2: UInt16) {
        self.tcp1 = tcp1
        self.udp1 = udp1
        self.tcp2 = tcp2
        self.udp2 = udp2
    }

    public var tcp: [UInt16] { [tcp1, tcp2] }
    public var udp: [UInt16] { [udp1, udp2] }
    public var description: String { "tcp \(tcp1),\(tcp2) udp \(udp1),\(udp2)" }
}

extension ConfickerP2P {
    /// The week number the ports rotate on: `floor((unixTime - 345600) / 604800)`.
    public static func week(unixTime: Int64) -> Int64 {
        let shifted = unixTime.subtractingReportingOverflow(345_600)
        let t = shifted.overflow ? (unixTime < 0 ? Int64.min : Int64.max) : shifted.partialValue
        let q = t / 604_800
        return (t % 604_800 != 0 && t < 0) ? q - 1 : q
    }

    /// The ports for an IPv4 address at a unix time.
    public static func ports(for address: IPv4Octets, unixTime: Int64) -> ConfickerPorts {
        ports(for: address, week: week(unixTime: unixTime))
    }

    /// The ports for an IPv4 address in a given week (see ``week(unixTime:)``).
    ///
    /// The address is read as a little-endian u32 (first octet lowest). The generator is the
    /// script's: state `~ip`, step `p = s * 0x015A4E35 + 1` (64-bit), `s = low32(p)`, output
    /// `(high32(p) >> i) & 0xFFFF`, even steps into the TCP port, odd into the UDP port, ten steps
    /// per round, rounds repeated until neither port is blacklisted and they differ; then the
    /// state is XORed with the week and a second pair is drawn the same way.
    public static func ports(for address: IPv4Octets, week: Int64) -> ConfickerPorts {
        let b = address.bytes
        let ip = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        var state = ~ip
        let first = drawPair(&state)
        state ^= UInt32(truncatingIfNeeded: week)
        let second = drawPair(&state)
        return ConfickerPorts(tcp1: first.0, udp1: first.1, tcp2: second.0, udp2: second.1)
    }

    /// Rounds of ten steps until a valid pair; bounded (the script's loop has no bound, but a valid
    /// pair appears within a handful of rounds: the blacklist covers under 10% of ports).
    private static func drawPair(_ state: inout UInt32) -> (UInt16, UInt16) {
        var ports: (UInt16, UInt16) = (0, 0)
        for _ in 0..<10_000 {
            for i in 0..<10 {
                let product = UInt64(state) &* 0x015A_4E35 &+ 1
                state = UInt32(truncatingIfNeeded: product)
                let value = UInt16(truncatingIfNeeded: (product >> 32) >> UInt64(i))
                if i % 2 == 0 { ports.0 ^= value } else { ports.1 ^= value }
            }
            if !isBlacklisted(ports.0), !isBlacklisted(ports.1), ports.0 != ports.1 { return ports }
        }
        return ports
    }

    /// True for ports Conficker never uses: one bit per group of 32 ports, from the script's table
    /// (ports below 2048 are all blacklisted).
    public static func isBlacklisted(_ port: UInt16) -> Bool {
        let group = Int(port >> 5)
        return blacklist[group >> 5] & (1 << UInt32(group & 31)) != 0
    }

    /// The 64-word table of `p2p-conficker.nse` (`is_blacklisted_port`).
    static let blacklist: [UInt32] = [
        0xFFFF_FFFF, 0xFFFF_FFFF, 0xF0F6_BFBB, 0xBB5A_5FF3, 0xF397_7011, 0xEB67_BFBF, 0x5F9B_FAC8, 0x34D8_8091,
        0x1E22_82DF, 0x5734_02C4, 0xC000_0084, 0x0300_0209, 0x0160_0002, 0x0000_5000, 0x8010_00C0, 0x0050_0040,
        0x0000_00A1, 0x0100_0000, 0x0100_0000, 0x0002_2A20, 0x0000_0080, 0x0400_0000, 0x4002_0000, 0x8800_0000,
        0x0000_0180, 0x0008_1000, 0x0880_1900, 0x0080_0B81, 0x0000_0280, 0x0800_02C0, 0x00A8_0000, 0x0000_8000,
        0x0010_0040, 0x0010_0000, 0x0000_0000, 0x0000_0000, 0x1000_0008, 0x0000_0000, 0x0000_0000, 0x0000_0004,
        0x0000_0002, 0x0000_0000, 0x0004_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0041_0000, 0x8200_0000,
        0x0000_0000, 0x0000_0000, 0x0000_0001, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000,
        0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0008, 0x8000_0000,
    ]
}
