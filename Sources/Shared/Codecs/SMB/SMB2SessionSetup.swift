/// SMB2 SESSION_SETUP: an NTLMSSP NEGOTIATE to read the server's CHALLENGE (names and OS build)
/// on hosts that no longer speak SMB1, and the anonymous AUTHENTICATE of the null-session check.
/// The probe never logs on with a name or a password.
public enum SMB2SessionSetup {
    /// SessionFlags of the response.
    public enum SessionFlags {
        public static let isGuest: UInt16 = 0x0001
        public static let isNull: UInt16 = 0x0002
        public static let encryptData: UInt16 = 0x0004
    }

    /// The request carrying a security blob (NTLMSSP in SPNEGO), framed.
    public static func request(securityBlob: [UInt8], messageID: UInt64, sessionID: UInt64 = 0) -> [UInt8] {
        let blob = Array(securityBlob.prefix(0xF000))
        var w = ByteWriter(capacity: 100 + blob.count)
        SMB2Header(command: SMB2Command.sessionSetup, credits: 1, messageID: messageID, sessionID: sessionID).write(to: &w)
        w.writeUInt16LE(25)
        w.writeUInt8(0)        // flags
        w.writeUInt8(UInt8(SMB2SecurityMode.signingEnabled))
        w.writeUInt32LE(0)     // capabilities
        w.writeUInt32LE(0)     // channel
        w.writeUInt16LE(UInt16(SMB2Header.size + 24))
        w.writeUInt16LE(UInt16(blob.count))
        w.writeUInt64LE(0)     // previous session
        w.writeBytes(blob)
        return NetBIOSSession.frameSmall(w.bytes)
    }

    /// A parsed SESSION_SETUP response: status, session ID and security blob.
    public struct Response: Equatable, Sendable {
        public var status: NTStatus
        public var sessionID: UInt64
        public var securityBlob: [UInt8]
        public var sessionFlags: UInt16

        public init(status: NTStatus, sessionID: UInt64, securityBlob: [UInt8], sessionFlags: UInt16 = 0) {
            self.status = status
            self.sessionID = sessionID
            self.securityBlob = securityBlob
            self.sessionFlags = sessionFlags
        }

        public static func parse(_ payload: [UInt8]) throws(CodecError) -> Response {
            var r = ByteReader(payload)
            let header = try SMB2Header.read(from: &r)
            guard header.command == SMB2Command.sessionSetup else { throw .unexpectedMessage("SMB2 command \(header.command)") }
            var response = Response(status: header.status, sessionID: header.sessionID, securityBlob: [])
            guard r.remaining >= 8 else { return response } // error body
            guard try r.readUInt16LE() == 9 else { return response }
            response.sessionFlags = try r.readUInt16LE()
            let offset = Int(try r.readUInt16LE())
            let length = Int(try r.readUInt16LE())
            if length > 0 { response.securityBlob = try r.bytes(at: offset, count: length) }
            return response
        }

        /// Server side: the response, framed.
        public func makeReply(messageID: UInt64) -> [UInt8] {
            var w = ByteWriter(capacity: 80 + securityBlob.count)
            SMB2Header(command: SMB2Command.sessionSetup, status: status, credits: 1, flags: SMB2Header.flagServerToRedir,
                       messageID: messageID, sessionID: sessionID).write(to: &w)
            if status.isError && status != .moreProcessingRequired {
                w.writeUInt16LE(9)
                w.writeZeros(7)
                return NetBIOSSession.frameSmall(w.bytes)
            }
            w.writeUInt16LE(9)
            w.writeUInt16LE(sessionFlags)
            w.writeUInt16LE(UInt16(SMB2Header.size + 8))
            w.writeUInt16LE(UInt16(truncatingIfNeeded: securityBlob.count))
            w.writeBytes(securityBlob)
            return NetBIOSSession.frameSmall(w.bytes)
        }
    }

    /// Server side: the security blob of a request.
    public static func parseRequestBlob(_ payload: [UInt8]) throws(CodecError) -> (header: SMB2Header, blob: [UInt8]) {
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.command == SMB2Command.sessionSetup else { throw .unexpectedMessage("not a SESSION_SETUP") }
        guard try r.readUInt16LE() == 25 else { throw .invalidValue("SESSION_SETUP StructureSize is not 25") }
        try r.skip(10)
        let offset = Int(try r.readUInt16LE())
        let length = Int(try r.readUInt16LE())
        return (header, try r.bytes(at: offset, count: length))
    }
}
