// libFuzzer target: Conficker P2P replies (TCP with a u16 length prefix, and UDP datagrams), and
// the round trip of a reply the simulated infected host builds.
// Input: a control byte (see FuzzInput), then the bytes the host sends.
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let bytes = input.stream
    for transport in [ConfickerP2P.Transport.tcp, .udp] {
        if case .infected(let message) = ConfickerP2P.validateReply(bytes, transport: transport) {
            invariant(message.data.map { $0.count <= bytes.count } ?? true, "data field larger than the packet")
        }
    }
    // The stream variant as the scanner receives it: the reply grows read by read.
    // Once it is no longer incomplete, the verdict is the one on everything the host sent.
    var received: [UInt8] = []
    for read in input.reads(input.stream, record: FuzzInput.wholeRecord) {
        received += read
        let verdict = ConfickerP2P.validateReply(received, transport: .tcp)
        if case .incomplete = verdict { continue }
        invariant(verdict == ConfickerP2P.validateReply(input.stream, transport: .tcp), "TCP verdict depends on how the reply was cut")
        break
    }
    // A reply built from fields taken from the input validates as infected, with those fields.
    if bytes.count >= 14 {
        var r = ByteReader(bytes)
        let key1 = try! r.readUInt32LE(), key2 = try! r.readUInt32LE(), port = try! r.readUInt16LE()
        let address = IPv4Octets(bytes[10], bytes[11], bytes[12], bytes[13])
        let noise = Array(bytes.dropFirst(14).prefix(600))
        for transport in [ConfickerP2P.Transport.tcp, .udp] {
            let reply = ConfickerP2P.makeReply(address: address, port: port, key1: key1, key2: key2, noise: noise, transport: transport)
            guard case .infected(let message) = ConfickerP2P.validateReply(reply, transport: transport) else {
                fatalError("own reply not validated: \(ConfickerP2P.validateReply(reply, transport: transport))")
            }
            invariant(message.key1 == key1 && message.key2 == key2 && message.port == port, "own reply decoded to other fields")
        }
        _ = ConfickerP2P.ports(for: address, week: Int64(key1))
    }
    return 0
}
