/// SMB2 command codes used here.
public enum SMB2Command {
    public static let negotiate: UInt16 = 0x0000
    public static let sessionSetup: UInt16 = 0x0001
    public static let treeConnect: UInt16 = 0x0003
}

/// SMB2/3 dialect revisions.
public enum SMB2Dialect {
    public static let smb202: UInt16 = 0x0202
    public static let smb210: UInt16 = 0x0210
    public static let smb300: UInt16 = 0x0300
    public static let smb302: UInt16 = 0x0302
    public static let smb311: UInt16 = 0x0311
    /// The multi-protocol wildcard revision.
    public static let wildcard: UInt16 = 0x02FF
    /// All dialects the probe offers, lowest first.
    public static let all: [UInt16] = [smb202, smb210, smb300, smb302, smb311]

    /// `"2.0.2"`, `"3.1.1"`, ... (`"2.?.?"` for the wildcard, hex otherwise).
    public static func name(_ dialect: UInt16) -> String {
        switch dialect {
        case smb202: "2.0.2"
        case smb210: "2.1"
        case smb300: "3.0"
        case smb302: "3.0.2"
        case smb311: "3.1.1"
        case wildcard: "2.?.?"
        default: "0x" + String(dialect, radix: 16)
        }
    }
}

/// SMB2 security mode bits.
public enum SMB2SecurityMode {
    public static let signingEnabled: UInt16 = 0x0001
    public static let signingRequired: UInt16 = 0x0002
}

/// The 64-byte SMB2 sync header.
public struct SMB2Header: Equatable, Sendable {
    public static let size = 64
    public static let protocolID: [UInt8] = [0xFE, 0x53, 0x4D, 0x42]
    /// Flag bit: this is a response.
    public static let flagServerToRedir: UInt32 = 0x0000_0001

    public var creditCharge: UInt16
    public var status: NTStatus
    public var command: UInt16
    public var credits: UInt16
    public var flags: UInt32
    public var nextCommand: UInt32
    public var messageID: UInt64
    public var treeID: UInt32
    public var sessionID: UInt64

    public init(command: UInt16, status: NTStatus = .success, creditCharge: UInt16 = 0, credits: UInt16 = 1,
                flags: UInt32 = 0, nextCommand: UInt32 = 0, messageID: UInt64 = 0, treeID: UInt32 = 0, sessionID: UInt64 = 0) {
        self.creditCharge = creditCharge
        self.status = status
        self.command = command
        self.credits = credits
        self.flags = flags
        self.nextCommand = nextCommand
        self.messageID = messageID
        self.treeID = treeID
        self.sessionID = sessionID
    }

    /// True for responses.
    public var isResponse: Bool { flags & Self.flagServerToRedir != 0 }

    func write(to w: inout ByteWriter) {
        w.writeBytes(Self.protocolID)
        w.writeUInt16LE(64)
        w.writeUInt16LE(creditCharge)
        w.writeUInt32LE(status.rawValue)
        w.writeUInt16LE(command)
        w.writeUInt16LE(credits)
        w.writeUInt32LE(flags)
        w.writeUInt32LE(nextCommand)
        w.writeUInt64LE(messageID)
        w.writeUInt32LE(0) // reserved (process ID)
        w.writeUInt32LE(treeID)
        w.writeUInt64LE(sessionID)
        w.writeZeros(16)   // signature
    }

    /// Reads and checks the header (protocol ID and StructureSize 64).
    public static func read(from r: inout ByteReader) throws(CodecError) -> SMB2Header {
        guard try r.readBytes(4) == protocolID else { throw .invalidValue("not an SMB2 header") }
        guard try r.readUInt16LE() == 64 else { throw .invalidValue("SMB2 header StructureSize is not 64") }
        let creditCharge = try r.readUInt16LE()
        let status = NTStatus(try r.readUInt32LE())
        let command = try r.readUInt16LE()
        let credits = try r.readUInt16LE()
        let flags = try r.readUInt32LE()
        let next = try r.readUInt32LE()
        let messageID = try r.readUInt64LE()
        _ = try r.readUInt32LE()
        let treeID = try r.readUInt32LE()
        let sessionID = try r.readUInt64LE()
        try r.skip(16)
        return SMB2Header(command: command, status: status, creditCharge: creditCharge, credits: credits, flags: flags,
                          nextCommand: next, messageID: messageID, treeID: treeID, sessionID: sessionID)
    }
}
