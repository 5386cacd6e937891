/// SMB1 NEGOTIATE (0x72): the requests the probe sends and the parse of an SMB1 reply.
public enum SMB1Negotiate {
    /// The dialects nmap's `smb.lua` offers: `"NT LM 0.12"` and `""`.
    public static let nmapDialects = ["NT LM 0.12", ""]
    /// The classic SMB1-only list (as smbclient and the worm-era scanners offered). Index 5 is
    /// `NT LM 0.12`.
    public static let classicDialects = ["PC NETWORK PROGRAM 1.0", "LANMAN1.0", "Windows for Workgroups 3.1a",
                                         "LM1.2X002", "LANMAN2.1", "NT LM 0.12"]
    /// Dialect strings that would let a server answer with SMB2; never in an SMB1-only negotiate.
    public static let smb2Dialects = ["SMB 2.002", "SMB 2.???"]

    /// The NEGOTIATE request exactly as nmap sends it: flags 0x18, flags2 0x6845, MID 1, no
    /// parameter words, byte count 14, dialects `02 "NT LM 0.12" 00` and `02 "" 00`.
    public static func nmapRequest(pid: UInt16) -> [UInt8] {
        request(dialects: nmapDialects, flags2: SMB1Flags2.nmapExtended, pid: pid, mid: 1)
    }

    /// An SMB1-only NEGOTIATE (no SMB2 dialect strings), with or without extended security.
    ///
    /// A server with SMBv1 disabled closes or resets the connection (MS-SMB2 3.3.5.3.2).
    public static func smb1OnlyRequest(extendedSecurity: Bool = true, dialects: [String] = nmapDialects,
                                       pid: UInt16, mid: UInt16 = 1) -> [UInt8] {
        let filtered = dialects.filter { !$0.hasPrefix("SMB 2") }
        return request(dialects: filtered.isEmpty ? nmapDialects : filtered,
                       flags2: extendedSecurity ? SMB1Flags2.nmapExtended : SMB1Flags2.nmapLegacy, pid: pid, mid: mid)
    }

    /// A NEGOTIATE request with arbitrary dialect strings (each `0x02 string 0x00`), framed.
    public static func request(dialects: [String], flags2: UInt16, pid: UInt16, mid: UInt16) -> [UInt8] {
        var data = ByteWriter()
        for dialect in dialects.prefix(32) {
            data.writeUInt8(0x02)
            data.writeCString(String(dialect.prefix(64)))
        }
        let header = SMB1Header(command: SMB1Command.negotiate, flags: 0x18, flags2: flags2, pid: pid, mid: mid)
        return SMB1Message(header: header, words: [], data: data.bytes).framed()
    }

    /// Server side: the dialect strings of a NEGOTIATE request (bounded to 64 dialects).
    public static func parseRequestDialects(_ message: SMB1Message) throws(CodecError) -> [String] {
        guard message.header.command == SMB1Command.negotiate else { throw .unexpectedMessage("not a negotiate") }
        var r = ByteReader(message.data)
        var dialects: [String] = []
        while !r.isAtEnd {
            guard dialects.count < 64 else { throw .outOfBounds("more than 64 dialects") }
            guard try r.readUInt8() == 0x02 else { throw .invalidValue("dialect buffer format is not 0x02") }
            dialects.append(Evidence.ascii(try r.readCString(maxLength: 256)))
        }
        return dialects
    }
}

/// SMB1 security mode bits (negotiate response).
public enum SMB1SecurityMode {
    public static let userSecurity: UInt8 = 0x01
    public static let encryptPasswords: UInt8 = 0x02
    public static let signaturesEnabled: UInt8 = 0x04
    public static let signaturesRequired: UInt8 = 0x08
}

/// SMB1 capability bits.
public enum SMB1Capabilities {
    public static let unicode: UInt32 = 0x0000_0004
    public static let largeFiles: UInt32 = 0x0000_0008
    public static let ntSMBs: UInt32 = 0x0000_0010
    public static let rpcRemoteAPIs: UInt32 = 0x0000_0020
    public static let status32: UInt32 = 0x0000_0040
    public static let level2Oplocks: UInt32 = 0x0000_0080
    public static let ntFind: UInt32 = 0x0000_0200
    public static let extendedSecurity: UInt32 = 0x8000_0000
}

/// A parsed SMB1 NEGOTIATE response.
public struct SMB1NegotiateResponse: Equatable, Sendable {
    /// Index of the accepted dialect in the request; 0xFFFF = none accepted.
    public var dialectIndex: UInt16
    public var status: NTStatus
    public var flags2: UInt16
    public var securityMode: UInt8
    public var maxMpxCount: UInt16
    public var maxBufferSize: UInt32
    public var sessionKey: UInt32
    public var capabilities: UInt32
    /// Server time as a FILETIME (0 when absent).
    public var systemTime: UInt64
    /// Minutes from UTC, as sent (signed).
    public var timeZone: Int16
    /// The 8-byte challenge (non-extended security).
    public var challenge: [UInt8]?
    /// The server GUID (extended security).
    public var serverGUID: [UInt8]?
    /// The security blob (extended security; SPNEGO NegTokenInit on Windows and Samba).
    public var securityBlob: [UInt8]?
    /// Domain / workgroup (non-extended security), sanitized.
    public var domainName: String?
    /// Server name (non-extended security), sanitized; Samba may leave it out.
    public var serverName: String?

    /// True when no dialect was accepted.
    public var noDialectAccepted: Bool { dialectIndex == 0xFFFF }
    public var signingEnabled: Bool { securityMode & SMB1SecurityMode.signaturesEnabled != 0 }
    public var signingRequired: Bool { securityMode & SMB1SecurityMode.signaturesRequired != 0 }
    /// True when the server negotiated extended security (NTLMSSP/SPNEGO session setup).
    public var extendedSecurity: Bool {
        capabilities & SMB1Capabilities.extendedSecurity != 0 && flags2 & SMB1Flags2.extendedSecurity != 0
    }
    /// True when the security blob starts a SPNEGO token (the probe then wraps NTLMSSP in SPNEGO).
    public var offersSPNEGO: Bool { securityBlob.map(SPNEGO.containsSPNEGOOID) ?? false }

    public init(dialectIndex: UInt16, status: NTStatus = .success, flags2: UInt16 = 0, securityMode: UInt8 = 0,
                maxMpxCount: UInt16 = 0, maxBufferSize: UInt32 = 0, sessionKey: UInt32 = 0, capabilities: UInt32 = 0,
                systemTime: UInt64 = 0, timeZone: Int16 = 0, challenge: [UInt8]? = nil, serverGUID: [UInt8]? = nil,
                securityBlob: [UInt8]? = nil, domainName: String? = nil, serverName: String? = nil) {
        self.dialectIndex = dialectIndex
        self.status = status
        self.flags2 = flags2
        self.securityMode = securityMode
        self.maxMpxCount = maxMpxCount
        self.maxBufferSize = maxBufferSize
        self.sessionKey = sessionKey
        self.capabilities = capabilities
        self.systemTime = systemTime
        self.timeZone = timeZone
        self.challenge = challenge
        self.serverGUID = serverGUID
        self.securityBlob = securityBlob
        self.domainName = domainName
        self.serverName = serverName
    }

    /// Parses an SMB1 negotiate response message.
    public static func parse(_ message: SMB1Message) throws(CodecError) -> SMB1NegotiateResponse {
        guard message.header.command == SMB1Command.negotiate else {
            throw .unexpectedMessage("SMB1 command 0x\(String(message.header.command, radix: 16)) instead of NEGOTIATE")
        }
        var w = ByteReader(message.words)
        guard message.words.count >= 2 else {
            if message.header.status.isError {
                return SMB1NegotiateResponse(dialectIndex: 0xFFFF, status: message.header.status, flags2: message.header.flags2)
            }
            throw .truncated("negotiate response without a dialect index")
        }
        let index = try w.readUInt16LE()
        var response = SMB1NegotiateResponse(dialectIndex: index, status: message.header.status, flags2: message.header.flags2)
        // Word count 17 is the NT LM 0.12 form; anything shorter (0xFFFF, LANMAN) stops here.
        guard message.words.count >= 34 else { return response }
        response.securityMode = try w.readUInt8()
        response.maxMpxCount = try w.readUInt16LE()
        _ = try w.readUInt16LE() // max VCs
        response.maxBufferSize = try w.readUInt32LE()
        _ = try w.readUInt32LE() // max raw
        response.sessionKey = try w.readUInt32LE()
        response.capabilities = try w.readUInt32LE()
        response.systemTime = try w.readUInt64LE()
        response.timeZone = Int16(bitPattern: try w.readUInt16LE())
        let challengeLength = Int(try w.readUInt8())

        var d = ByteReader(message.data)
        if response.capabilities & SMB1Capabilities.extendedSecurity != 0 {
            if d.remaining >= 16 {
                response.serverGUID = try d.readBytes(16)
                if !d.isAtEnd { response.securityBlob = d.readRest() }
            }
        } else {
            guard challengeLength <= d.remaining else { throw .truncated("challenge of \(challengeLength) bytes") }
            response.challenge = try d.readBytes(challengeLength)
            // Domain and server names follow without alignment padding (MS-CIFS 2.2.4.52.2). They
            // are UTF-16 whenever the server has CAP_UNICODE, even when the reply's FLAGS2 lacks
            // the Unicode bit (Samba answers a non-Unicode client so; nmap always reads UTF-16).
            let unicode = message.header.isUnicode || response.capabilities & SMB1Capabilities.unicode != 0
            var names: [String] = []
            for _ in 0..<2 where !d.isAtEnd {
                if unicode {
                    guard let units = try? d.readUTF16CString(maxUnits: 256) else { break }
                    names.append(Evidence.utf16(units))
                } else {
                    guard let bytes = try? d.readCString(maxLength: 256) else { break }
                    names.append(Evidence.text(bytes))
                }
            }
            response.domainName = names.first
            response.serverName = names.count > 1 ? names[1] : nil
        }
        return response
    }

    /// Server side: the NT LM 0.12 negotiate response.
    public func makeReply(requestHeader: SMB1Header) -> [UInt8] {
        let header = SMB1Header(command: SMB1Command.negotiate, status: status, flags: 0x98, flags2: flags2,
                                tid: requestHeader.tid, pid: requestHeader.pid, uid: 0, mid: requestHeader.mid)
        if dialectIndex == 0xFFFF {
            var words = ByteWriter()
            words.writeUInt16LE(0xFFFF)
            return SMB1Message(header: header, words: words.bytes, data: []).framed()
        }
        var words = ByteWriter(capacity: 34)
        words.writeUInt16LE(dialectIndex)
        words.writeUInt8(securityMode)
        words.writeUInt16LE(maxMpxCount)
        words.writeUInt16LE(1)
        words.writeUInt32LE(maxBufferSize)
        words.writeUInt32LE(65536)
        words.writeUInt32LE(sessionKey)
        words.writeUInt32LE(capabilities)
        words.writeUInt64LE(systemTime)
        words.writeUInt16LE(UInt16(bitPattern: timeZone))
        var data = ByteWriter()
        if capabilities & SMB1Capabilities.extendedSecurity != 0 {
            words.writeUInt8(0)
            var guid = Array((serverGUID ?? []).prefix(16))
            while guid.count < 16 { guid.append(0) }
            data.writeBytes(guid)
            data.writeBytes(securityBlob ?? [])
        } else {
            let challengeBytes = Array((challenge ?? []).prefix(255))
            words.writeUInt8(UInt8(challengeBytes.count))
            data.writeBytes(challengeBytes)
            if flags2 & SMB1Flags2.unicode != 0 || capabilities & SMB1Capabilities.unicode != 0 {
                data.writeUTF16CString(domainName ?? "")
                if let serverName { data.writeUTF16CString(serverName) }
            } else {
                data.writeCString(domainName ?? "")
                if let serverName { data.writeCString(serverName) }
            }
        }
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }
}
