// libFuzzer target: the whole SMB check of one host (SMBProbe: the SMB1 conversation, then the
// SMB2 one, each on its own connection, NetBIOS session requests first on TCP 139), driven by
// the input: one segment per connection (see FuzzInput), read as NetBIOS frames or cut at
// pseudo-random places. Control bits 3-5 pick the options: bit 3 = TCP 139 with two called
// names, bit 4 = legacy (pre-NTLMSSP) null session, bit 5 = SMB2 only.
@testable import CordonCodecs

struct FixedRandom: RandomNumberGenerator {
    var state: UInt64 = 1
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let segments = input.segments()
    var rng = FixedRandom()
    var options = SMBProbeOptions(host: "198.18.0.1", using: &rng)
    options.pid = 0x1234 // the PID of the recorded Samba replies
    if input.control & 0x08 != 0 { options.transport = .netBIOS(calledNames: [NetBIOSName(name: "LAB"), .anySMBServer]) }
    if input.control & 0x10 != 0 { options.securityMode = .legacy }
    if input.control & 0x20 != 0 { options.checkSMB1 = false; options.nullSession = false; options.ms17010 = false; options.doublePulsar = false }

    var probe = SMBProbe(options: options)
    var action = probe.start()
    var connection = -1
    var reads: [[UInt8]] = []
    var connects = 0
    for _ in 0..<10_000 {
        switch action {
        case .openConnection:
            connection += 1
            connects += 1
            invariant(connects <= SMBProbe.maxConnections, "more than \(SMBProbe.maxConnections) connections")
            reads = connection < segments.count ? input.reads(segments[connection], record: FuzzInput.netBIOSRecord) : []
            action = connection < segments.count ? probe.connected() : probe.connectFailed()
        case .send, .wait:
            if reads.isEmpty {
                action = input.closesAtEnd ? probe.connectionClosed() : probe.timedOut()
            } else {
                action = probe.receive(reads.removeFirst())
            }
        case .finished(let result):
            // Noise never proves a vulnerability that needs a completed logon and tree connect.
            if case .vulnerable = result.ms17010, case .connected = result.ipc {} else if case .vulnerable = result.ms17010 {
                fatalError("MS17-010 vulnerable without an IPC$ tree connect: \(result)")
            }
            return 0
        }
    }
    fatalError("SMBProbe did not finish")
}
