import Foundation
import Testing
@testable import CordonCodecs

/// Test helpers: fixtures next to this file, hex, a seeded PRNG, and drivers that run the probes
/// against the simulated hosts in memory.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    static func lines(_ name: String) throws -> [String] {
        try text(name).split(whereSeparator: \.isNewline).map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    static func data(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

func hex(_ string: String) -> [UInt8] {
    let chars = Array(string.filter { $0.isHexDigit }.utf8)
    var out: [UInt8] = []
    var i = 0
    while i + 1 < chars.count {
        out.append(UInt8(String(decoding: chars[i...i + 1], as: UTF8.self), radix: 16)!)
        i += 2
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// SplitMix64: a small seeded generator so that fuzz runs are reproducible.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// Strips the 4-byte NetBIOS header of a frame built by the codecs.
func payload(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(4)) }

/// Runs an SMBProbe against simulated hosts: one fresh `SimulatedSMBServer` per connection.
/// Replies are delivered in pieces of `chunk` bytes to exercise reassembly.
func runProbe(_ options: SMBProbeOptions, profile: SimulatedSMBProfile, chunk: Int = 7,
              acceptConnections: Bool = true) -> (result: SMBProbeResult, connections: Int) {
    var probe = SMBProbe(options: options)
    var server: SimulatedSMBServer?
    var action = probe.start()
    var connections = 0
    var pendingReplies: [[UInt8]] = []
    for _ in 0..<200 {
        switch action {
        case .openConnection:
            if acceptConnections {
                connections += 1
                server = SimulatedSMBServer(profile: profile)
                action = probe.connected()
            } else {
                action = probe.connectFailed()
            }
        case .send(let bytes):
            guard var s = server else { action = probe.connectionClosed(); continue }
            let replies = s.receive(bytes)
            server = s
            for reply in replies {
                switch reply {
                case .send(let out): pendingReplies.append(out)
                case .close: pendingReplies.append([])
                case .none: break
                }
            }
            action = .wait
        case .wait:
            guard !pendingReplies.isEmpty else { action = probe.timedOut(); continue }
            let next = pendingReplies.removeFirst()
            if next.isEmpty {
                pendingReplies.removeAll()
                action = probe.connectionClosed()
                continue
            }
            var offset = 0
            var step = SMBProbe.Action.wait
            while offset < next.count {
                let end = min(next.count, offset + chunk)
                step = probe.receive(Array(next[offset..<end]))
                offset = end
                if step != .wait { break }
            }
            action = step
        case .finished(let result):
            return (result, connections)
        }
    }
    Issue.record("probe did not finish")
    return (probe.result, connections)
}
