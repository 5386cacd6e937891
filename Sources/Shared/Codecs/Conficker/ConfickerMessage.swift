/// A decrypted Conficker P2P packet: the fields the script parses.
public struct ConfickerMessage: Equatable, Sendable {
    /// The optional sysinfo block (25 bytes).
    public struct SysInfo: Equatable, Sendable {
        public var systemTestFlags: UInt16
        public var osMajor: UInt8
        public var osMinor: UInt8
        public var osBuild: UInt16
        public var servicePackMajor: UInt8
        public var servicePackMinor: UInt8
        public var ntdllTranslation: UInt16
        public var prngSample: UInt32
        public var unknown0: UInt16
        public var unknown1: UInt16
        public var unknown2: UInt32
        public var unknown3: UInt16
        public var unknown4: UInt16

        public init(systemTestFlags: UInt16 = 0, osMajor: UInt8, osMinor: UInt8, osBuild: UInt16, servicePackMajor: UInt8 = 0,
                    servicePackMinor: UInt8 = 0, ntdllTranslation: UInt16 = 0, prngSample: UInt32 = 0, unknown0: UInt16 = 0,
                    unknown1: UInt16 = 0, unknown2: UInt32 = 0, unknown3: UInt16 = 0, unknown4: UInt16 = 0) {
            self.systemTestFlags = systemTestFlags
            self.osMajor = osMajor
            self.osMinor = osMinor
            self.osBuild = osBuild
            self.servicePackMajor = servicePackMajor
            self.servicePackMinor = servicePackMinor
            self.ntdllTranslation = ntdllTranslation
            self.prngSample = prngSample
            self.unknown0 = unknown0
            self.unknown1 = unknown1
            self.unknown2 = unknown2
            self.unknown3 = unknown3
            self.unknown4 = unknown4
        }
    }

    public var key1: UInt32
    public var key2: UInt32
    public var flags: UInt16
    public var ip: UInt32?
    public var port: UInt16?
    public var unknown0: UInt32?
    public var unknown1: UInt32?
    public var dataFlags: UInt8?
    public var data: [UInt8]?
    public var sysinfo: SysInfo?

    public init(key1: UInt32, key2: UInt32, flags: UInt16, ip: UInt32? = nil, port: UInt16? = nil, unknown0: UInt32? = nil,
                unknown1: UInt32? = nil, dataFlags: UInt8? = nil, data: [UInt8]? = nil, sysinfo: SysInfo? = nil) {
        self.key1 = key1
        self.key2 = key2
        self.flags = flags
        self.ip = ip
        self.port = port
        self.unknown0 = unknown0
        self.unknown1 = unknown1
        self.dataFlags = dataFlags
        self.data = data
        self.sysinfo = sysinfo
    }

    /// The plaintext key + fields, with the flags adjusted to the fields that are present.
    func plaintext() -> [UInt8] {
        var flags = self.flags & ~(ConfickerP2P.Flag.ipIncluded | ConfickerP2P.Flag.unknown0Included
            | ConfickerP2P.Flag.unknown1Included | ConfickerP2P.Flag.dataIncluded | ConfickerP2P.Flag.sysinfoIncluded)
        if ip != nil || port != nil { flags |= ConfickerP2P.Flag.ipIncluded }
        if unknown0 != nil { flags |= ConfickerP2P.Flag.unknown0Included }
        if unknown1 != nil { flags |= ConfickerP2P.Flag.unknown1Included }
        if data != nil { flags |= ConfickerP2P.Flag.dataIncluded }
        if sysinfo != nil { flags |= ConfickerP2P.Flag.sysinfoIncluded }
        var w = ByteWriter(capacity: 64)
        w.writeUInt32LE(key1)
        w.writeUInt32LE(key2)
        w.writeUInt16LE(flags)
        if flags & ConfickerP2P.Flag.ipIncluded != 0 {
            w.writeUInt32LE(ip ?? 0)
            w.writeUInt16LE(port ?? 0)
        }
        if let unknown0 { w.writeUInt32LE(unknown0) }
        if let unknown1 { w.writeUInt32LE(unknown1) }
        if let data {
            let bytes = Array(data.prefix(ConfickerP2P.maxPacket / 2))
            w.writeUInt8(dataFlags ?? 0)
            w.writeUInt16LE(UInt16(bytes.count))
            w.writeBytes(bytes)
        }
        if let s = sysinfo {
            w.writeUInt16LE(s.systemTestFlags)
            w.writeUInt8(s.osMajor)
            w.writeUInt8(s.osMinor)
            w.writeUInt16LE(s.osBuild)
            w.writeUInt8(s.servicePackMajor)
            w.writeUInt8(s.servicePackMinor)
            w.writeUInt16LE(s.ntdllTranslation)
            w.writeUInt32LE(s.prngSample)
            w.writeUInt16LE(s.unknown0)
            w.writeUInt16LE(s.unknown1)
            w.writeUInt32LE(s.unknown2)
            w.writeUInt16LE(s.unknown3)
            w.writeUInt16LE(s.unknown4)
        }
        return w.bytes
    }
}

extension ConfickerP2P {
    /// The verdict on what came back from a candidate port.
    public enum ReplyValidation: Equatable, Sendable {
        /// Decrypted and parsed with a valid checksum: Conficker.C or later answered.
        case infected(ConfickerMessage)
        /// Parsed, but the checksum is wrong (the script: "possibly INFECTED").
        case badChecksum(expected: UInt32, received: UInt32)
        /// Not Conficker data (why).
        case notConficker(reason: String)
        /// TCP: the length prefix announces more bytes than received so far.
        case incomplete(needed: Int)
    }

    /// Validates a reply as the script does (`p2p_parse` + checksum comparison).
    ///
    /// - Parameter bytes: for TCP everything received (u16 length prefix included); for UDP the
    ///   datagram. At most ``maxPacket`` bytes are considered.
    public static func validateReply(_ bytes: [UInt8], transport: Transport) -> ReplyValidation {
        var packet = bytes
        if transport == .tcp {
            guard bytes.count >= 2 else { return .incomplete(needed: 2) }
            let length = Int(bytes[0]) | Int(bytes[1]) << 8
            guard length <= maxPacket else { return .notConficker(reason: "declared length \(length) over \(maxPacket)") }
            guard bytes.count - 2 >= length else { return .incomplete(needed: 2 + length) }
            packet = Array(bytes[2..<(2 + length)])
        }
        guard packet.count <= maxPacket else { return .notConficker(reason: "packet over \(maxPacket) bytes") }
        do {
            return try parse(packet)
        } catch {
            return .notConficker(reason: error.reason)
        }
    }

    /// Decrypts and parses one packet (without TCP length).
    static func parse(_ packet: [UInt8]) throws(CodecError) -> ReplyValidation {
        guard packet.count >= 8 else { throw .truncated("Packet was too short [1]") }
        var keyReader = ByteReader(Array(packet.prefix(8)))
        let key1 = try keyReader.readUInt32LE()
        let key2 = try keyReader.readUInt32LE()
        let plain = Array(packet.prefix(8)) + cipher(Array(packet.dropFirst(8)), key1: key1, key2: key2)
        var r = ByteReader(plain)
        try r.skip(8)
        guard r.remaining >= 2 else { throw .truncated("Packet was too short [2]") }
        var message = ConfickerMessage(key1: key1, key2: key2, flags: try r.readUInt16LE())
        if message.flags & Flag.ipIncluded != 0 {
            guard r.remaining >= 6 else { throw .truncated("Packet was too short [3]") }
            message.ip = try r.readUInt32LE()
            message.port = try r.readUInt16LE()
        }
        if message.flags & Flag.unknown0Included != 0 { message.unknown0 = try r.readUInt32LE() }
        if message.flags & Flag.unknown1Included != 0 { message.unknown1 = try r.readUInt32LE() }
        if message.flags & Flag.dataIncluded != 0 {
            guard r.remaining >= 3 else { throw .truncated("Packet was too short [5]") }
            message.dataFlags = try r.readUInt8()
            let length = Int(try r.readUInt16LE())
            guard r.remaining >= length else { throw .truncated("Packet was too short [6]") }
            message.data = try r.readBytes(length)
        }
        if message.flags & Flag.sysinfoIncluded != 0 {
            guard r.remaining >= 25 else { throw .truncated("Packet was too short [7]") }
            message.sysinfo = ConfickerMessage.SysInfo(
                systemTestFlags: try r.readUInt16LE(), osMajor: try r.readUInt8(), osMinor: try r.readUInt8(),
                osBuild: try r.readUInt16LE(), servicePackMajor: try r.readUInt8(), servicePackMinor: try r.readUInt8(),
                ntdllTranslation: try r.readUInt16LE(), prngSample: try r.readUInt32LE(), unknown0: try r.readUInt16LE(),
                unknown1: try r.readUInt16LE(), unknown2: try r.readUInt32LE(), unknown3: try r.readUInt16LE(),
                unknown4: try r.readUInt16LE())
        }
        let hashed = Array(plain.prefix(r.offset))
        guard r.remaining >= 4 else { throw .truncated("Packet was too short [8]") }
        let received = try r.readUInt32LE()
        let expected = checksum(hashed)
        guard expected == received else { return .badChecksum(expected: expected, received: received) }
        return .infected(message)
    }

    /// Server side: a reply the validator (and the script) accept, for a simulated infected host.
    ///
    /// - Parameters:
    ///   - message: the fields; the flag bits for optional fields are set from what is present.
    ///   - noise: random bytes appended after the checksum (at most 512 are used).
    public static func makeReply(_ message: ConfickerMessage, noise: [UInt8] = [], transport: Transport) -> [UInt8] {
        var m = message
        if transport == .tcp { m.flags |= Flag.isTCP } else { m.flags &= ~Flag.isTCP }
        return seal(m.plaintext(), key1: m.key1, key2: m.key2, noise: Array(noise.prefix(512)), transport: transport)
    }

    /// Server side: the reply of a simulated infected host to a probe, with fresh keys.
    public static func makeReply(address: IPv4Octets, port: UInt16, key1: UInt32, key2: UInt32, noise: [UInt8] = [],
                                 transport: Transport) -> [UInt8] {
        let b = address.bytes
        let ip = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        let message = ConfickerMessage(key1: key1, key2: key2, flags: Flag.mode | Flag.encoded | Flag.localAck, ip: ip, port: port,
                                       sysinfo: .init(osMajor: 5, osMinor: 1, osBuild: 2600, servicePackMajor: 3))
        return makeReply(message, noise: noise, transport: transport)
    }
}
