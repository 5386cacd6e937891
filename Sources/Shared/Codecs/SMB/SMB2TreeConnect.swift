/// SMB2 TREE_CONNECT (MS-SMB2 2.2.9, 2.2.10) to `\\host\IPC$`, on an anonymous session.
public enum SMB2TreeConnect {
    /// Share types of the response.
    public enum ShareType {
        public static let disk: UInt8 = 0x01
        public static let pipe: UInt8 = 0x02
        public static let print: UInt8 = 0x03
    }

    /// The request, framed: the UNC path in UTF-16LE after the 8-byte body.
    public static func request(path: String, messageID: UInt64, sessionID: UInt64) -> [UInt8] {
        let unc = ByteWriter.utf16LE(String(path.prefix(256)))
        var w = ByteWriter(capacity: SMB2Header.size + 8 + unc.count)
        SMB2Header(command: SMB2Command.treeConnect, credits: 1, messageID: messageID, sessionID: sessionID).write(to: &w)
        w.writeUInt16LE(9)
        w.writeUInt16LE(0)      // flags (reserved before 3.1.1)
        w.writeUInt16LE(UInt16(SMB2Header.size + 8))
        w.writeUInt16LE(UInt16(unc.count))
        w.writeBytes(unc)
        return NetBIOSSession.frameSmall(w.bytes)
    }

    /// A parsed response: the status, the tree ID from the header, and the share type.
    public struct Response: Equatable, Sendable {
        public var status: NTStatus
        public var treeID: UInt32
        /// Nil on an error response (no body).
        public var shareType: UInt8?

        public init(status: NTStatus, treeID: UInt32, shareType: UInt8?) {
            self.status = status
            self.treeID = treeID
            self.shareType = shareType
        }

        public static func parse(_ payload: [UInt8]) throws(CodecError) -> Response {
            var r = ByteReader(payload)
            let header = try SMB2Header.read(from: &r)
            guard header.command == SMB2Command.treeConnect else { throw .unexpectedMessage("SMB2 command \(header.command)") }
            var response = Response(status: header.status, treeID: header.treeID, shareType: nil)
            guard header.status == .success else { return response }
            guard try r.readUInt16LE() == 16 else { throw .invalidValue("TREE_CONNECT response StructureSize is not 16") }
            response.shareType = try r.readUInt8()
            return response
        }

        /// Server side: the response, framed.
        public func makeReply(messageID: UInt64, sessionID: UInt64) -> [UInt8] {
            var w = ByteWriter(capacity: SMB2Header.size + 16)
            SMB2Header(command: SMB2Command.treeConnect, status: status, credits: 1, flags: SMB2Header.flagServerToRedir,
                       messageID: messageID, treeID: status == .success ? treeID : 0, sessionID: sessionID).write(to: &w)
            if let shareType, status == .success {
                w.writeUInt16LE(16)
                w.writeUInt8(shareType)
                w.writeUInt8(0)
                w.writeUInt32LE(0)            // share flags
                w.writeUInt32LE(0)            // capabilities
                w.writeUInt32LE(0x001F_01FF)  // maximal access
            } else {
                w.writeUInt16LE(9)
                w.writeZeros(7)
            }
            return NetBIOSSession.frameSmall(w.bytes)
        }
    }

    /// Server side: the request's header and UNC path (bounded to 256 characters).
    public static func parseRequest(_ payload: [UInt8]) throws(CodecError) -> (header: SMB2Header, path: String) {
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.command == SMB2Command.treeConnect else { throw .unexpectedMessage("not a TREE_CONNECT") }
        guard try r.readUInt16LE() == 9 else { throw .invalidValue("TREE_CONNECT StructureSize is not 9") }
        try r.skip(2)
        let offset = Int(try r.readUInt16LE())
        let length = Int(try r.readUInt16LE())
        guard length <= 512, length % 2 == 0 else { throw .invalidValue("TREE_CONNECT path length \(length)") }
        let bytes = try r.bytes(at: offset, count: length)
        let units = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
        return (header, String(decoding: units, as: UTF16.self))
    }
}
