/// An IPv4 network in CIDR form (`198.18.1.0/24`; a bare address is a /32). The address is
/// masked to the network.
public struct IPv4CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: UInt32
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4CIDR.parseAddress(String(parts[0])) else { return nil }
        var prefix = 32
        if parts.count == 2 {
            guard parts[1].count <= 2, let p = Int(parts[1]), (0...32).contains(p) else { return nil }
            prefix = p
        }
        self.prefix = prefix
        self.network = address & IPv4CIDR.mask(prefix)
    }

    public init(network: UInt32, prefix: Int) {
        self.prefix = max(0, min(32, prefix))
        self.network = network & IPv4CIDR.mask(self.prefix)
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }

    /// Strict dotted quad: four decimal octets, no leading zeros beyond "0".
    public static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }), octet.count == 1 || octet.first != "0",
                  let n = UInt32(octet), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    public var first: UInt32 { network }
    public var last: UInt32 { network | ~IPv4CIDR.mask(prefix) }
    public var count: UInt64 { UInt64(last) - UInt64(first) + 1 }

    public func contains(_ address: UInt32) -> Bool { address & IPv4CIDR.mask(prefix) == network }
    public func contains(_ other: IPv4CIDR) -> Bool { other.prefix >= prefix && contains(other.network) }

    public var description: String {
        "\(network >> 24).\(network >> 16 & 255).\(network >> 8 & 255).\(network & 255)/\(prefix)"
    }

    /// True when every address of `inner` lies in the union of `outer`.
    public static func covers(_ outer: [IPv4CIDR], _ inner: IPv4CIDR) -> Bool {
        // Merge the parts of `outer` that overlap `inner` and check they span it without a gap.
        let spans = outer.map { (max($0.first, inner.first), min($0.last, inner.last)) }.filter { $0.0 <= $0.1 }.sorted { $0.0 < $1.0 }
        var next = UInt64(inner.first)
        for (start, end) in spans where UInt64(start) <= next {
            next = max(next, UInt64(end) + 1)
            if next > UInt64(inner.last) { return true }
        }
        return next > UInt64(inner.last)
    }
}
