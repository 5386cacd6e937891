/// SMB1 command codes used here.
public enum SMB1Command {
    public static let negotiate: UInt8 = 0x72
    public static let sessionSetupAndX: UInt8 = 0x73
    public static let logoffAndX: UInt8 = 0x74
    public static let treeConnectAndX: UInt8 = 0x75
    public static let treeDisconnect: UInt8 = 0x71
    public static let transaction: UInt8 = 0x25
    public static let transaction2: UInt8 = 0x32
}

/// SMB1 FLAGS2 bits.
public enum SMB1Flags2 {
    public static let longNames: UInt16 = 0x0001
    public static let securitySignature: UInt16 = 0x0004
    public static let isLongName: UInt16 = 0x0040
    public static let extendedSecurity: UInt16 = 0x0800
    public static let executeOnlyReads: UInt16 = 0x2000
    public static let ntStatus: UInt16 = 0x4000
    public static let unicode: UInt16 = 0x8000
    /// What nmap's `smb.lua` sends with extended security: 0x6845.
    public static let nmapExtended: UInt16 = 0x6845
    /// nmap's value without extended security (the legacy null session path): 0x6045.
    public static let nmapLegacy: UInt16 = 0x6045
}

/// The 32-byte SMB1 header.
public struct SMB1Header: Equatable, Sendable {
    public static let size = 32
    public static let protocolID: [UInt8] = [0xFF, 0x53, 0x4D, 0x42]

    public var command: UInt8
    public var status: NTStatus
    public var flags: UInt8
    public var flags2: UInt16
    public var pidHigh: UInt16
    public var signature: [UInt8]
    public var tid: UInt16
    public var pid: UInt16
    public var uid: UInt16
    public var mid: UInt16

    public init(command: UInt8, status: NTStatus = .success, flags: UInt8 = 0x18, flags2: UInt16 = SMB1Flags2.nmapExtended,
                pidHigh: UInt16 = 0, signature: [UInt8] = Array(repeating: 0, count: 8),
                tid: UInt16 = 0, pid: UInt16 = 0, uid: UInt16 = 0, mid: UInt16 = 0) {
        self.command = command
        self.status = status
        self.flags = flags
        self.flags2 = flags2
        self.pidHigh = pidHigh
        self.signature = signature
        self.tid = tid
        self.pid = pid
        self.uid = uid
        self.mid = mid
    }

    /// True when the reply flag (0x80) is set.
    public var isReply: Bool { flags & 0x80 != 0 }
    /// True when strings in this message are UTF-16LE.
    public var isUnicode: Bool { flags2 & SMB1Flags2.unicode != 0 }

    func write(to w: inout ByteWriter) {
        w.writeBytes(Self.protocolID)
        w.writeUInt8(command)
        w.writeUInt32LE(status.rawValue)
        w.writeUInt8(flags)
        w.writeUInt16LE(flags2)
        w.writeUInt16LE(pidHigh)
        var sig = Array(signature.prefix(8))
        while sig.count < 8 { sig.append(0) }
        w.writeBytes(sig)
        w.writeUInt16LE(0) // reserved
        w.writeUInt16LE(tid)
        w.writeUInt16LE(pid)
        w.writeUInt16LE(uid)
        w.writeUInt16LE(mid)
    }

    static func read(from r: inout ByteReader) throws(CodecError) -> SMB1Header {
        guard try r.readBytes(4) == protocolID else { throw .invalidValue("not an SMB1 header") }
        let command = try r.readUInt8()
        let status = NTStatus(try r.readUInt32LE())
        let flags = try r.readUInt8()
        let flags2 = try r.readUInt16LE()
        let pidHigh = try r.readUInt16LE()
        let signature = try r.readBytes(8)
        _ = try r.readUInt16LE()
        let tid = try r.readUInt16LE()
        let pid = try r.readUInt16LE()
        let uid = try r.readUInt16LE()
        let mid = try r.readUInt16LE()
        return SMB1Header(command: command, status: status, flags: flags, flags2: flags2, pidHigh: pidHigh,
                          signature: signature, tid: tid, pid: pid, uid: uid, mid: mid)
    }
}

/// An SMB1 message: header, parameter words and data bytes (the SMB payload of one NetBIOS frame).
public struct SMB1Message: Equatable, Sendable {
    public var header: SMB1Header
    /// The parameter block (WordCount × 2 bytes).
    public var words: [UInt8]
    /// The data block (ByteCount bytes).
    public var data: [UInt8]

    public init(header: SMB1Header, words: [UInt8] = [], data: [UInt8] = []) {
        self.header = header
        self.words = words
        self.data = data
    }

    /// Offset of the data block from the start of the SMB header (for Unicode alignment).
    public var dataOffset: Int { SMB1Header.size + 1 + words.count + 2 }

    /// The message bytes (without the NetBIOS header). WordCount and ByteCount are derived from
    /// `words` and `data`; odd parameter lengths are padded.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: SMB1Header.size + 3 + words.count + data.count)
        header.write(to: &w)
        var params = words
        if params.count % 2 != 0 { params.append(0) }
        w.writeUInt8(UInt8(truncatingIfNeeded: min(params.count / 2, 255)))
        w.writeBytes(params.prefix(510))
        w.writeUInt16LE(UInt16(truncatingIfNeeded: min(data.count, 0xFFFF)))
        w.writeBytes(data.prefix(0xFFFF))
        return w.bytes
    }

    /// The message framed for the wire.
    public func framed() -> [UInt8] { NetBIOSSession.frameSmall(encode()) }

    /// Parses an SMB1 message. A missing ByteCount after WordCount 0 (error replies from some
    /// stacks) is read as empty data; a ByteCount past the end is an error.
    public static func parse(_ payload: [UInt8]) throws(CodecError) -> SMB1Message {
        var r = ByteReader(payload)
        let header = try SMB1Header.read(from: &r)
        let wordCount = Int(try r.readUInt8())
        let words = try r.readBytes(wordCount * 2)
        if r.remaining < 2 && wordCount == 0 {
            return SMB1Message(header: header, words: words, data: [])
        }
        let byteCount = Int(try r.readUInt16LE())
        guard byteCount <= r.remaining else { throw .truncated("ByteCount \(byteCount) with \(r.remaining) left") }
        let data = try r.readBytes(byteCount)
        return SMB1Message(header: header, words: words, data: data)
    }

    /// Reads NUL-terminated strings from the data block starting at `start` (relative to the data
    /// block), honouring FLAGS2_UNICODE (UTF-16LE, 2-byte aligned from the SMB header start).
    /// Stops at the first missing or malformed string; returns sanitized, bounded strings.
    func strings(from start: Int, count: Int, alignUnicode: Bool = true) -> [String] {
        var result: [String] = []
        var r = ByteReader(data)
        guard (try? r.seek(to: max(0, min(start, data.count)))) != nil else { return [] }
        if header.isUnicode && alignUnicode {
            r.align(to: 2, relativeTo: -dataOffset)
        }
        for _ in 0..<count {
            if header.isUnicode {
                guard let units = try? r.readUTF16CString(maxUnits: 1024) else { break }
                result.append(Evidence.utf16(units))
            } else {
                guard let bytes = try? r.readCString(maxLength: 2048) else { break }
                result.append(Evidence.text(bytes))
            }
        }
        return result
    }
}
