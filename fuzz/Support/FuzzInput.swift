// Shared by every fuzz target (compiled into each target's executable, never into the agent).
@testable import CordonCodecs

/// One libFuzzer input, read as: a control byte, then the bytes a hostile host sends.
///
/// The control byte picks how the stream reaches the parser, so that one corpus explores both
/// whole replies and replies cut at every place a socket may cut them:
/// - bits 0-1: 0 = one record per read (a NetBIOS frame, a DCE/RPC PDU, a whole segment),
///   1/2/3 = pseudo-random read sizes of 1...8, 1...64, 1...1024 bytes;
/// - bit 2: when the stream is exhausted the host closes the connection (0) or goes silent (1);
/// - bits 3-7: target-specific options (transport, security mode, ...).
///
/// Where a target opens several connections (SMBProbe, HTTPProbe), the stream is cut into one
/// segment per connection at ``FuzzInput/separator``.
struct FuzzInput {
    let control: UInt8
    let stream: [UInt8]

    /// Separates what the host sends on successive connections.
    static let separator: [UInt8] = Array("\u{1}CUT\u{1}".utf8)

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        let all = size > 0 ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        control = all.first ?? 0
        stream = Array(all.dropFirst())
    }

    static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        size > 0 ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    var closesAtEnd: Bool { control & 0x04 == 0 }

    /// The stream cut at every separator (at most `limit` segments).
    func segments(limit: Int = 16) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        let sep = Self.separator
        while i < stream.count {
            if result.count + 1 < limit, i + sep.count <= stream.count, Array(stream[i..<(i + sep.count)]) == sep {
                result.append(current)
                current = []
                i += sep.count
            } else {
                current.append(stream[i])
                i += 1
            }
        }
        result.append(current)
        return result
    }

    /// Cuts `bytes` into the reads a socket delivers; `record` gives the length of the record at
    /// the start of a buffer (mode 0).
    func reads(_ bytes: [UInt8], record: ([UInt8]) -> Int) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var rest = ArraySlice(bytes)
        var state = UInt32(control) &* 2_654_435_761 &+ 1
        let mode = control & 0x03
        while !rest.isEmpty {
            var n: Int
            switch mode {
            case 0: n = record(Array(rest.prefix(8)))
            default:
                state = state &* 1_103_515_245 &+ 12_345
                let cap = mode == 1 ? 8 : mode == 2 ? 64 : 1024
                n = 1 + Int((state >> 16) % UInt32(cap))
            }
            n = max(1, min(n, rest.count))
            result.append(Array(rest.prefix(n)))
            rest = rest.dropFirst(n)
        }
        return result
    }

    /// Record length of a NetBIOS frame (header + declared length).
    static func netBIOSRecord(_ prefix: [UInt8]) -> Int {
        guard prefix.count >= 4 else { return prefix.count }
        return 4 + (Int(prefix[1]) << 16 | Int(prefix[2]) << 8 | Int(prefix[3]))
    }

    /// Record length of a DCE/RPC PDU (frag_length, little- or big-endian per the data representation).
    static func dceRecord(_ prefix: [UInt8]) -> Int {
        guard prefix.count >= 10 else { return Int.max }
        let little = prefix[4] & 0x10 != 0
        let length = little ? Int(prefix[8]) | Int(prefix[9]) << 8 : Int(prefix[8]) << 8 | Int(prefix[9])
        return length == 0 ? Int.max : length
    }

    /// The whole buffer as one read.
    static func wholeRecord(_ prefix: [UInt8]) -> Int { Int.max }
}

/// Stops the fuzzer with a message: a broken invariant is a finding, like a trap.
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
