/// The two read-only transactions of the WannaCry-era checks.
public enum SMB1Transaction {
    /// PeekNamedPipe transaction subcommand.
    public static let peekNamedPipe: UInt16 = 0x0023
    /// Trans2 SESSION_SETUP subcommand (DoublePulsar's ping).
    public static let trans2SessionSetup: UInt16 = 0x000E
    /// The MID the DoublePulsar check sends.
    public static let doublePulsarRequestMID: UInt16 = 65
    /// The MID an implant answers with (request MID + 16).
    public static let doublePulsarReplyMID: UInt16 = 81

    /// SMB_COM_TRANSACTION PeekNamedPipe on FID 0 with `\PIPE\`, byte for byte as
    /// `smb-vuln-ms17-010.nse` sends it (including its trailing zero byte after ByteCount 7).
    public static func ms17010PeekNamedPipe(pid: UInt16, uid: UInt16, tid: UInt16, mid: UInt16) -> [UInt8] {
        var w = ByteWriter(capacity: 80)
        SMB1Header(command: SMB1Command.transaction, flags: 0x18, flags2: SMB1Flags2.nmapExtended,
                   tid: tid, pid: pid, uid: uid, mid: mid).write(to: &w)
        w.writeUInt8(16)           // word count
        w.writeUInt16LE(0)         // total parameter count
        w.writeUInt16LE(0)         // total data count
        w.writeUInt16LE(0xFFFF)    // max parameter count
        w.writeUInt16LE(0xFFFF)    // max data count
        w.writeUInt8(0)            // max setup count
        w.writeUInt8(0)
        w.writeUInt16LE(0)         // flags
        w.writeUInt32LE(0)         // timeout
        w.writeUInt16LE(0)
        w.writeUInt16LE(0)         // parameter count
        w.writeUInt16LE(0x004A)    // parameter offset
        w.writeUInt16LE(0)         // data count
        w.writeUInt16LE(0x004A)    // data offset
        w.writeUInt8(2)            // setup count
        w.writeUInt8(0)
        w.writeUInt16LE(peekNamedPipe)
        w.writeUInt16LE(0)         // FID 0
        w.writeUInt16LE(7)         // byte count
        w.writeASCII("\\PIPE\\")
        w.writeUInt8(0)
        w.writeUInt8(0)            // nmap's empty data block length, outside ByteCount
        return NetBIOSSession.frameSmall(w.bytes)
    }

    /// SMB_COM_TRANSACTION2 SESSION_SETUP with MID 65 and 12 zero parameter bytes, as
    /// `smb-double-pulsar-backdoor.nse` sends it.
    public static func doublePulsarPing(pid: UInt16, uid: UInt16, tid: UInt16) -> [UInt8] {
        var words = ByteWriter(capacity: 30)
        words.writeUInt16LE(12)        // total parameter count
        words.writeUInt16LE(0)         // total data count
        words.writeUInt16LE(0x000A)    // max parameter count
        words.writeUInt16LE(0x3984)    // max data count
        words.writeUInt8(0)
        words.writeUInt8(0)
        words.writeUInt16LE(0)         // flags
        words.writeUInt32LE(10_803_622) // timeout (nmap's value)
        words.writeUInt16LE(0)
        words.writeUInt16LE(12)        // parameter count
        words.writeUInt16LE(0x44)      // parameter offset
        words.writeUInt16LE(0)         // data count
        words.writeUInt16LE(12 + 33 + 32) // data offset (nmap's value)
        words.writeUInt8(1)            // setup count
        words.writeUInt8(0)
        words.writeUInt16LE(trans2SessionSetup)
        var data = ByteWriter()
        data.writeZeros(3)             // padding to offset 0x44
        data.writeZeros(12)            // parameters
        let header = SMB1Header(command: SMB1Command.transaction2, flags: 0x18, flags2: SMB1Flags2.nmapExtended,
                                tid: tid, pid: pid, uid: uid, mid: doublePulsarRequestMID)
        return SMB1Message(header: header, words: words.bytes, data: data.bytes).framed()
    }

    /// Server side: the subcommand (first setup word) of a Trans or Trans2 request, and its FID
    /// (second setup word) when present.
    public static func parseSetup(_ message: SMB1Message) throws(CodecError) -> (subcommand: UInt16, fid: UInt16?) {
        guard message.header.command == SMB1Command.transaction || message.header.command == SMB1Command.transaction2 else {
            throw .unexpectedMessage("not a transaction")
        }
        var w = ByteReader(message.words)
        try w.skip(26) // counts, offsets, flags, timeout: same layout for Trans and Trans2
        let setupCount = Int(try w.readUInt8())
        try w.skip(1)
        guard setupCount >= 1 else { throw .invalidValue("transaction without setup words") }
        let subcommand = try w.readUInt16LE()
        let fid = setupCount >= 2 ? try w.readUInt16LE() : nil
        return (subcommand, fid)
    }

    /// Server side: an empty reply to a Trans/Trans2 request with a status and a MID (the
    /// DoublePulsar simulation answers MID 81).
    public static func makeStatusReply(requestHeader: SMB1Header, status: NTStatus, mid: UInt16? = nil) -> [UInt8] {
        let header = SMB1Header(command: requestHeader.command, status: status, flags: 0x98,
                                flags2: SMB1Flags2.ntStatus | SMB1Flags2.longNames | (requestHeader.flags2 & SMB1Flags2.extendedSecurity),
                                tid: requestHeader.tid, pid: requestHeader.pid, uid: requestHeader.uid, mid: mid ?? requestHeader.mid)
        return SMB1Message(header: header).framed()
    }
}
