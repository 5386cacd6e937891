import CordonShared
import Testing
@testable import CordonAgent

@Suite struct ScanScopeTests {
    func addresses(_ scope: Scope) -> [String] { scope.addresses.map(\.description) }

    @Test func singleAddressesAndCIDRs() throws {
        let one = try Scope(scope: ["198.18.0.7"])
        #expect(one.count == 1)
        #expect(addresses(one) == ["198.18.0.7"])
        // Every address of a CIDR, the first and last too, as nmap does.
        let c = try Scope(scope: ["198.18.1.0/24"])
        #expect(c.count == 256)
        #expect(c.skipped.isEmpty)
        #expect(c.contains(IPv4Address("198.18.1.0")!) && c.contains(IPv4Address("198.18.1.255")!))
        // A slice of a larger subnet: .20 is a host like the others (it was never probed).
        #expect(addresses(try Scope(scope: ["198.19.5.20/30"])) == ["198.19.5.20", "198.19.5.21", "198.19.5.22", "198.19.5.23"])
        #expect(addresses(try Scope(scope: ["198.18.2.4/31"])) == ["198.18.2.4", "198.18.2.5"])
        #expect(addresses(try Scope(scope: ["198.18.2.4/32"])) == ["198.18.2.4"])
        // Host bits are ignored, as nmap does.
        #expect(try Scope(scope: ["198.18.3.77/24"]).ranges == Scope(scope: ["198.18.3.0/24"]).ranges)
    }

    @Test func wholeSubnetsLeaveOutNetworkAndBroadcastAndSaySo() throws {
        let c = try Scope(scope: ["198.18.1.0/24"], skipNetworkAndBroadcast: true)
        #expect(c.count == 254)
        #expect(Array(c.addresses).first?.description == "198.18.1.1")
        #expect(Array(c.addresses).last?.description == "198.18.1.254")
        #expect(!c.contains(IPv4Address("198.18.1.0")!) && !c.contains(IPv4Address("198.18.1.255")!))
        #expect(c.skipped.map(\.description) == ["198.18.1.0", "198.18.1.255"])
        // /31 and /32 have neither (RFC 3021).
        let small = try Scope(scope: ["198.18.2.4/31", "198.18.2.9"], skipNetworkAndBroadcast: true)
        #expect(addresses(small) == ["198.18.2.4", "198.18.2.5", "198.18.2.9"])
        #expect(small.skipped.isEmpty)
        #expect(addresses(try Scope(scope: ["198.18.2.4/30"], skipNetworkAndBroadcast: true)) == ["198.18.2.5", "198.18.2.6"])
        // An edge that another entry scans as a host stays in: .128 (first of the /25) is
        // inside the /24, and a /32 names .255 itself.
        let nested = try Scope(scope: ["198.18.0.0/24", "198.18.0.128/25", "198.18.0.255"], skipNetworkAndBroadcast: true)
        #expect(nested.contains(IPv4Address("198.18.0.128")!))
        #expect(nested.contains(IPv4Address("198.18.0.255")!))
        #expect(nested.skipped.map(\.description) == ["198.18.0.0"])
        #expect(nested.count == 255)
        // An excluded edge is excluded, not "skipped".
        let excluded = try Scope(scope: ["198.18.6.0/24"], exclude: ["198.18.6.0/28"], skipNetworkAndBroadcast: true)
        #expect(excluded.skipped.map(\.description) == ["198.18.6.255"])
        #expect(excluded.count == 256 - 16 - 1)
    }

    @Test func exclusionsAndOverlaps() throws {
        let s = try Scope(scope: ["198.18.0.0/24", "198.18.0.128/25", "198.18.1.1"],
                          exclude: ["198.18.0.10", "198.18.0.64/26", "198.18.1.1"])
        // 256 (the /25 overlaps the /24) - 1 - 64, and the excluded single.
        #expect(s.count == 256 - 1 - 64)
        #expect(!s.contains(IPv4Address("198.18.0.10")!))
        #expect(!s.contains(IPv4Address("198.18.0.64")!))
        #expect(!s.contains(IPv4Address("198.18.0.127")!))
        #expect(s.contains(IPv4Address("198.18.0.128")!))
        #expect(s.contains(IPv4Address("198.18.0.255")!))
        #expect(!s.contains(IPv4Address("198.18.1.1")!))
        #expect(Set(s.addresses.map(\.value)).count == s.count)
        #expect(s.addresses.allSatisfy { s.contains($0) })
        // Everything excluded: nothing to scan.
        let none = try Scope(scope: ["198.18.5.0/30"], exclude: ["198.18.5.0/24"])
        #expect(none.count == 0)
        #expect(Array(none.addresses).isEmpty)
    }

    @Test func emptyScopeScansNothing() throws {
        let s = try Scope(scope: [])
        #expect(s.count == 0)
        #expect(Array(s.addresses).isEmpty)
        #expect(!s.contains(IPv4Address(127, 0, 0, 1)))
    }

    @Test(arguments: ["2001:db8::/32", "::1", "fe80::1%eth0"])
    func ipv6IsRefusedClearly(_ spec: String) {
        #expect {
            _ = try Scope(scope: [spec])
        } throws: { error in
            (error as? AgentError) == .config && "\(error)".contains("IPv6")
        }
    }

    @Test(arguments: ["", "host.example", "198.18.0.0/33", "198.18.0/24", "198.18.0.256", "198.18.0.0/", "198.18.0.0/2x",
                      "198.18.0.0/24/1", "1.2.3.4 5", "-1.0.0.0"])
    func garbageIsRefused(_ spec: String) {
        #expect(throws: AgentError.config) { _ = try Scope(scope: [spec]) }
        #expect(throws: AgentError.config) { _ = try Scope(scope: ["198.18.0.1"], exclude: [spec]) }
    }

    @Test func sizeLimit() throws {
        #expect(throws: AgentError.config) { _ = try Scope(scope: ["198.18.0.0/15"], maxSize: 65536) }
        let allowed = try Scope(scope: ["198.18.0.0/15"], maxSize: 65536, allowLarge: true)
        #expect(allowed.count == 131_072)
        // The limit counts what would be scanned, after exclusions and skips.
        #expect(try Scope(scope: ["198.18.0.0/15"], exclude: ["198.19.0.0/16"], maxSize: 65536).count == 65536)
        #expect(throws: AgentError.config) { _ = try Scope(scope: ["198.18.0.0/16", "198.20.0.1"], maxSize: 65536) }
        #expect(try Scope(scope: ["198.18.0.0/16", "198.20.0.1"], maxSize: 65536, skipNetworkAndBroadcast: true).count == 65535)
    }

    @Test func aSlashEightIsIteratedLazily() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let s = try Scope(scope: ["127.0.0.0/8"], maxSize: 1, allowLarge: true)
        #expect(s.count == 16_777_216)
        var iterator = s.addresses.makeIterator()
        #expect(iterator.next()?.description == "127.0.0.0")
        #expect(iterator.next()?.description == "127.0.0.1")
        let contains = (0..<100_000).allSatisfy { s.contains(IPv4Address(0x7F00_0001 + UInt32($0))) }
        #expect(contains)
        #expect(clock.now - start < .seconds(1))
        // The whole IPv4 space, too, without overflow at the end.
        let all = try Scope(scope: ["255.255.255.254/31"])
        #expect(addresses(all) == ["255.255.255.254", "255.255.255.255"])
    }

    @Test func mergeAndSubtractAgreeWithASet() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            func spec() -> String {
                let prefix = Int.random(in: 24...32, using: &rng)
                return "198.18.\(Int.random(in: 0...3, using: &rng)).\(Int.random(in: 0...255, using: &rng))/\(prefix)"
            }
            let include = (0..<4).map { _ in spec() }
            let exclude = (0..<3).map { _ in spec() }
            let skip = Bool.random(using: &rng)
            let scope = try Scope(scope: include, exclude: exclude, skipNetworkAndBroadcast: skip)
            // In: what some entry scans as a host (its inside when it is a whole subnet), not
            // excluded. Skipped: an entry's edge that no entry scans as a host, not excluded.
            var hosts = Set<UInt32>(), edges = Set<UInt32>(), excluded = Set<UInt32>()
            for s in include {
                let b = try Scope.parse(s, what: "t")
                if skip && b.prefix < 31 {
                    hosts.formUnion((b.range.first + 1)...(b.range.last - 1))
                    edges.formUnion([b.range.first, b.range.last])
                } else {
                    hosts.formUnion(b.range.first...b.range.last)
                }
            }
            for s in exclude {
                let b = try Scope.parse(s, what: "t")
                excluded.formUnion(b.range.first...b.range.last)
            }
            let expected = hosts.subtracting(excluded)
            #expect(Set(scope.addresses.map(\.value)) == expected, "\(include) - \(exclude), skip \(skip)")
            #expect(scope.count == expected.count)
            #expect(scope.skipped.map(\.value) == edges.subtracting(hosts).subtracting(excluded).sorted(), "\(include) - \(exclude)")
        }
    }
}

@Suite struct ScanShuffledOrderTests {
    @Test(arguments: [["198.18.0.7"], ["198.18.0.0/24"], ["198.18.0.0/22", "198.18.9.1"], ["198.18.2.4/31", "198.18.3.0/29"]])
    func everyAddressExactlyOnce(_ specs: [String]) throws {
        let scope = try Scope(scope: specs, exclude: ["198.18.0.10"])
        for seed in [0, 1, 42, UInt64.max] as [UInt64] {
            let shuffled = Array(scope.shuffledAddresses(seed: seed))
            #expect(shuffled.count == scope.count)
            #expect(Set(shuffled) == Set(scope.addresses))
            #expect(shuffled.allSatisfy { scope.contains($0) })
        }
    }

    @Test func theOrderIsSpreadAndDependsOnTheSeed() throws {
        let scope = try Scope(scope: ["198.18.0.0/23"])
        let a = Array(scope.shuffledAddresses(seed: 1))
        let b = Array(scope.shuffledAddresses(seed: 2))
        #expect(a != Array(scope.addresses))
        #expect(a != b)
        // The second /24 is not all at the end: it shows up in the first quarter.
        let firstQuarter = a.prefix(a.count / 4)
        #expect(firstQuarter.contains { $0.value >= IPv4Address(198, 18, 1, 0).value })
        #expect(Array(scope.shuffledAddresses(seed: 1)) == a)
        #expect(Array(try Scope(scope: []).shuffledAddresses(seed: 9)).isEmpty)
    }
}
