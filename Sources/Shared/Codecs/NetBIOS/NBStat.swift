/// NetBIOS name service node status (NBSTAT) on UDP 137: the query nmap's `nbstat.nse` sends and
/// the parse of the answer (names, workgroup, computer name, MAC address).
public enum NBStat {
    /// Question type NBSTAT.
    public static let questionType: UInt16 = 0x0021
    /// Class IN.
    public static let questionClass: UInt16 = 0x0001
    /// The most names accepted in one answer (Windows registers a dozen at most).
    public static let maxNames = 64

    /// The query for the wildcard name `*`, as `netbios.lua` builds it.
    public static func query(transactionID: UInt16 = 0x1337) -> [UInt8] {
        var w = ByteWriter(capacity: 50)
        w.writeUInt16BE(transactionID)
        w.writeUInt16BE(0x0000) // flags: query, no recursion
        w.writeUInt16BE(1)      // questions
        w.writeUInt16BE(0)      // answers
        w.writeUInt16BE(0)      // authority
        w.writeUInt16BE(0)      // additional
        w.writeBytes(NetBIOSName.wildcard.encoded)
        w.writeUInt16BE(questionType)
        w.writeUInt16BE(questionClass)
        return w.bytes
    }

    /// One entry of the node's name table.
    public struct NameEntry: Equatable, Sendable {
        public var name: NetBIOSName
        /// NAME_FLAGS: 0x8000 group, 0x0400 active, 0x0200 permanent, ...
        public var flags: UInt16

        public init(name: NetBIOSName, flags: UInt16) {
            self.name = name
            self.flags = flags
        }

        /// True for a group name, false for a unique name.
        public var isGroup: Bool { flags & 0x8000 != 0 }
    }

    /// A parsed node status response.
    public struct Response: Equatable, Sendable {
        public var transactionID: UInt16
        public var names: [NameEntry]
        /// The unit ID from the statistics, usually the MAC address (all zero on Samba).
        public var macAddress: [UInt8]?

        /// The workgroup or domain: the first group name with suffix 0x00.
        public var workgroup: String? {
            names.first { $0.isGroup && $0.name.suffix == 0x00 }?.name.name
        }

        /// The computer name: the first unique name with suffix 0x20 (server), else 0x00.
        public var computerName: String? {
            names.first { !$0.isGroup && $0.name.suffix == 0x20 }?.name.name
                ?? names.first { !$0.isGroup && $0.name.suffix == 0x00 }?.name.name
        }

        /// The MAC address as `aa:bb:cc:dd:ee:ff`, nil when absent or all zero.
        public var macString: String? {
            guard let mac = macAddress, mac.count == 6, mac.contains(where: { $0 != 0 }) else { return nil }
            let hex = Evidence.hex(mac)
            var parts: [Substring] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                parts.append(hex[index..<next])
                index = next
            }
            return parts.joined(separator: ":")
        }
    }

    /// Parses a node status response. Throws on malformed or non-matching replies.
    ///
    /// - Parameter expectedTransactionID: when given, a reply with another ID is rejected.
    public static func parseResponse(_ bytes: [UInt8], expectedTransactionID: UInt16? = nil) throws(CodecError) -> Response {
        var r = ByteReader(bytes)
        let id = try r.readUInt16BE()
        if let expectedTransactionID, id != expectedTransactionID {
            throw .unexpectedMessage("transaction ID 0x\(String(id, radix: 16))")
        }
        let flags = try r.readUInt16BE()
        guard flags & 0x8000 != 0 else { throw .unexpectedMessage("not a response") }
        guard flags & 0x000F == 0 else { throw .invalidValue("name service error rcode \(flags & 0x000F)") }
        let questions = try r.readUInt16BE()
        let answers = try r.readUInt16BE()
        _ = try r.readUInt16BE()
        _ = try r.readUInt16BE()
        guard answers >= 1 else { throw .invalidValue("no answer record") }
        // Skip echoed questions, if any (RFC 1002 responses carry none; be lenient, bounded).
        for _ in 0..<min(Int(questions), 4) {
            try skipName(&r)
            try r.skip(4)
        }
        try skipName(&r)
        let type = try r.readUInt16BE()
        let rrClass = try r.readUInt16BE()
        guard type == questionType, rrClass == questionClass else {
            throw .unexpectedMessage("answer type 0x\(String(type, radix: 16)) class \(rrClass)")
        }
        _ = try r.readUInt32BE() // TTL
        let rdLength = Int(try r.readUInt16BE())
        guard rdLength <= r.remaining else { throw .truncated("RDLENGTH \(rdLength) with \(r.remaining) left") }
        var rdata = ByteReader(try r.readBytes(rdLength))
        let count = Int(try rdata.readUInt8())
        guard count <= maxNames else { throw .outOfBounds("\(count) names, limit \(maxNames)") }
        var names: [NameEntry] = []
        names.reserveCapacity(count)
        for _ in 0..<count {
            let raw = try rdata.readBytes(16)
            let nameFlags = try rdata.readUInt16BE()
            names.append(NameEntry(name: NetBIOSName.fromRaw(raw), flags: nameFlags))
        }
        let mac = rdata.remaining >= 6 ? try rdata.readBytes(6) : nil
        return Response(transactionID: id, names: names, macAddress: mac)
    }

    /// Server side: builds a node status response.
    ///
    /// - Parameters:
    ///   - names: at most ``maxNames`` entries are written.
    ///   - macAddress: six bytes (others are cut or zero-padded).
    public static func makeResponse(transactionID: UInt16, names: [NameEntry], macAddress: [UInt8]) -> [UInt8] {
        let entries = names.prefix(maxNames)
        var w = ByteWriter(capacity: 128)
        w.writeUInt16BE(transactionID)
        w.writeUInt16BE(0x8400) // response, authoritative answer, opcode query
        w.writeUInt16BE(0)
        w.writeUInt16BE(1)
        w.writeUInt16BE(0)
        w.writeUInt16BE(0)
        w.writeBytes(NetBIOSName.wildcard.encoded)
        w.writeUInt16BE(questionType)
        w.writeUInt16BE(questionClass)
        w.writeUInt32BE(0)
        let statistics = 46
        w.writeUInt16BE(UInt16(1 + entries.count * 18 + statistics))
        w.writeUInt8(UInt8(entries.count))
        for entry in entries {
            w.writeBytes(entry.name.rawBytes)
            w.writeUInt16BE(entry.flags)
        }
        var mac = Array(macAddress.prefix(6))
        while mac.count < 6 { mac.append(0) }
        w.writeBytes(mac)
        w.writeZeros(statistics - 6)
        return w.bytes
    }

    /// Skips an encoded name: labels up to a zero byte, or a 2-byte compression pointer.
    private static func skipName(_ r: inout ByteReader) throws(CodecError) {
        var labels = 0
        while true {
            let length = try r.readUInt8()
            if length == 0 { return }
            if length & 0xC0 == 0xC0 {
                _ = try r.readUInt8()
                return
            }
            guard length <= 63 else { throw .invalidValue("label length \(length)") }
            try r.skip(Int(length))
            labels += 1
            guard labels <= 16 else { throw .outOfBounds("too many labels in a name") }
        }
    }
}
