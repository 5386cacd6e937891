/// NTLMSSP (MS-NLMP) messages for an anonymous logon: NEGOTIATE, the parse of the server's
/// CHALLENGE (target info and OS version) and an anonymous AUTHENTICATE; plus the server-side
/// CHALLENGE builder for the simulated hosts.
public enum NTLMSSP {
    /// `"NTLMSSP\0"`.
    public static let signature: [UInt8] = [0x4E, 0x54, 0x4C, 0x4D, 0x53, 0x53, 0x50, 0x00]

    public enum MessageType {
        public static let negotiate: UInt32 = 1
        public static let challenge: UInt32 = 2
        public static let authenticate: UInt32 = 3
    }

    /// Negotiate flags used here.
    public enum Flags {
        public static let unicode: UInt32 = 0x0000_0001
        public static let oem: UInt32 = 0x0000_0002
        public static let requestTarget: UInt32 = 0x0000_0004
        public static let ntlm: UInt32 = 0x0000_0200
        public static let anonymous: UInt32 = 0x0000_0800
        public static let alwaysSign: UInt32 = 0x0000_8000
        public static let targetTypeDomain: UInt32 = 0x0001_0000
        public static let targetTypeServer: UInt32 = 0x0002_0000
        public static let extendedSessionSecurity: UInt32 = 0x0008_0000
        public static let targetInfo: UInt32 = 0x0080_0000
        public static let version: UInt32 = 0x0200_0000
        public static let negotiate128: UInt32 = 0x2000_0000
        public static let negotiate56: UInt32 = 0x8000_0000

        /// What the probe asks for in NEGOTIATE.
        public static let probeNegotiate: UInt32 = unicode | oem | requestTarget | ntlm | alwaysSign
            | extendedSessionSecurity | version | negotiate128 | negotiate56
        /// What the probe sets in the anonymous AUTHENTICATE.
        public static let probeAnonymous: UInt32 = unicode | requestTarget | ntlm | anonymous | alwaysSign
            | extendedSessionSecurity | negotiate128 | negotiate56
    }

    /// The AV pair IDs of the CHALLENGE target info.
    public enum AVID {
        public static let eol: UInt16 = 0
        public static let nbComputerName: UInt16 = 1
        public static let nbDomainName: UInt16 = 2
        public static let dnsComputerName: UInt16 = 3
        public static let dnsDomainName: UInt16 = 4
        public static let dnsTreeName: UInt16 = 5
        public static let flags: UInt16 = 6
        public static let timestamp: UInt16 = 7
    }

    /// The most AV pairs read from one CHALLENGE.
    public static let maxAVPairs = 32

    /// The NEGOTIATE message (with an all-zero version, as the flags announce a version field).
    public static func negotiateMessage(flags: UInt32 = Flags.probeNegotiate) -> [UInt8] {
        var w = ByteWriter(capacity: 40)
        w.writeBytes(signature)
        w.writeUInt32LE(MessageType.negotiate)
        w.writeUInt32LE(flags)
        w.writeZeros(8) // domain fields (len, max, offset)
        w.writeZeros(8) // workstation fields
        if flags & Flags.version != 0 {
            w.writeZeros(7)
            w.writeUInt8(0x0F) // NTLMSSP_REVISION_W2K3
        }
        return w.bytes
    }

    /// An anonymous AUTHENTICATE (MS-NLMP 3.2.5.1.2): empty user, domain and NT response, a
    /// one-byte zero LM response, the workstation name in UTF-16LE.
    public static func anonymousAuthenticateMessage(workstation: String = "CORDON", flags: UInt32 = Flags.probeAnonymous) -> [UInt8] {
        let workstationBytes = ByteWriter.utf16LE(String(workstation.prefix(15)))
        let lmResponse: [UInt8] = [0]
        let payloadOffset = 64
        var w = ByteWriter(capacity: 96)
        w.writeBytes(signature)
        w.writeUInt32LE(MessageType.authenticate)
        // Payload order: workstation, LM response.
        let workstationOffset = payloadOffset
        let lmOffset = workstationOffset + workstationBytes.count
        let end = lmOffset + lmResponse.count
        field(&w, length: lmResponse.count, offset: lmOffset)        // LmChallengeResponse
        field(&w, length: 0, offset: end)                              // NtChallengeResponse
        field(&w, length: 0, offset: payloadOffset)                    // DomainName
        field(&w, length: 0, offset: payloadOffset)                    // UserName
        field(&w, length: workstationBytes.count, offset: workstationOffset)
        field(&w, length: 0, offset: end)                              // EncryptedRandomSessionKey
        w.writeUInt32LE(flags)
        w.writeBytes(workstationBytes)
        w.writeBytes(lmResponse)
        return w.bytes
    }

    private static func field(_ w: inout ByteWriter, length: Int, offset: Int) {
        w.writeUInt16LE(UInt16(truncatingIfNeeded: length))
        w.writeUInt16LE(UInt16(truncatingIfNeeded: length))
        w.writeUInt32LE(UInt32(truncatingIfNeeded: offset))
    }

    /// The type of an NTLMSSP message (found anywhere in the blob), or nil.
    public static func messageType(of blob: [UInt8]) -> UInt32? {
        guard let message = SPNEGO.findNTLMSSP(in: blob) else { return nil }
        var r = ByteReader(message)
        return (try? r.skip(8)).flatMap { try? r.readUInt32LE() }
    }

    /// Server side: is this AUTHENTICATE anonymous (empty user, empty NT response, LM ≤ 1 byte)?
    public static func isAnonymousAuthenticate(_ blob: [UInt8]) throws(CodecError) -> Bool {
        guard let message = SPNEGO.findNTLMSSP(in: blob) else { throw .invalidValue("no NTLMSSP message") }
        var r = ByteReader(message)
        try r.skip(8)
        guard try r.readUInt32LE() == MessageType.authenticate else { throw .unexpectedMessage("not an AUTHENTICATE") }
        let lmLength = try r.readUInt16LE(); try r.skip(6)
        let ntLength = try r.readUInt16LE(); try r.skip(6)
        try r.skip(8)
        let userLength = try r.readUInt16LE()
        return lmLength <= 1 && ntLength == 0 && userLength == 0
    }
}

/// The server's identity as disclosed by an NTLMSSP CHALLENGE.
public struct NTLMChallengeInfo: Equatable, Sendable {
    public var negotiateFlags: UInt32
    public var serverChallenge: [UInt8]
    /// TargetName (usually the NetBIOS domain), sanitized.
    public var targetName: String?
    public var netBIOSComputerName: String?
    public var netBIOSDomainName: String?
    public var dnsComputerName: String?
    public var dnsDomainName: String?
    public var dnsTreeName: String?
    /// MsvAvTimestamp as a FILETIME.
    public var timestamp: UInt64?
    /// The OS version from the Version field: major, minor, build.
    public var osVersion: OSVersion?

    /// Windows major.minor.build as found in NTLMSSP's Version field.
    public struct OSVersion: Equatable, Sendable, CustomStringConvertible {
        public var major: UInt8
        public var minor: UInt8
        public var build: UInt16
        public init(major: UInt8, minor: UInt8, build: UInt16) {
            self.major = major
            self.minor = minor
            self.build = build
        }
        public var description: String { "\(major).\(minor).\(build)" }
    }

    public init(negotiateFlags: UInt32 = 0, serverChallenge: [UInt8] = [], targetName: String? = nil,
                netBIOSComputerName: String? = nil, netBIOSDomainName: String? = nil, dnsComputerName: String? = nil,
                dnsDomainName: String? = nil, dnsTreeName: String? = nil, timestamp: UInt64? = nil, osVersion: OSVersion? = nil) {
        self.negotiateFlags = negotiateFlags
        self.serverChallenge = serverChallenge
        self.targetName = targetName
        self.netBIOSComputerName = netBIOSComputerName
        self.netBIOSDomainName = netBIOSDomainName
        self.dnsComputerName = dnsComputerName
        self.dnsDomainName = dnsDomainName
        self.dnsTreeName = dnsTreeName
        self.timestamp = timestamp
        self.osVersion = osVersion
    }

    /// Parses a CHALLENGE found in a security blob (raw or SPNEGO-wrapped).
    ///
    /// Every offset and length is checked against the message; at most ``NTLMSSP/maxAVPairs`` AV
    /// pairs are read; strings are cut and sanitized.
    public static func parse(blob: [UInt8]) throws(CodecError) -> NTLMChallengeInfo {
        guard let message = SPNEGO.findNTLMSSP(in: blob) else { throw .invalidValue("no NTLMSSP signature in blob") }
        var r = ByteReader(message)
        try r.skip(8)
        guard try r.readUInt32LE() == NTLMSSP.MessageType.challenge else { throw .unexpectedMessage("not a CHALLENGE") }
        let targetNameLength = Int(try r.readUInt16LE())
        _ = try r.readUInt16LE()
        let targetNameOffset = Int(try r.readUInt32LE())
        var info = NTLMChallengeInfo()
        info.negotiateFlags = try r.readUInt32LE()
        info.serverChallenge = try r.readBytes(8)
        if targetNameLength > 0 {
            let raw = try r.bytes(at: targetNameOffset, count: targetNameLength)
            info.targetName = decode(raw, unicode: info.negotiateFlags & NTLMSSP.Flags.unicode != 0)
        }
        // Win9x-era challenges stop after the challenge (32 bytes): no context, target info or version.
        guard r.remaining >= 16 else { return info }
        try r.skip(8) // reserved / context
        let targetInfoLength = Int(try r.readUInt16LE())
        _ = try r.readUInt16LE()
        let targetInfoOffset = Int(try r.readUInt32LE())
        // Version (8 bytes at offset 48) is present when the payload starts at or after 56 and the
        // revision byte is 0x0F, the check nmap's smbauth.lua makes.
        let payloadStart = min(targetNameLength > 0 ? targetNameOffset : Int.max,
                               targetInfoLength > 0 ? targetInfoOffset : Int.max)
        if payloadStart >= 56, r.remaining >= 8 {
            let version = try r.readBytes(8)
            if version[7] == 0x0F {
                info.osVersion = OSVersion(major: version[0], minor: version[1],
                                           build: UInt16(version[2]) | (UInt16(version[3]) << 8))
            }
        }
        if targetInfoLength > 0 {
            try info.readTargetInfo(try r.bytes(at: targetInfoOffset, count: targetInfoLength))
        }
        return info
    }

    private mutating func readTargetInfo(_ bytes: [UInt8]) throws(CodecError) {
        var r = ByteReader(bytes)
        var pairs = 0
        while r.remaining >= 4 {
            pairs += 1
            guard pairs <= NTLMSSP.maxAVPairs else { throw .outOfBounds("more than \(NTLMSSP.maxAVPairs) AV pairs") }
            let id = try r.readUInt16LE()
            let length = Int(try r.readUInt16LE())
            if id == NTLMSSP.AVID.eol { return }
            let value = try r.readBytes(length)
            switch id {
            case NTLMSSP.AVID.nbComputerName: netBIOSComputerName = Self.decode(value, unicode: true)
            case NTLMSSP.AVID.nbDomainName: netBIOSDomainName = Self.decode(value, unicode: true)
            case NTLMSSP.AVID.dnsComputerName: dnsComputerName = Self.decode(value, unicode: true)
            case NTLMSSP.AVID.dnsDomainName: dnsDomainName = Self.decode(value, unicode: true)
            case NTLMSSP.AVID.dnsTreeName: dnsTreeName = Self.decode(value, unicode: true)
            case NTLMSSP.AVID.timestamp where value.count == 8:
                var t = ByteReader(value)
                timestamp = try t.readUInt64LE()
            default: break
            }
        }
    }

    private static func decode(_ bytes: [UInt8], unicode: Bool) -> String {
        guard unicode else { return Evidence.text(bytes) }
        var units: [UInt16] = []
        var i = 0
        while i + 1 < bytes.count {
            units.append(UInt16(bytes[i]) | (UInt16(bytes[i + 1]) << 8))
            i += 2
        }
        return Evidence.utf16(units)
    }

    /// Server side: the CHALLENGE message for this identity (Unicode, target info, version).
    public func makeChallengeMessage() -> [UInt8] {
        let target = ByteWriter.utf16LE(targetName ?? netBIOSDomainName ?? "")
        var info = ByteWriter()
        func pair(_ id: UInt16, _ value: String?) {
            guard let value else { return }
            let bytes = ByteWriter.utf16LE(value)
            info.writeUInt16LE(id)
            info.writeUInt16LE(UInt16(truncatingIfNeeded: bytes.count))
            info.writeBytes(bytes)
        }
        pair(NTLMSSP.AVID.nbDomainName, netBIOSDomainName)
        pair(NTLMSSP.AVID.nbComputerName, netBIOSComputerName)
        pair(NTLMSSP.AVID.dnsDomainName, dnsDomainName)
        pair(NTLMSSP.AVID.dnsComputerName, dnsComputerName)
        pair(NTLMSSP.AVID.dnsTreeName, dnsTreeName)
        if let timestamp {
            info.writeUInt16LE(NTLMSSP.AVID.timestamp)
            info.writeUInt16LE(8)
            info.writeUInt64LE(timestamp)
        }
        info.writeUInt32LE(0) // MsvAvEOL
        let hasVersion = osVersion != nil
        let payloadOffset = hasVersion ? 56 : 48
        var flags = negotiateFlags | NTLMSSP.Flags.unicode | NTLMSSP.Flags.targetInfo | NTLMSSP.Flags.requestTarget
        if hasVersion { flags |= NTLMSSP.Flags.version }
        var w = ByteWriter(capacity: payloadOffset + target.count + info.count)
        w.writeBytes(NTLMSSP.signature)
        w.writeUInt32LE(NTLMSSP.MessageType.challenge)
        w.writeUInt16LE(UInt16(truncatingIfNeeded: target.count))
        w.writeUInt16LE(UInt16(truncatingIfNeeded: target.count))
        w.writeUInt32LE(UInt32(payloadOffset))
        w.writeUInt32LE(flags)
        var challenge = Array(serverChallenge.prefix(8))
        while challenge.count < 8 { challenge.append(0) }
        w.writeBytes(challenge)
        w.writeZeros(8)
        w.writeUInt16LE(UInt16(truncatingIfNeeded: info.count))
        w.writeUInt16LE(UInt16(truncatingIfNeeded: info.count))
        w.writeUInt32LE(UInt32(payloadOffset + target.count))
        if let osVersion {
            w.writeUInt8(osVersion.major)
            w.writeUInt8(osVersion.minor)
            w.writeUInt16LE(osVersion.build)
            w.writeZeros(3)
            w.writeUInt8(0x0F)
        }
        w.writeBytes(target)
        w.writeBytes(info.bytes)
        return w.bytes
    }
}
