import Foundation
import Testing
@testable import CordonCodecs

/// Conficker.C P2P, checked against the outputs of nmap's own p2p-conficker.nse
/// (Fixtures/conficker-harness.lua runs the script's functions under lua5.4).
@Suite struct ConfickerTests {
    @Test func portsMatchTheScriptForHundredsOfAddressesAndSeveralWeeks() throws {
        let lines = try Fixture.lines("conficker-ports.txt")
        #expect(lines.count >= 3000)
        var mismatches: [String] = []
        var addresses = Set<String>()
        for line in lines {
            let fields = line.split(separator: " ")
            try #require(fields.count == 6)
            let address = try #require(IPv4Octets(String(fields[0])))
            addresses.insert(String(fields[0]))
            let week = try #require(Int64(fields[1]))
            let expected = ConfickerPorts(tcp1: UInt16(fields[2])!, udp1: UInt16(fields[3])!,
                                          tcp2: UInt16(fields[4])!, udp2: UInt16(fields[5])!)
            let ports = ConfickerP2P.ports(for: address, week: week)
            if ports != expected { mismatches.append("\(line) -> \(ports)") }
        }
        #expect(addresses.count >= 290)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func weekNumbersMatchTheScript() throws {
        for line in try Fixture.lines("conficker-weeks.txt") {
            let fields = line.split(separator: " ").compactMap { Int64($0) }
            try #require(fields.count == 2)
            #expect(ConfickerP2P.week(unixTime: fields[0]) == fields[1], "t=\(fields[0])")
        }
    }

    @Test func generatedPortsAreNeverBlacklisted() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<500 {
            let address = IPv4Octets(.random(in: 0...255, using: &rng), .random(in: 0...255, using: &rng),
                                     .random(in: 0...255, using: &rng), .random(in: 0...255, using: &rng))
            let ports = ConfickerP2P.ports(for: address, unixTime: Int64.random(in: 1_230_000_000...2_000_000_000, using: &rng))
            for port in ports.tcp + ports.udp { #expect(!ConfickerP2P.isBlacklisted(port) && port >= 2048) }
            #expect(ports.tcp1 != ports.udp1 && ports.tcp2 != ports.udp2)
        }
        #expect(ConfickerP2P.isBlacklisted(0) && ConfickerP2P.isBlacklisted(2047) && ConfickerP2P.isBlacklisted(445))
    }

    @Test func probesAreTheScriptsByteForByte() throws {
        for line in try Fixture.lines("conficker-probes.txt") {
            let fields = line.split(separator: " ")
            try #require(fields.count == 4)
            let transport: ConfickerP2P.Transport = fields[0] == "tcp" ? .tcp : .udp
            let probe = ConfickerP2P.makeProbe(transport: transport, key1: UInt32(fields[1])!, key2: UInt32(fields[2])!)
            #expect(hexString(probe) == String(fields[3]), "\(line)")
            // The script's own packets are valid Conficker packets for our validator too.
            guard case .infected(let message) = ConfickerP2P.validateReply(probe, transport: transport) else {
                Issue.record("probe not accepted: \(line)"); continue
            }
            #expect(message.flags & ConfickerP2P.Flag.encoded != 0)
        }
    }

    /// Replies built by makeReply, and the verdict of the script's p2p_parse + hash check on them
    /// (generated once with `lua5.4 conficker-harness.lua parse`).
    @Test func repliesAreAcceptedByTheScript() throws {
        for line in try Fixture.lines("conficker-replies.txt") {
            let fields = line.split(separator: " ")
            try #require(fields.count >= 6)
            let transport: ConfickerP2P.Transport = fields[0] == "tcp" ? .tcp : .udp
            let key1 = UInt32(fields[1])!, key2 = UInt32(fields[2])!, noiseCount = Int(fields[3])!
            let reply = ConfickerP2P.makeReply(address: IPv4Octets(198, 18, 0, 9), port: 4242, key1: key1, key2: key2,
                                               noise: Self.noise(noiseCount), transport: transport)
            #expect(hexString(reply) == String(fields[4]))
            #expect(fields[5] == "ok", "script verdict: \(fields[5...].joined(separator: " "))")
            guard case .infected(let message) = ConfickerP2P.validateReply(reply, transport: transport) else {
                Issue.record("reply not accepted"); continue
            }
            #expect(message.port == 4242)
            #expect(message.sysinfo?.osBuild == 2600)
        }
    }

    /// Live cross-check with the installed script, when lua5.4 and nmap are present.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/lua5.4")
                    && FileManager.default.fileExists(atPath: "/usr/share/nmap/scripts/p2p-conficker.nse")))
    func liveScriptAcceptsOurRepliesAndRejectsCorruptedOnes() throws {
        var rng = SeededRandom(seed: 99)
        var input = ""
        var expected: [String] = []
        for i in 0..<40 {
            let transport: ConfickerP2P.Transport = i % 2 == 0 ? .tcp : .udp
            var reply = ConfickerP2P.makeReply(address: IPv4Octets(10, 0, 0, UInt8(i)), port: UInt16(2048 + i),
                                               key1: .random(in: 1...0x7FFF_FFFF, using: &rng),
                                               key2: .random(in: 1...0x7FFF_FFFF, using: &rng),
                                               noise: rng.bytes(i), transport: transport)
            if i % 4 == 3 {
                reply[reply.count - i - 1] ^= 0x01 // flip a bit of the checksum
                expected.append("badhash")
            } else {
                expected.append("ok")
            }
            input += "\(transport == .tcp ? "tcp" : "udp") \(hexString(reply))\n"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/lua5.4")
        process.arguments = [Fixture.directory.appendingPathComponent("conficker-harness.lua").path, "parse"]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let verdicts = output.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }
        #expect(verdicts == expected)
    }

    @Test func badChecksumIsRejected() {
        var reply = ConfickerP2P.makeReply(address: IPv4Octets(198, 18, 0, 9), port: 4242, key1: 5, key2: 6, transport: .udp)
        reply[reply.count - 1] ^= 0x80
        guard case .badChecksum = ConfickerP2P.validateReply(reply, transport: .udp) else { Issue.record("accepted"); return }
        var flipped = ConfickerP2P.makeProbe(transport: .tcp, key1: 1, key2: 2)
        flipped[12] ^= 0x01 // a flags bit: parse still succeeds, hash differs
        if case .infected = ConfickerP2P.validateReply(flipped, transport: .tcp) { Issue.record("corrupted probe accepted") }
    }

    @Test func tcpLengthPrefixIsHonoured() {
        let reply = ConfickerP2P.makeReply(address: IPv4Octets(1, 2, 3, 4), port: 1, key1: 9, key2: 9, noise: [1, 2, 3], transport: .tcp)
        #expect(ConfickerP2P.validateReply([], transport: .tcp) == .incomplete(needed: 2))
        #expect(ConfickerP2P.validateReply(Array(reply.prefix(10)), transport: .tcp) == .incomplete(needed: reply.count))
        guard case .infected = ConfickerP2P.validateReply(reply + [0xFF, 0xFF], transport: .tcp) else { Issue.record("not accepted"); return }
        #expect(ConfickerP2P.validateReply([0xFF, 0xFF] + [UInt8](repeating: 0, count: 10), transport: .tcp)
                == .notConficker(reason: "declared length 65535 over 8192"))
        #expect(ConfickerP2P.validateReply(Array("HTTP/1.1 200 OK\r\n".utf8), transport: .udp) != .infected(ConfickerMessage(key1: 0, key2: 0, flags: 0)))
    }

    @Test func cipherIsAnInvolutionAndZeroKeyIsIdentity() {
        var rng = SeededRandom(seed: 3)
        let data = rng.bytes(100)
        #expect(ConfickerP2P.cipher(ConfickerP2P.cipher(data, key1: 0xDEAD, key2: 0xBEEF), key1: 0xDEAD, key2: 0xBEEF) == data)
        #expect(ConfickerP2P.cipher(data, key1: 0, key2: 0) == data)
    }

    static func noise(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } }
}
