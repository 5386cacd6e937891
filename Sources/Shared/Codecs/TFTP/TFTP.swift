/// TFTP (RFC 1350) on UDP 69: Blaster fetched `msblast.exe` from the attacker's TFTP server, so a
/// TFTP service answering on a workstation is an indicator. The probe reads a harmless file name
/// that does not exist; any well-formed TFTP reply means the service answered.
public enum TFTP {
    public enum Opcode {
        public static let readRequest: UInt16 = 1
        public static let writeRequest: UInt16 = 2
        public static let data: UInt16 = 3
        public static let ack: UInt16 = 4
        public static let error: UInt16 = 5
        public static let optionAck: UInt16 = 6
    }

    /// The file name the probe asks for.
    public static let probeFileName = "cordon-probe-nonexistent.txt"

    /// A read request (RRQ) in octet mode. The file name is cut to 128 bytes and must be printable
    /// ASCII without path separators (else the default is used).
    public static func readRequest(fileName: String = probeFileName) -> [UInt8] {
        let bytes = Array(fileName.utf8.prefix(128))
        let safe = !bytes.isEmpty && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
        var w = ByteWriter(capacity: 48)
        w.writeUInt16BE(Opcode.readRequest)
        w.writeBytes(safe ? bytes : Array(probeFileName.utf8))
        w.writeUInt8(0)
        w.writeCString("octet")
        return w.bytes
    }

    /// What came back.
    public enum Reply: Equatable, Sendable {
        /// DATA block (the file existed after all): block number and size.
        case data(block: UInt16, size: Int)
        /// ERROR with code and sanitized message (code 1 "File not found" is the usual answer).
        case error(code: UInt16, message: String)
        /// OACK (option acknowledgement).
        case optionAck
        /// Not a TFTP reply.
        case notTFTP
    }

    /// Parses a datagram. Anything that is not DATA/ERROR/OACK with a sane layout is `notTFTP`.
    public static func parseReply(_ datagram: [UInt8]) -> Reply {
        var r = ByteReader(Array(datagram.prefix(1024)))
        guard datagram.count <= 65_507, let opcode = try? r.readUInt16BE() else { return .notTFTP }
        switch opcode {
        case Opcode.data:
            guard let block = try? r.readUInt16BE(), r.remaining <= 512 else { return .notTFTP }
            return .data(block: block, size: datagram.count - 4)
        case Opcode.error:
            guard let code = try? r.readUInt16BE(), code <= 8 else { return .notTFTP }
            let message = (try? r.readCString(maxLength: 512)) ?? r.readRest()
            return .error(code: code, message: Evidence.ascii(message, maxLength: 128))
        case Opcode.optionAck:
            return .optionAck
        default:
            return .notTFTP
        }
    }

    /// True when the reply proves a TFTP service answered.
    public static func serviceAnswered(_ datagram: [UInt8]) -> Bool {
        parseReply(datagram) != .notTFTP
    }

    /// Server side: an ERROR packet (code 1 "File not found" by default).
    public static func makeError(code: UInt16 = 1, message: String = "File not found") -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.writeUInt16BE(Opcode.error)
        w.writeUInt16BE(code)
        w.writeCString(Evidence.ascii(Array(message.utf8), maxLength: 128))
        return w.bytes
    }
}
