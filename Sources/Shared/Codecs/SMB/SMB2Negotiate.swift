/// SMB2 NEGOTIATE: the request offering 2.0.2 to 3.1.1 (with the 3.1.1 negotiate contexts) and
/// the parse of the response.
public enum SMB2Negotiate {
    /// Negotiate context types.
    public enum ContextType {
        public static let preauthIntegrity: UInt16 = 0x0001
        public static let encryption: UInt16 = 0x0002
    }
    /// SHA-512, the only preauth integrity hash.
    public static let sha512: UInt16 = 0x0001
    /// AES-128-GCM and AES-128-CCM cipher IDs.
    public static let aes128GCM: UInt16 = 0x0002
    public static let aes128CCM: UInt16 = 0x0001

    /// The NEGOTIATE request, framed.
    ///
    /// - Parameters:
    ///   - dialects: offered revisions (default 0x0202, 0x0210, 0x0300, 0x0302, 0x0311).
    ///   - clientGUID: 16 bytes (cut or zero-padded).
    ///   - salt: the preauth integrity salt (32 random bytes recommended), used when 3.1.1 is offered.
    public static func request(dialects: [UInt16] = SMB2Dialect.all, clientGUID: [UInt8], salt: [UInt8],
                               securityMode: UInt16 = SMB2SecurityMode.signingEnabled, messageID: UInt64 = 0) -> [UInt8] {
        let offered = Array(dialects.prefix(16))
        let has311 = offered.contains(SMB2Dialect.smb311)
        var w = ByteWriter(capacity: 200)
        SMB2Header(command: SMB2Command.negotiate, credits: 1, messageID: messageID).write(to: &w)
        w.writeUInt16LE(36)
        w.writeUInt16LE(UInt16(offered.count))
        w.writeUInt16LE(securityMode)
        w.writeUInt16LE(0)
        w.writeUInt32LE(0) // capabilities
        w.writeFixed(clientGUID, count: 16)
        let contextFieldOffset = w.count
        w.writeUInt32LE(0) // NegotiateContextOffset / ClientStartTime (patched below)
        w.writeUInt16LE(0)
        w.writeUInt16LE(0)
        for dialect in offered { w.writeUInt16LE(dialect) }
        if has311 {
            w.pad(toMultipleOf: 8)
            w.setUInt32LE(UInt32(w.count), at: contextFieldOffset)
            w.setUInt16LE(2, at: contextFieldOffset + 4)
            let saltBytes = Array(salt.prefix(64))
            var preauth = ByteWriter()
            preauth.writeUInt16LE(1)
            preauth.writeUInt16LE(UInt16(saltBytes.count))
            preauth.writeUInt16LE(sha512)
            preauth.writeBytes(saltBytes)
            writeContext(&w, type: ContextType.preauthIntegrity, data: preauth.bytes)
            w.pad(toMultipleOf: 8)
            var ciphers = ByteWriter()
            ciphers.writeUInt16LE(2)
            ciphers.writeUInt16LE(aes128GCM)
            ciphers.writeUInt16LE(aes128CCM)
            writeContext(&w, type: ContextType.encryption, data: ciphers.bytes)
        }
        return NetBIOSSession.frameSmall(w.bytes)
    }

    static func writeContext(_ w: inout ByteWriter, type: UInt16, data: [UInt8]) {
        w.writeUInt16LE(type)
        w.writeUInt16LE(UInt16(truncatingIfNeeded: data.count))
        w.writeUInt32LE(0)
        w.writeBytes(data)
    }

    /// Server side: the dialects offered by an SMB2 NEGOTIATE request (bounded to 64).
    public static func parseRequestDialects(_ payload: [UInt8]) throws(CodecError) -> (header: SMB2Header, dialects: [UInt16]) {
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.command == SMB2Command.negotiate else { throw .unexpectedMessage("not an SMB2 NEGOTIATE") }
        guard try r.readUInt16LE() == 36 else { throw .invalidValue("NEGOTIATE StructureSize is not 36") }
        let count = Int(try r.readUInt16LE())
        guard count <= 64 else { throw .outOfBounds("\(count) dialects") }
        try r.skip(2 + 2 + 4 + 16 + 8)
        var dialects: [UInt16] = []
        for _ in 0..<count { dialects.append(try r.readUInt16LE()) }
        return (header, dialects)
    }
}

/// A parsed SMB2 NEGOTIATE response.
public struct SMB2NegotiateResponse: Equatable, Sendable {
    public var status: NTStatus
    public var dialect: UInt16
    public var securityMode: UInt16
    public var serverGUID: [UInt8]
    public var capabilities: UInt32
    public var maxTransactSize: UInt32
    public var maxReadSize: UInt32
    public var maxWriteSize: UInt32
    /// Server time as a FILETIME.
    public var systemTime: UInt64
    public var serverStartTime: UInt64
    public var securityBlob: [UInt8]
    /// Cipher selected in the 3.1.1 encryption context, if any.
    public var selectedCipher: UInt16?
    /// Hash selected in the 3.1.1 preauth context, if any.
    public var preauthHash: UInt16?

    public var signingEnabled: Bool { securityMode & SMB2SecurityMode.signingEnabled != 0 }
    public var signingRequired: Bool { securityMode & SMB2SecurityMode.signingRequired != 0 }
    /// Server time in unix seconds.
    public var systemTimeUnix: Int64 { FileTime.unixSeconds(systemTime) }

    public init(status: NTStatus = .success, dialect: UInt16, securityMode: UInt16, serverGUID: [UInt8], capabilities: UInt32 = 0,
                maxTransactSize: UInt32 = 65536, maxReadSize: UInt32 = 65536, maxWriteSize: UInt32 = 65536,
                systemTime: UInt64 = 0, serverStartTime: UInt64 = 0, securityBlob: [UInt8] = [],
                selectedCipher: UInt16? = nil, preauthHash: UInt16? = nil) {
        self.status = status
        self.dialect = dialect
        self.securityMode = securityMode
        self.serverGUID = serverGUID
        self.capabilities = capabilities
        self.maxTransactSize = maxTransactSize
        self.maxReadSize = maxReadSize
        self.maxWriteSize = maxWriteSize
        self.systemTime = systemTime
        self.serverStartTime = serverStartTime
        self.securityBlob = securityBlob
        self.selectedCipher = selectedCipher
        self.preauthHash = preauthHash
    }

    /// The most negotiate contexts read.
    static let maxContexts = 16

    /// Parses the SMB payload of a NEGOTIATE response. A non-success status throws
    /// `unexpectedMessage` (the caller decides what that means).
    public static func parse(_ payload: [UInt8]) throws(CodecError) -> SMB2NegotiateResponse {
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.command == SMB2Command.negotiate else { throw .unexpectedMessage("SMB2 command \(header.command)") }
        guard header.status == .success else { throw .unexpectedMessage("SMB2 NEGOTIATE status \(header.status)") }
        guard try r.readUInt16LE() == 65 else { throw .invalidValue("NEGOTIATE response StructureSize is not 65") }
        let securityMode = try r.readUInt16LE()
        let dialect = try r.readUInt16LE()
        let contextCount = Int(try r.readUInt16LE())
        let guid = try r.readBytes(16)
        var response = SMB2NegotiateResponse(dialect: dialect, securityMode: securityMode, serverGUID: guid)
        response.capabilities = try r.readUInt32LE()
        response.maxTransactSize = try r.readUInt32LE()
        response.maxReadSize = try r.readUInt32LE()
        response.maxWriteSize = try r.readUInt32LE()
        response.systemTime = try r.readUInt64LE()
        response.serverStartTime = try r.readUInt64LE()
        let blobOffset = Int(try r.readUInt16LE())
        let blobLength = Int(try r.readUInt16LE())
        let contextOffset = Int(try r.readUInt32LE())
        if blobLength > 0 {
            response.securityBlob = try r.bytes(at: blobOffset, count: blobLength)
        }
        if dialect == SMB2Dialect.smb311, contextCount > 0 {
            try response.readContexts(payload, offset: contextOffset, count: min(contextCount, maxContexts))
        }
        return response
    }

    private mutating func readContexts(_ payload: [UInt8], offset: Int, count: Int) throws(CodecError) {
        var r = ByteReader(payload)
        try r.seek(to: offset)
        for index in 0..<count {
            if index > 0 { r.align(to: 8) }
            let type = try r.readUInt16LE()
            let length = Int(try r.readUInt16LE())
            try r.skip(4)
            var data = ByteReader(try r.readBytes(length))
            switch type {
            case SMB2Negotiate.ContextType.preauthIntegrity:
                if try data.readUInt16LE() >= 1 {
                    try data.skip(2)
                    preauthHash = try data.readUInt16LE()
                }
            case SMB2Negotiate.ContextType.encryption:
                if try data.readUInt16LE() >= 1 { selectedCipher = try data.readUInt16LE() }
            default:
                break
            }
        }
    }

    /// Server side: the response, framed (3.1.1 responses carry preauth and encryption contexts).
    public func makeReply(messageID: UInt64, salt: [UInt8] = Array(repeating: 0x5A, count: 32)) -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        SMB2Header(command: SMB2Command.negotiate, status: status, credits: 1, flags: SMB2Header.flagServerToRedir,
                   messageID: messageID).write(to: &w)
        let is311 = dialect == SMB2Dialect.smb311
        w.writeUInt16LE(65)
        w.writeUInt16LE(securityMode)
        w.writeUInt16LE(dialect)
        w.writeUInt16LE(is311 ? 2 : 0)
        w.writeFixed(serverGUID, count: 16)
        w.writeUInt32LE(capabilities)
        w.writeUInt32LE(maxTransactSize)
        w.writeUInt32LE(maxReadSize)
        w.writeUInt32LE(maxWriteSize)
        w.writeUInt64LE(systemTime)
        w.writeUInt64LE(serverStartTime)
        w.writeUInt16LE(UInt16(SMB2Header.size + 64))
        w.writeUInt16LE(UInt16(truncatingIfNeeded: securityBlob.count))
        let contextOffsetField = w.count
        w.writeUInt32LE(0)
        w.writeBytes(securityBlob)
        if is311 {
            w.pad(toMultipleOf: 8)
            w.setUInt32LE(UInt32(w.count), at: contextOffsetField)
            var preauth = ByteWriter()
            let saltBytes = Array(salt.prefix(32))
            preauth.writeUInt16LE(1)
            preauth.writeUInt16LE(UInt16(saltBytes.count))
            preauth.writeUInt16LE(preauthHash ?? SMB2Negotiate.sha512)
            preauth.writeBytes(saltBytes)
            SMB2Negotiate.writeContext(&w, type: SMB2Negotiate.ContextType.preauthIntegrity, data: preauth.bytes)
            w.pad(toMultipleOf: 8)
            var cipher = ByteWriter()
            cipher.writeUInt16LE(1)
            cipher.writeUInt16LE(selectedCipher ?? SMB2Negotiate.aes128GCM)
            SMB2Negotiate.writeContext(&w, type: SMB2Negotiate.ContextType.encryption, data: cipher.bytes)
        }
        return NetBIOSSession.frameSmall(w.bytes)
    }
}
