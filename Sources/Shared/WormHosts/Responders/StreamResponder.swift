import CordonCodecs

/// What a TCP connection of a simulated host does next.
enum StreamAction: Equatable, Sendable {
    /// Write these bytes.
    case send([UInt8])
    /// Close the connection (after the writes before it).
    case close
}

/// The protocol side of one TCP connection, as a pure state machine: the channel handler feeds
/// it bytes and carries out its actions. Every responder bounds what it buffers.
protocol StreamResponder {
    /// The connection is open (banner services speak first).
    mutating func connected() -> [StreamAction]
    /// Bytes arrived.
    mutating func received(_ bytes: [UInt8]) -> [StreamAction]
}

extension StreamResponder {
    mutating func connected() -> [StreamAction] { [] }
}

/// SMB on 445 and 139: one ``SimulatedSMBServer`` per connection.
struct SMBResponder: StreamResponder {
    private var server: SimulatedSMBServer

    init(profile: SimulatedSMBProfile) {
        server = SimulatedSMBServer(profile: profile)
    }

    mutating func received(_ bytes: [UInt8]) -> [StreamAction] {
        server.receive(bytes).compactMap { action in
            switch action {
            case .send(let frame): .send(frame)
            case .close: .close
            case .none: nil
            }
        }
    }
}

/// The DCE/RPC endpoint mapper on 135: a bind to the endpoint mapper gets a bind_ack, a bind to
/// another interface a bind_nak; anything else (requests, garbage) closes the connection.
struct EndpointMapperResponder: StreamResponder {
    private var buffer: [UInt8] = []

    mutating func received(_ bytes: [UInt8]) -> [StreamAction] {
        buffer.append(contentsOf: bytes)
        var actions: [StreamAction] = []
        while true {
            let length: Int?
            do {
                length = try DCERPC.pduLength(buffer)
            } catch {
                return actions + [.close]
            }
            guard let length else { return actions }
            guard buffer.count >= length else { return actions }
            let pdu = Array(buffer.prefix(length))
            buffer.removeFirst(length)
            guard let bind = try? DCERPC.parseBindRequest(pdu) else { return actions + [.close] }
            if bind.interface == .endpointMapper {
                actions.append(.send(DCERPC.makeBindAck(callID: bind.callID)))
            } else {
                actions.append(.send(DCERPC.makeBindNak(callID: bind.callID)))
            }
        }
    }
}

/// IIS on 80: reads one request head (at most 16 KiB), answers it and closes, as IIS does with
/// `Connection: close`.
struct IISResponder: StreamResponder {
    static let maxHead = 16 * 1024
    let iis: SimulatedIIS
    private var head: [UInt8] = []
    private var answered = false

    init(iis: SimulatedIIS) {
        self.iis = iis
    }

    mutating func received(_ bytes: [UInt8]) -> [StreamAction] {
        guard !answered else { return [] }
        head.append(contentsOf: bytes.prefix(Self.maxHead + 4 - head.count))
        if Self.headIsComplete(head) {
            answered = true
            return [.send(iis.response(to: head)), .close]
        }
        if head.count > Self.maxHead {
            answered = true
            return [.send(SimulatedIIS(version: iis.version, idaMapped: false, rootExeInstalled: false).response(to: [])), .close]
        }
        return []
    }

    /// True once the head ends (an empty line: CRLF CRLF, or bare LF LF).
    static func headIsComplete(_ bytes: [UInt8]) -> Bool {
        var previousNewline = false
        for byte in bytes {
            if byte == 0x0A {
                if previousNewline { return true }
                previousNewline = true
            } else if byte != 0x0D {
                previousNewline = false
            }
        }
        return false
    }
}

/// A backdoor: says its banner on connect, then swallows whatever the client types (nothing is
/// ever run) until the connection's limits close it.
struct BannerResponder: StreamResponder {
    let banner: [UInt8]

    mutating func connected() -> [StreamAction] { [.send(banner)] }
    mutating func received(_ bytes: [UInt8]) -> [StreamAction] { [] }
}

/// Conficker.C's peer-to-peer service over TCP: a valid probe (u16 length, then a packet whose
/// checksum holds) is answered with a reply the script accepts; anything else closes.
struct ConfickerTCPResponder: StreamResponder {
    let address: IPv4Octets
    let port: UInt16
    private var buffer: [UInt8] = []
    private var answered = false

    init(address: IPv4Octets, port: UInt16) {
        self.address = address
        self.port = port
    }

    mutating func received(_ bytes: [UInt8]) -> [StreamAction] {
        guard !answered else { return [] }
        buffer.append(contentsOf: bytes.prefix(ConfickerP2P.maxPacket + 2 - min(buffer.count, ConfickerP2P.maxPacket + 2)))
        switch ConfickerP2P.validateReply(buffer, transport: .tcp) {
        case .incomplete:
            return buffer.count >= ConfickerP2P.maxPacket + 2 ? [.close] : []
        case .infected:
            answered = true
            var rng = SystemRandomNumberGenerator()
            return [.send(ConfickerResponse.reply(address: address, port: port, transport: .tcp, using: &rng)), .close]
        case .badChecksum, .notConficker:
            answered = true
            return [.close]
        }
    }
}

/// Reply building shared by the TCP and UDP sides of the P2P service.
enum ConfickerResponse {
    /// A reply with fresh keys in the script's range and a few bytes of noise, as the worm sends.
    static func reply(address: IPv4Octets, port: UInt16, transport: ConfickerP2P.Transport,
                      using rng: inout some RandomNumberGenerator) -> [UInt8] {
        let key1 = UInt32.random(in: 1...0x7FFF_FFFF, using: &rng)
        let key2 = UInt32.random(in: 1...0x7FFF_FFFF, using: &rng)
        let noise = (0..<Int.random(in: 0...32, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return ConfickerP2P.makeReply(address: address, port: port, key1: key1, key2: key2, noise: noise, transport: transport)
    }
}
