import CordonCodecs

/// An IPv4 address as a host-order `UInt32` (first octet highest).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) {
        self.value = value
    }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Dotted-quad only (`198.18.0.1`); nil for anything else.
    public init?(_ text: String) {
        guard let octets = IPv4Octets(text) else { return nil }
        let b = octets.bytes
        self.init(b[0], b[1], b[2], b[3])
    }

    public var octets: IPv4Octets {
        IPv4Octets(UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
                   UInt8(truncatingIfNeeded: value))
    }

    public var description: String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}

/// An inclusive range of IPv4 addresses.
public struct IPv4Range: Hashable, Sendable, CustomStringConvertible {
    public var first: UInt32
    public var last: UInt32

    public init(first: UInt32, last: UInt32) {
        precondition(first <= last)
        self.first = first
        self.last = last
    }

    public var count: Int { Int(last - first) + 1 }
    public func contains(_ value: UInt32) -> Bool { value >= first && value <= last }
    public var description: String { "\(IPv4Address(first))-\(IPv4Address(last))" }
}

/// What the scanner may touch: the configured scope (IPv4 CIDRs and single addresses) minus the
/// exclusions.
///
/// Every address of a CIDR is scanned, its first and last too, as nmap does: a scope such as
/// `198.19.5.20/30` is often a slice of a larger subnet, where .20 is a host like any other.
/// With `skipNetworkAndBroadcast` each entry shorter than /31 is taken as a whole subnet and
/// its first (network) and last (broadcast) addresses are left out; those are listed in
/// ``skipped`` and in the scan's stats, so that nothing is left out unsaid.
///
/// The address list is never materialized: it is a sorted list of disjoint ranges, iterated lazily
/// and searched in O(log n) by ``contains(_:)``, the one gate every connect and datagram passes.
public struct Scope: Sendable, Equatable {
    /// Sorted, disjoint, non-adjacent ranges.
    public let ranges: [IPv4Range]
    /// The number of addresses in scope.
    public let count: Int
    /// As configured, for the report.
    public let scopeSpecs: [String]
    public let excludeSpecs: [String]
    /// Network and broadcast addresses left out under `skipNetworkAndBroadcast` (ascending;
    /// not those excluded anyway, nor those another entry brings back in).
    public let skipped: [IPv4Address]

    /// The most entries accepted in scope or exclude lists.
    public static let maxEntries = 4096

    /// Parses and checks a scope.
    ///
    /// - Throws: ``AgentError/config`` for an unparsable entry, an IPv6 address, too many entries,
    ///   or more than `maxSize` addresses unless `allowLarge`.
    public init(scope: [String], exclude: [String] = [], maxSize: Int = 65536, allowLarge: Bool = false,
                skipNetworkAndBroadcast: Bool = false) throws(AgentError) {
        guard scope.count <= Self.maxEntries, exclude.count <= Self.maxEntries else {
            throw AgentError.config("scope: at most \(Self.maxEntries) scope and \(Self.maxEntries) exclude entries")
        }
        var blocks: [Block] = []
        for spec in scope { blocks.append(try Self.parse(spec, what: "scope")) }
        // RFC 3021 /31s and single addresses have no network or broadcast address.
        let subnets = skipNetworkAndBroadcast ? blocks.filter { $0.prefix < 31 } : []
        let edges = subnets.flatMap { [IPv4Range(first: $0.range.first, last: $0.range.first), IPv4Range(first: $0.range.last, last: $0.range.last)] }
        var excluded: [IPv4Range] = []
        for spec in exclude {
            excluded.append(try Self.parse(spec, what: "exclude").range)
        }
        let withoutExcluded = Self.subtract(Self.merge(blocks.map(\.range)), Self.merge(excluded))
        // An edge of one entry that another entry names as a host of its own (a /32, or the
        // inside of a larger block) stays in: only edges no entry scans as a host are left out.
        let insides = blocks.map { block in
            skipNetworkAndBroadcast && block.prefix < 31 ? IPv4Range(first: block.range.first + 1, last: block.range.last - 1) : block.range
        }
        let left = Self.subtract(Self.merge(edges), Self.merge(insides))
        let ranges = Self.subtract(withoutExcluded, left)
        let count = ranges.reduce(0) { $0 + $1.count }
        if count > maxSize, !allowLarge {
            throw AgentError.config(
                "scope: \(count) addresses is more than maxScopeSize \(maxSize); narrow the scope or allow a large scope explicitly")
        }
        self.ranges = ranges
        self.count = count
        self.scopeSpecs = scope
        self.excludeSpecs = exclude
        // What was left out and would otherwise have been scanned (an excluded edge is not news).
        self.skipped = left.flatMap { range in (range.first...range.last).map(IPv4Address.init) }
            .filter { Self.search(withoutExcluded, $0.value) }
    }

    /// An empty scope: scans nothing.
    public static let empty = try! Scope(scope: [])

    /// The gate: true when `address` is in scope and not excluded.
    public func contains(_ address: IPv4Address) -> Bool { Self.search(ranges, address.value) }

    /// Binary search of sorted, disjoint ranges.
    static func search(_ ranges: [IPv4Range], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let range = ranges[mid]
            if value < range.first { high = mid - 1 }
            else if value > range.last { low = mid + 1 }
            else { return true }
        }
        return false
    }

    /// The addresses in ascending order, produced lazily.
    public var addresses: Addresses { Addresses(ranges: ranges) }

    public struct Addresses: Sequence, Sendable {
        let ranges: [IPv4Range]

        public func makeIterator() -> Iterator { Iterator(ranges: ranges) }

        public struct Iterator: IteratorProtocol, Sendable {
            let ranges: [IPv4Range]
            var rangeIndex = 0
            var cursor: UInt64

            init(ranges: [IPv4Range]) {
                self.ranges = ranges
                cursor = ranges.first.map { UInt64($0.first) } ?? 0
            }

            public mutating func next() -> IPv4Address? {
                while rangeIndex < ranges.count {
                    let range = ranges[rangeIndex]
                    if cursor <= UInt64(range.last) {
                        defer { cursor += 1 }
                        return IPv4Address(UInt32(cursor))
                    }
                    rangeIndex += 1
                    if rangeIndex < ranges.count { cursor = UInt64(ranges[rangeIndex].first) }
                }
                return nil
            }
        }
    }

    /// The addresses in a pseudo-random order, produced lazily: a full-period linear
    /// congruential sequence over the next power of two (Hull–Dobell: c odd, a ≡ 1 mod 4),
    /// skipping indexes past the end. Like masscan's order, it spreads a scan over hosts and
    /// subnets, so that a dead block does not arrive all at once.
    public func shuffledAddresses(seed: UInt64) -> ShuffledAddresses { ShuffledAddresses(ranges: ranges, count: count, seed: seed) }

    public struct ShuffledAddresses: Sequence, Sendable {
        let ranges: [IPv4Range]
        let count: Int
        let seed: UInt64

        public func makeIterator() -> Iterator { Iterator(ranges: ranges, count: count, seed: seed) }

        public struct Iterator: IteratorProtocol, Sendable {
            let ranges: [IPv4Range]
            /// Index of the first address of each range.
            let starts: [UInt64]
            let count: UInt64
            let mask: UInt64
            let a: UInt64
            let c: UInt64
            var x: UInt64
            var emitted: UInt64 = 0

            init(ranges: [IPv4Range], count: Int, seed: UInt64) {
                self.ranges = ranges
                var starts: [UInt64] = []
                var total: UInt64 = 0
                for range in ranges {
                    starts.append(total)
                    total += UInt64(range.count)
                }
                self.starts = starts
                self.count = UInt64(count)
                var m: UInt64 = 1
                while m < self.count { m <<= 1 }
                mask = m - 1
                var z = seed
                func mix() -> UInt64 {
                    z &+= 0x9E37_79B9_7F4A_7C15
                    var r = z
                    r = (r ^ (r >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    r = (r ^ (r >> 27)) &* 0x94D0_49BB_1331_11EB
                    return r ^ (r >> 31)
                }
                a = ((mix() & mask) & ~3) | 1
                c = (mix() | 1) & mask
                x = mix() & mask
            }

            public mutating func next() -> IPv4Address? {
                while emitted < count {
                    x = (a &* x &+ c) & mask
                    if x < count {
                        emitted += 1
                        return address(at: x)
                    }
                }
                return nil
            }

            private func address(at index: UInt64) -> IPv4Address {
                var low = 0
                var high = starts.count - 1
                while low < high {
                    let mid = (low + high + 1) / 2
                    if starts[mid] <= index { low = mid } else { high = mid - 1 }
                }
                return IPv4Address(ranges[low].first + UInt32(index - starts[low]))
            }
        }
    }

    // MARK: - Parsing

    struct Block {
        var range: IPv4Range
        var prefix: Int
    }

    /// `a.b.c.d` or `a.b.c.d/n`. Host bits after the prefix are ignored, as nmap does.
    static func parse(_ raw: String, what: String) throws(AgentError) -> Block {
        let spec = raw.trimmedSpaces()
        guard !spec.isEmpty, spec.utf8.count <= 64 else { throw AgentError.config("\(what): empty or overlong entry") }
        if spec.contains(":") {
            throw AgentError.config("\(what): \(Self.printable(spec)) is IPv6; only IPv4 addresses and CIDRs are supported for now")
        }
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(String(parts[0])) else {
            throw AgentError.config("\(what): \(Self.printable(spec)) is not an IPv4 address or CIDR (like 198.18.0.0/24)")
        }
        var prefix = 32
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 2, digits.allSatisfy(\.isASCII), let n = Int(digits), (0...32).contains(n) else {
                throw AgentError.config("\(what): \(Self.printable(spec)) has an invalid prefix length (0-32)")
            }
            prefix = n
        }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix)
        let first = address.value & mask
        let last = first | ~mask
        return Block(range: IPv4Range(first: first, last: last), prefix: prefix)
    }

    private static func printable(_ text: String) -> String {
        "'" + Evidence.sanitize(text, maxLength: 64) + "'"
    }

    /// Sorts and merges overlapping or adjacent ranges.
    static func merge(_ ranges: [IPv4Range]) -> [IPv4Range] {
        let sorted = ranges.sorted { $0.first < $1.first }
        var out: [IPv4Range] = []
        for range in sorted {
            if let last = out.last, UInt64(range.first) <= UInt64(last.last) + 1 {
                out[out.count - 1].last = max(last.last, range.last)
            } else {
                out.append(range)
            }
        }
        return out
    }

    /// `included` minus `excluded`, both merged.
    static func subtract(_ included: [IPv4Range], _ excluded: [IPv4Range]) -> [IPv4Range] {
        var out: [IPv4Range] = []
        var j = 0
        for range in included {
            var start = UInt64(range.first)
            let end = UInt64(range.last)
            while j < excluded.count, UInt64(excluded[j].last) < start { j += 1 }
            var k = j
            while start <= end, k < excluded.count, UInt64(excluded[k].first) <= end {
                let cut = excluded[k]
                if UInt64(cut.first) > start { out.append(IPv4Range(first: UInt32(start), last: cut.first - 1)) }
                start = max(start, UInt64(cut.last) + 1)
                k += 1
            }
            if start <= end { out.append(IPv4Range(first: UInt32(start), last: UInt32(end))) }
        }
        return out
    }
}

extension String {
    fileprivate func trimmedSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
