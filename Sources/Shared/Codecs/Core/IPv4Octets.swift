/// An IPv4 address as its four octets, in network order.
public struct IPv4Octets: Hashable, Sendable, CustomStringConvertible {
    public var octets: (UInt8, UInt8, UInt8, UInt8)

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        octets = (a, b, c, d)
    }

    /// Parses dotted-quad notation (`"198.18.0.1"`); nil for anything else.
    public init?(_ string: String) {
        let parts = string.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var values: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3 else { return nil }
            var value = 0
            for c in part {
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
            }
            guard value <= 255 else { return nil }
            values.append(UInt8(value))
        }
        octets = (values[0], values[1], values[2], values[3])
    }

    /// The four octets as an array.
    public var bytes: [UInt8] { [octets.0, octets.1, octets.2, octets.3] }

    public var description: String { "\(octets.0).\(octets.1).\(octets.2).\(octets.3)" }

    public static func == (lhs: IPv4Octets, rhs: IPv4Octets) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
