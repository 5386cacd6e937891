/// DCE/RPC connection-oriented BIND (MS-RPCE / C706) on TCP 135: the bind PDU, the parse of the
/// answer (bind_ack, bind_nak, fault) with the data representation honoured, and a bind_ack
/// builder for simulated hosts.
public enum DCERPC {
    /// PDU types.
    public enum PacketType {
        public static let request: UInt8 = 0x00
        public static let fault: UInt8 = 0x03
        public static let bind: UInt8 = 0x0B
        public static let bindAck: UInt8 = 0x0C
        public static let bindNak: UInt8 = 0x0D
    }

    /// An interface or transfer syntax: UUID (in the little-endian wire layout) and version.
    public struct SyntaxID: Equatable, Sendable {
        /// 16 bytes as they appear on the wire with little-endian data representation.
        public var uuid: [UInt8]
        public var majorVersion: UInt16
        public var minorVersion: UInt16

        public init(uuid: [UInt8], majorVersion: UInt16, minorVersion: UInt16 = 0) {
            self.uuid = uuid
            self.majorVersion = majorVersion
            self.minorVersion = minorVersion
        }

        /// Parses `"e1af8308-5d1f-11c9-91a4-08002b14a0fa"` into the wire layout (first three
        /// groups little-endian). Nil when malformed.
        public init?(uuidString: String, majorVersion: UInt16, minorVersion: UInt16 = 0) {
            let groups = uuidString.split(separator: "-", omittingEmptySubsequences: false)
            guard groups.count == 5, groups.map(\.count) == [8, 4, 4, 4, 12] else { return nil }
            var bytes: [UInt8] = []
            for (index, group) in groups.enumerated() {
                var groupBytes: [UInt8] = []
                var chars = Array(group.utf8)
                while chars.count >= 2 {
                    guard let hi = Self.hexValue(chars[0]), let lo = Self.hexValue(chars[1]) else { return nil }
                    groupBytes.append(hi << 4 | lo)
                    chars.removeFirst(2)
                }
                bytes += index < 3 ? groupBytes.reversed() : groupBytes
            }
            self.init(uuid: bytes, majorVersion: majorVersion, minorVersion: minorVersion)
        }

        private static func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }

        /// The endpoint mapper, e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0.
        public static let endpointMapper = SyntaxID(
            uuid: [0x08, 0x83, 0xAF, 0xE1, 0x1F, 0x5D, 0xC9, 0x11, 0x91, 0xA4, 0x08, 0x00, 0x2B, 0x14, 0xA0, 0xFA],
            majorVersion: 3)
        /// NDR transfer syntax, 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.
        public static let ndr = SyntaxID(
            uuid: [0x04, 0x5D, 0x88, 0x8A, 0xEB, 0x1C, 0xC9, 0x11, 0x9F, 0xE8, 0x08, 0x00, 0x2B, 0x10, 0x48, 0x60],
            majorVersion: 2)
    }

    /// The largest PDU accepted (fragment length).
    public static let maxPDUSize = 8192

    /// The BIND PDU: version 5.0, flags 0x03 (first + last fragment), little-endian NDR data
    /// representation, max xmit/recv 0x0800, assoc group 0, one context item with one transfer
    /// syntax — the layout `msrpc.lua` builds.
    public static func bindRequest(interface: SyntaxID = .endpointMapper, transferSyntax: SyntaxID = .ndr,
                                   callID: UInt32 = 1, maxFragment: UInt16 = 0x0800) -> [UInt8] {
        var w = ByteWriter(capacity: 72)
        w.writeBytes([5, 0, PacketType.bind, 0x03, 0x10, 0x00, 0x00, 0x00])
        w.writeUInt16LE(0)      // frag length, patched below
        w.writeUInt16LE(0)      // auth length
        w.writeUInt32LE(callID)
        w.writeUInt16LE(maxFragment)
        w.writeUInt16LE(maxFragment)
        w.writeUInt32LE(0)      // assoc group
        w.writeUInt8(1)         // context items
        w.writeZeros(3)
        w.writeUInt16LE(0)      // context ID
        w.writeUInt8(1)         // transfer syntaxes
        w.writeUInt8(0)
        w.writeFixed(interface.uuid, count: 16)
        w.writeUInt16LE(interface.majorVersion)
        w.writeUInt16LE(interface.minorVersion)
        w.writeFixed(transferSyntax.uuid, count: 16)
        w.writeUInt16LE(transferSyntax.majorVersion)
        w.writeUInt16LE(transferSyntax.minorVersion)
        w.setUInt16LE(UInt16(w.count), at: 8)
        return w.bytes
    }

    /// The common 16-byte header.
    public struct Header: Equatable, Sendable {
        public var versionMajor: UInt8
        public var versionMinor: UInt8
        public var packetType: UInt8
        public var flags: UInt8
        public var dataRepresentation: [UInt8]
        public var fragmentLength: UInt16
        public var authLength: UInt16
        public var callID: UInt32

        /// Integer byte order from the data representation (bit 0x10 of the first byte).
        public var littleEndian: Bool { (dataRepresentation.first ?? 0x10) & 0x10 != 0 }

        /// Reads the header; the fragment length is checked against `maxPDUSize` but not against
        /// the bytes available (see ``pduLength(_:)``).
        public static func parse(_ bytes: [UInt8]) throws(CodecError) -> Header {
            var r = ByteReader(bytes)
            let major = try r.readUInt8()
            let minor = try r.readUInt8()
            guard major == 5 else { throw .invalidValue("DCE/RPC version \(major).\(minor)") }
            let type = try r.readUInt8()
            let flags = try r.readUInt8()
            let drep = try r.readBytes(4)
            let little = drep[0] & 0x10 != 0
            let fragLength = try r.readUInt16(littleEndian: little)
            let authLength = try r.readUInt16(littleEndian: little)
            let callID = try r.readUInt32(littleEndian: little)
            guard fragLength >= 16 else { throw .invalidValue("fragment length \(fragLength)") }
            guard Int(fragLength) <= maxPDUSize else { throw .tooLarge("fragment length \(fragLength)") }
            return Header(versionMajor: major, versionMinor: minor, packetType: type, flags: flags, dataRepresentation: drep,
                          fragmentLength: fragLength, authLength: authLength, callID: callID)
        }
    }

    /// For stream reassembly: the PDU's total length once 10 bytes are available, nil before.
    /// Throws when the header is not DCE/RPC or the length is out of bounds.
    public static func pduLength(_ prefix: [UInt8]) throws(CodecError) -> Int? {
        guard prefix.count >= 10 else { return nil }
        var header = Array(prefix.prefix(16))
        while header.count < 16 { header.append(0) }
        return Int(try Header.parse(header).fragmentLength)
    }

    /// One presentation context result of a bind_ack.
    public struct ContextResult: Equatable, Sendable {
        /// 0 acceptance, 1 user rejection, 2 provider rejection.
        public var result: UInt16
        public var reason: UInt16
        public var transferSyntax: SyntaxID
    }

    /// A bind_ack body.
    public struct BindAck: Equatable, Sendable {
        public var maxTransmitFragment: UInt16
        public var maxReceiveFragment: UInt16
        public var assocGroup: UInt32
        /// The secondary address (the port, e.g. "135"), sanitized.
        public var secondaryAddress: String
        public var results: [ContextResult]

        /// True when the first context was accepted.
        public var accepted: Bool { results.first?.result == 0 }
    }

    /// The answer to a BIND.
    public enum BindReply: Equatable, Sendable {
        case bindAck(BindAck)
        /// bind_nak with its reject reason.
        case bindNak(reason: UInt16)
        /// fault with its status code.
        case fault(status: UInt32)
        /// Another valid DCE/RPC PDU type.
        case other(packetType: UInt8)
    }

    /// Parses one complete PDU answering a BIND. Integers follow the PDU's data representation.
    public static func parseBindReply(_ bytes: [UInt8]) throws(CodecError) -> BindReply {
        let header = try Header.parse(bytes)
        guard bytes.count >= Int(header.fragmentLength) else { throw .truncated("PDU of \(bytes.count)/\(header.fragmentLength) bytes") }
        let le = header.littleEndian
        var r = ByteReader(Array(bytes.prefix(Int(header.fragmentLength))))
        try r.skip(16)
        switch header.packetType {
        case PacketType.bindAck:
            let maxXmit = try r.readUInt16(littleEndian: le)
            let maxRecv = try r.readUInt16(littleEndian: le)
            let assoc = try r.readUInt32(littleEndian: le)
            let addressLength = Int(try r.readUInt16(littleEndian: le))
            let address = try r.readBytes(addressLength)
            r.align(to: 4)
            let count = Int(try r.readUInt8())
            try r.skip(3)
            guard count <= 16 else { throw .outOfBounds("\(count) context results") }
            var results: [ContextResult] = []
            for _ in 0..<count {
                let result = try r.readUInt16(littleEndian: le)
                let reason = try r.readUInt16(littleEndian: le)
                let uuid = try r.readBytes(16)
                let version = try r.readUInt32(littleEndian: le)
                results.append(ContextResult(result: result, reason: reason,
                                             transferSyntax: SyntaxID(uuid: uuid, majorVersion: UInt16(truncatingIfNeeded: version),
                                                                      minorVersion: UInt16(truncatingIfNeeded: version >> 16))))
            }
            let name = Evidence.ascii(address.prefix { $0 != 0 }, maxLength: 64)
            return .bindAck(BindAck(maxTransmitFragment: maxXmit, maxReceiveFragment: maxRecv, assocGroup: assoc,
                                    secondaryAddress: name, results: results))
        case PacketType.bindNak:
            return .bindNak(reason: try r.readUInt16(littleEndian: le))
        case PacketType.fault:
            try r.skip(8) // alloc hint, context id, cancel count, reserved
            return .fault(status: try r.readUInt32(littleEndian: le))
        default:
            return .other(packetType: header.packetType)
        }
    }

    /// Server side: the interface and call ID of a BIND request.
    public static func parseBindRequest(_ bytes: [UInt8]) throws(CodecError) -> (callID: UInt32, interface: SyntaxID) {
        let header = try Header.parse(bytes)
        guard header.packetType == PacketType.bind else { throw .unexpectedMessage("not a bind") }
        let le = header.littleEndian
        var r = ByteReader(Array(bytes.prefix(Int(header.fragmentLength))))
        try r.skip(16 + 8)
        guard try r.readUInt8() >= 1 else { throw .invalidValue("no context item") }
        try r.skip(3 + 2 + 2)
        let uuid = try r.readBytes(16)
        let major = try r.readUInt16(littleEndian: le)
        let minor = try r.readUInt16(littleEndian: le)
        return (header.callID, SyntaxID(uuid: uuid, majorVersion: major, minorVersion: minor))
    }

    /// Server side: a bind_ack accepting NDR (little-endian), secondary address e.g. "135".
    public static func makeBindAck(callID: UInt32, secondaryAddress: String = "135", assocGroup: UInt32 = 0x0000_53F0,
                                   maxFragment: UInt16 = 0x10B8) -> [UInt8] {
        var w = ByteWriter(capacity: 68)
        w.writeBytes([5, 0, PacketType.bindAck, 0x03, 0x10, 0x00, 0x00, 0x00])
        w.writeUInt16LE(0)
        w.writeUInt16LE(0)
        w.writeUInt32LE(callID)
        w.writeUInt16LE(maxFragment)
        w.writeUInt16LE(maxFragment)
        w.writeUInt32LE(assocGroup)
        let address = Array(secondaryAddress.utf8.prefix(32)) + [0]
        w.writeUInt16LE(UInt16(address.count))
        w.writeBytes(address)
        w.pad(toMultipleOf: 4)
        w.writeUInt8(1)
        w.writeZeros(3)
        w.writeUInt16LE(0)   // acceptance
        w.writeUInt16LE(0)
        w.writeBytes(SyntaxID.ndr.uuid)
        w.writeUInt32LE(UInt32(SyntaxID.ndr.majorVersion))
        w.setUInt16LE(UInt16(w.count), at: 8)
        return w.bytes
    }

    /// Server side: a bind_nak with a reject reason (e.g. 4 = protocol version not supported).
    public static func makeBindNak(callID: UInt32, reason: UInt16 = 0) -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.writeBytes([5, 0, PacketType.bindNak, 0x03, 0x10, 0x00, 0x00, 0x00])
        w.writeUInt16LE(0)
        w.writeUInt16LE(0)
        w.writeUInt32LE(callID)
        w.writeUInt16LE(reason)
        w.writeUInt8(0) // no protocol versions
        w.pad(toMultipleOf: 4)
        w.setUInt16LE(UInt16(w.count), at: 8)
        return w.bytes
    }
}
