import CordonCodecs

/// One simulated host: the IPv4 address it binds and its profile.
public struct WormHostSpec: Equatable, Sendable, CustomStringConvertible {
    public var address: IPv4Octets
    public var profile: WormHostProfile

    public init(address: IPv4Octets, profile: WormHostProfile) {
        self.address = address
        self.profile = profile
    }

    /// Parses `ADDRESS=PROFILE` or `ADDRESS=PROFILE:NAME` (`127.0.1.5=wannacry`,
    /// `198.18.1.30=conficker:XPCONF1`), with a preset name from ``WormHostProfile/presets``.
    public init(parsing text: String) throws(WormHostError) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .invalidSpec("'\(text.prefix(80))' is not ADDRESS=PROFILE (e.g. 127.0.1.5=wannacry)")
        }
        guard let address = IPv4Octets(String(parts[0])) else {
            throw .invalidSpec("'\(parts[0].prefix(40))' is not an IPv4 address")
        }
        let nameParts = parts[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let profile = WormHostProfile.preset(named: String(nameParts[0])) else {
            throw .invalidSpec("unknown profile '\(nameParts[0].prefix(40))'; presets: \(WormHostProfile.presets.map(\.name).joined(separator: ", "))")
        }
        var chosen = profile
        if nameParts.count == 2 {
            let name = String(nameParts[1])
            guard !name.isEmpty, name.utf8.count <= 15,
                  name.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == UInt8(ascii: "-") })
            else {
                throw .invalidSpec("computer name '\(name.prefix(40))' must be 1-15 letters, digits or '-'")
            }
            chosen = profile.renamed(name)
        }
        try Self.checkAddress(address)
        self.init(address: address, profile: chosen)
    }

    /// Only loopback (127.0.0.0/8) and the benchmarking range (198.18.0.0/15) are served: the
    /// simulated hosts are for the demo and the lab, never for a real network.
    public static func checkAddress(_ address: IPv4Octets) throws(WormHostError) {
        let b = address.bytes
        let loopback = b[0] == 127
        let benchmarking = b[0] == 198 && (b[1] == 18 || b[1] == 19)
        guard loopback || benchmarking else {
            throw .invalidSpec("\(address) is outside 127.0.0.0/8 and 198.18.0.0/15; simulated hosts only serve those")
        }
    }

    public var description: String { "\(address)=\(profile.name)" }
}

extension WormHostSpec {
    /// One host per profile on consecutive addresses of a /24 (`127.0.N.10`, `.11`, ...), each
    /// renamed after its address so that a fleet's hosts can be told apart in reports. For
    /// `cordon demo`: `WormHostSpec.lineup(network: IPv4Octets(127, 0, 1, 0))`.
    public static func lineup(network: IPv4Octets, firstHost: UInt8 = 10,
                              profiles: [WormHostProfile] = WormHostProfile.presets) -> [WormHostSpec] {
        let base = network.bytes
        return profiles.prefix(max(0, 255 - Int(firstHost))).enumerated().map { index, profile in
            let host = firstHost + UInt8(index)
            let address = IPv4Octets(base[0], base[1], base[2], host)
            let name = String("\(profile.name.uppercased().filter { $0.isLetter || $0.isNumber }.prefix(11))-\(host)")
            return WormHostSpec(address: address, profile: profile.renamed(name))
        }
    }
}
