import CordonCodecs

/// The protocol side of a UDP service: one answer (or none) per datagram, pure and bounded.
protocol DatagramResponder: Sendable {
    func answer(_ datagram: [UInt8]) -> [UInt8]?
}

/// NBSTAT on UDP 137: a node status query (question type 0x21) gets the host's name table.
struct NBStatResponder: DatagramResponder {
    let names: [NBStat.NameEntry]
    let macAddress: [UInt8]

    init(computerName: String, workgroup: String, address: IPv4Octets) {
        let unique: UInt16 = 0x0400      // active, B-node, unique
        let group: UInt16 = 0x8400       // active, B-node, group
        names = [
            .init(name: NetBIOSName(name: computerName, suffix: 0x00), flags: unique),
            .init(name: NetBIOSName(name: workgroup, suffix: 0x00), flags: group),
            .init(name: NetBIOSName(name: computerName, suffix: 0x20), flags: unique),
            .init(name: NetBIOSName(name: computerName, suffix: 0x03), flags: unique),
            .init(name: NetBIOSName(name: workgroup, suffix: 0x1E), flags: group),
        ]
        // A locally administered MAC made of the address: unique per host, plainly synthetic.
        macAddress = [0x02, 0x00] + address.bytes
    }

    func answer(_ datagram: [UInt8]) -> [UInt8]? {
        // Header (12) + one question: an encoded name (34 bytes for a first-level encoded name),
        // type and class. Only node status queries are answered.
        guard datagram.count >= 50, datagram.count <= 576 else { return nil }
        let flags = UInt16(datagram[2]) << 8 | UInt16(datagram[3])
        let questions = UInt16(datagram[4]) << 8 | UInt16(datagram[5])
        guard flags & 0x8000 == 0, questions == 1, datagram[12] == 0x20 else { return nil }
        let type = UInt16(datagram[46]) << 8 | UInt16(datagram[47])
        guard type == NBStat.questionType else { return nil }
        let transactionID = UInt16(datagram[0]) << 8 | UInt16(datagram[1])
        return NBStat.makeResponse(transactionID: transactionID, names: names, macAddress: macAddress)
    }
}

/// TFTP on UDP 69: every read request gets "File not found", every write request "Access
/// violation" (the simulated host serves no file and takes none). Answers come from port 69.
struct TFTPResponder: DatagramResponder {
    func answer(_ datagram: [UInt8]) -> [UInt8]? {
        guard datagram.count >= 4, datagram.count <= 516, datagram[0] == 0 else { return nil }
        switch UInt16(datagram[1]) {
        case TFTP.Opcode.readRequest: return TFTP.makeError(code: 1, message: "File not found")
        case TFTP.Opcode.writeRequest: return TFTP.makeError(code: 2, message: "Access violation")
        default: return nil
        }
    }
}

/// Conficker.C's peer-to-peer service over UDP.
struct ConfickerUDPResponder: DatagramResponder {
    let address: IPv4Octets
    let port: UInt16

    func answer(_ datagram: [UInt8]) -> [UInt8]? {
        guard datagram.count <= ConfickerP2P.maxPacket,
              case .infected = ConfickerP2P.validateReply(datagram, transport: .udp) else { return nil }
        var rng = SystemRandomNumberGenerator()
        return ConfickerResponse.reply(address: address, port: port, transport: .udp, using: &rng)
    }
}
