import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses the kernel's socket tables `/proc/net/{tcp,tcp6,udp,udp6}`.
///
/// Addresses are printed by the kernel as the hex of 32-bit words *as they sit in memory*:
/// IPv4 is one word, IPv6 four, each in host byte order (so on x86 `0100007F` is 127.0.0.1).
enum ProcNetParser {
    /// One socket line that passed validation.
    struct Row: Equatable {
        var address: [UInt8]
        var port: Int
        var state: UInt8
        var inode: UInt64
    }

    /// TCP_LISTEN.
    static let tcpListen: UInt8 = 0x0A
    /// TCP_CLOSE, which is what an unconnected (bound) UDP socket shows.
    static let udpBound: UInt8 = 0x07

    static func parse(_ lines: TextLines, ipv6: Bool) -> (rows: [Row], skipped: Int) {
        var rows: [Row] = []
        var skipped = lines.skipped
        for line in lines.lines {
            let fields = line.text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "sl" { continue }  // header
            if fields.isEmpty { continue }
            guard fields.count >= 10, let row = parseRow(fields, ipv6: ipv6) else {
                skipped += 1
                continue
            }
            rows.append(row)
        }
        return (rows, skipped)
    }

    private static func parseRow(_ fields: [Substring], ipv6: Bool) -> Row? {
        let local = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        guard local.count == 2, local[1].count == 4, isHex(local[1]), let port = Int(local[1], radix: 16),
              let address = decodeAddress(local[0], ipv6: ipv6),
              fields[3].count == 2, let state = UInt8(fields[3], radix: 16),
              let inode = UInt64(fields[9])
        else { return nil }
        return Row(address: address, port: port, state: state, inode: inode)
    }

    /// The 4 or 16 address bytes in network order, from the kernel's word-wise hex.
    static func decodeAddress<S: StringProtocol>(_ hex: S, ipv6: Bool) -> [UInt8]? {
        let words = ipv6 ? 4 : 1
        guard hex.utf8.count == words * 8, isHex(hex) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        for _ in 0..<words {
            let end = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<end], radix: 16) else { return nil }
            // The kernel printed the word as the CPU holds it: its bytes in memory order are
            // the address bytes in network order.
            withUnsafeBytes(of: word) { bytes.append(contentsOf: $0) }
            index = end
        }
        return bytes
    }

    private static func isHex<S: StringProtocol>(_ text: S) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Text form: dotted quad, or RFC 5952 IPv6 (`::ffff:1.2.3.4` for v4-mapped).
    static func format(_ bytes: [UInt8]) -> String {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The IPv4 address of a v4-mapped IPv6 address (`::ffff:a.b.c.d`), else `nil`.
    static func mappedIPv4(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else {
            return nil
        }
        return format(Array(bytes[12..<16]))
    }
}
