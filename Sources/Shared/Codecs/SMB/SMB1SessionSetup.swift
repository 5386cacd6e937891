/// SMB1 SESSION_SETUP_ANDX (0x73): the extended-security (NTLMSSP) and the legacy null-session
/// requests, and the parse of the reply.
public enum SMB1SessionSetup {
    /// Native OS and LAN manager strings the probe announces (plain, not a Windows impersonation).
    public static let clientNativeOS = "Cordon"
    public static let clientNativeLanMan = "Cordon"

    /// An extended-security session setup carrying a security blob (NTLMSSP, optionally in SPNEGO).
    /// Strings are ASCII (the probe does not set FLAGS2_UNICODE, like nmap).
    public static func extendedRequest(securityBlob: [UInt8], sessionKey: UInt32, pid: UInt16, uid: UInt16, mid: UInt16) -> [UInt8] {
        let blob = Array(securityBlob.prefix(0xF000))
        var words = ByteWriter(capacity: 24)
        words.writeUInt8(0xFF)     // no AndX command
        words.writeUInt8(0)
        words.writeUInt16LE(0)     // AndX offset
        words.writeUInt16LE(0xFFFF) // max buffer
        words.writeUInt16LE(1)     // max mpx
        words.writeUInt16LE(1)     // VC number
        words.writeUInt32LE(sessionKey)
        words.writeUInt16LE(UInt16(blob.count))
        words.writeUInt32LE(0)
        words.writeUInt32LE(SMB1Capabilities.extendedSecurity | SMB1Capabilities.status32 | SMB1Capabilities.ntSMBs)
        var data = ByteWriter()
        data.writeBytes(blob)
        data.writeCString(clientNativeOS)
        data.writeCString(clientNativeLanMan)
        data.writeCString("")
        let header = SMB1Header(command: SMB1Command.sessionSetupAndX, flags: 0x18, flags2: SMB1Flags2.nmapExtended,
                                pid: pid, uid: uid, mid: mid)
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }

    /// The legacy (non-extended) anonymous session setup: empty passwords, empty account and domain.
    public static func legacyNullRequest(sessionKey: UInt32, pid: UInt16, mid: UInt16) -> [UInt8] {
        var words = ByteWriter(capacity: 26)
        words.writeUInt8(0xFF)
        words.writeUInt8(0)
        words.writeUInt16LE(0)
        words.writeUInt16LE(0xFFFF)
        words.writeUInt16LE(1)
        words.writeUInt16LE(1)
        words.writeUInt32LE(sessionKey)
        words.writeUInt16LE(0)     // OEM (LM) password length
        words.writeUInt16LE(0)     // Unicode (NT) password length
        words.writeUInt32LE(0)
        words.writeUInt32LE(SMB1Capabilities.status32 | SMB1Capabilities.ntSMBs)
        var data = ByteWriter()
        data.writeCString("")      // account
        data.writeCString("")      // primary domain
        data.writeCString(clientNativeOS)
        data.writeCString(clientNativeLanMan)
        let header = SMB1Header(command: SMB1Command.sessionSetupAndX, flags: 0x18, flags2: SMB1Flags2.nmapLegacy,
                                pid: pid, mid: mid)
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }

    /// What the server side needs from a session setup request.
    public struct Request: Equatable, Sendable {
        /// The security blob (extended form), nil for the legacy form.
        public var securityBlob: [UInt8]?
        /// Legacy form: OEM and Unicode password lengths and the account name.
        public var passwordLengths: (oem: Int, unicode: Int)?
        public var accountName: String?

        public static func == (lhs: Request, rhs: Request) -> Bool {
            lhs.securityBlob == rhs.securityBlob && lhs.accountName == rhs.accountName
                && lhs.passwordLengths?.oem == rhs.passwordLengths?.oem
                && lhs.passwordLengths?.unicode == rhs.passwordLengths?.unicode
        }

        /// True for a null session (legacy form with empty account and passwords).
        public var isLegacyNull: Bool {
            securityBlob == nil && (accountName ?? "").isEmpty
                && (passwordLengths.map { $0.oem <= 1 && $0.unicode == 0 } ?? false)
        }

        /// Parses a request (word count 12 = extended, 13 = legacy).
        public static func parse(_ message: SMB1Message) throws(CodecError) -> Request {
            guard message.header.command == SMB1Command.sessionSetupAndX else { throw .unexpectedMessage("not a session setup") }
            var w = ByteReader(message.words)
            switch message.words.count {
            case 24:
                try w.skip(14)
                let blobLength = Int(try w.readUInt16LE())
                var d = ByteReader(message.data)
                return Request(securityBlob: try d.readBytes(blobLength), passwordLengths: nil, accountName: nil)
            case 26:
                try w.skip(14)
                let oem = Int(try w.readUInt16LE())
                let unicode = Int(try w.readUInt16LE())
                var d = ByteReader(message.data)
                try d.skip(oem)
                try d.skip(unicode)
                let account: String
                if message.header.isUnicode {
                    d.align(to: 2, relativeTo: -message.dataOffset)
                    account = Evidence.utf16(try d.readUTF16CString(maxUnits: 256))
                } else {
                    account = Evidence.text(try d.readCString(maxLength: 256))
                }
                return Request(securityBlob: nil, passwordLengths: (oem, unicode), accountName: account)
            default:
                throw .invalidValue("session setup with \(message.words.count / 2) words")
            }
        }
    }
}

/// A parsed SESSION_SETUP_ANDX reply.
public struct SMB1SessionSetupResponse: Equatable, Sendable {
    public var status: NTStatus
    public var uid: UInt16
    /// Action bit 0: logged in as guest.
    public var isGuest: Bool
    /// The security blob (extended form).
    public var securityBlob: [UInt8]?
    public var nativeOS: String?
    public var nativeLanMan: String?
    public var primaryDomain: String?

    public init(status: NTStatus, uid: UInt16, isGuest: Bool = false, securityBlob: [UInt8]? = nil,
                nativeOS: String? = nil, nativeLanMan: String? = nil, primaryDomain: String? = nil) {
        self.status = status
        self.uid = uid
        self.isGuest = isGuest
        self.securityBlob = securityBlob
        self.nativeOS = nativeOS
        self.nativeLanMan = nativeLanMan
        self.primaryDomain = primaryDomain
    }

    /// Parses the reply. Error replies (word count 0) give only status and UID.
    public static func parse(_ message: SMB1Message) throws(CodecError) -> SMB1SessionSetupResponse {
        guard message.header.command == SMB1Command.sessionSetupAndX else {
            throw .unexpectedMessage("SMB1 command 0x\(String(message.header.command, radix: 16)) instead of SESSION_SETUP_ANDX")
        }
        var response = SMB1SessionSetupResponse(status: message.header.status, uid: message.header.uid)
        var w = ByteReader(message.words)
        switch message.words.count {
        case 0:
            return response
        case 6: // legacy: AndX(4) Action(2)
            try w.skip(4)
            response.isGuest = try w.readUInt16LE() & 1 != 0
            let strings = message.strings(from: 0, count: 3)
            response.assign(strings)
        case 8: // extended: AndX(4) Action(2) BlobLength(2)
            try w.skip(4)
            response.isGuest = try w.readUInt16LE() & 1 != 0
            let blobLength = Int(try w.readUInt16LE())
            var d = ByteReader(message.data)
            response.securityBlob = try d.readBytes(blobLength)
            response.assign(message.strings(from: blobLength, count: 3))
        default:
            throw .invalidValue("session setup reply with \(message.words.count / 2) words")
        }
        return response
    }

    private mutating func assign(_ strings: [String]) {
        nativeOS = strings.first
        nativeLanMan = strings.count > 1 ? strings[1] : nil
        primaryDomain = strings.count > 2 ? strings[2] : nil
    }

    /// Server side: the reply (extended form when `securityBlob` is set, else legacy form; error
    /// statuses other than MORE_PROCESSING_REQUIRED get an empty body).
    public func makeReply(requestHeader: SMB1Header, unicode: Bool = true) -> [UInt8] {
        let flags2 = (requestHeader.flags2 & SMB1Flags2.extendedSecurity) | SMB1Flags2.ntStatus | SMB1Flags2.longNames
            | (unicode ? SMB1Flags2.unicode : 0)
        let header = SMB1Header(command: SMB1Command.sessionSetupAndX, status: status, flags: 0x98, flags2: flags2,
                                tid: requestHeader.tid, pid: requestHeader.pid, uid: uid, mid: requestHeader.mid)
        if status.isError && status != .moreProcessingRequired {
            return SMB1Message(header: header).framed()
        }
        var words = ByteWriter()
        words.writeUInt8(0xFF)
        words.writeUInt8(0)
        words.writeUInt16LE(0)
        words.writeUInt16LE(isGuest ? 1 : 0)
        var data = ByteWriter()
        if let securityBlob {
            words.writeUInt16LE(UInt16(truncatingIfNeeded: securityBlob.count))
            data.writeBytes(securityBlob)
        }
        let dataOffset = SMB1Header.size + 1 + words.count + 2
        for string in [nativeOS ?? "", nativeLanMan ?? "", primaryDomain ?? ""] {
            if unicode {
                data.pad(toMultipleOf: 2, relativeTo: -dataOffset)
                data.writeUTF16CString(string)
            } else {
                data.writeCString(string)
            }
        }
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }
}
