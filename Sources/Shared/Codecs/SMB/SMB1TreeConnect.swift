/// SMB1 TREE_CONNECT_ANDX (0x75) to a share such as `\\HOST\IPC$`.
public enum SMB1TreeConnect {
    /// The request as nmap's `smb.lua` builds it: no password, ASCII path, service `?????`.
    public static func request(path: String, pid: UInt16, uid: UInt16, mid: UInt16) -> [UInt8] {
        var words = ByteWriter(capacity: 8)
        words.writeUInt8(0xFF)
        words.writeUInt8(0)
        words.writeUInt16LE(0)
        words.writeUInt16LE(0) // flags
        words.writeUInt16LE(0) // password length
        var data = ByteWriter()
        data.writeCString(String(path.prefix(256)))
        data.writeCString("?????")
        let header = SMB1Header(command: SMB1Command.treeConnectAndX, flags: 0x18, flags2: SMB1Flags2.nmapExtended,
                                pid: pid, uid: uid, mid: mid)
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }

    /// `\\host\IPC$` for a host (IP address or name), stripped of characters that cannot be in a
    /// UNC host part.
    public static func ipcPath(host: String) -> String {
        let cleaned = host.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" && $0 != "/" }
        return "\\\\" + String(String.UnicodeScalarView(cleaned.prefix(255))) + "\\IPC$"
    }

    /// Server side: the share path of a request (last path component, uppercased), bounded.
    public static func parseRequestPath(_ message: SMB1Message) throws(CodecError) -> String {
        guard message.header.command == SMB1Command.treeConnectAndX else { throw .unexpectedMessage("not a tree connect") }
        var w = ByteReader(message.words)
        try w.skip(6)
        let passwordLength = Int(try w.readUInt16LE())
        var d = ByteReader(message.data)
        try d.skip(passwordLength)
        if message.header.isUnicode {
            d.align(to: 2, relativeTo: -message.dataOffset)
            return Evidence.utf16(try d.readUTF16CString(maxUnits: 512), maxLength: 512)
        }
        return Evidence.text(try d.readCString(maxLength: 512), maxLength: 512)
    }
}

/// A parsed TREE_CONNECT_ANDX reply.
public struct SMB1TreeConnectResponse: Equatable, Sendable {
    public var status: NTStatus
    public var tid: UInt16
    /// The service type (`IPC`, `A:`), when present.
    public var service: String?

    public init(status: NTStatus, tid: UInt16, service: String? = nil) {
        self.status = status
        self.tid = tid
        self.service = service
    }

    public static func parse(_ message: SMB1Message) throws(CodecError) -> SMB1TreeConnectResponse {
        guard message.header.command == SMB1Command.treeConnectAndX else {
            throw .unexpectedMessage("SMB1 command 0x\(String(message.header.command, radix: 16)) instead of TREE_CONNECT_ANDX")
        }
        var response = SMB1TreeConnectResponse(status: message.header.status, tid: message.header.tid)
        if !message.words.isEmpty {
            // The service string is always OEM (ASCII), even in Unicode replies.
            var d = ByteReader(message.data)
            if let service = try? d.readCString(maxLength: 16) { response.service = Evidence.ascii(service, maxLength: 16) }
        }
        return response
    }

    /// Server side: the reply (word count 3 on success, 0 on error).
    public func makeReply(requestHeader: SMB1Header) -> [UInt8] {
        let header = SMB1Header(command: SMB1Command.treeConnectAndX, status: status, flags: 0x98,
                                flags2: SMB1Flags2.ntStatus | SMB1Flags2.longNames | (requestHeader.flags2 & SMB1Flags2.extendedSecurity),
                                tid: status == .success ? tid : 0, pid: requestHeader.pid, uid: requestHeader.uid, mid: requestHeader.mid)
        guard status == .success else { return SMB1Message(header: header).framed() }
        var words = ByteWriter()
        words.writeUInt8(0xFF)
        words.writeUInt8(0)
        words.writeUInt16LE(0)
        words.writeUInt16LE(0x0001) // SMB_SUPPORT_SEARCH_BITS
        var data = ByteWriter()
        data.writeCString(service ?? "IPC")
        data.writeCString("")
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }
}
