import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct FirewallCollectorTests {
    private func evaluate(_ name: String) throws -> FirewallInventory {
        let path = InventoryFixtures.path("firewall/\(name)")
        return try #require(FirewallCollector.collect(InventoryFixtures.context(root: "/", ruleset: .file(path))).value)
    }

    /// "tcp/445" -> state letters for inbound, forwarded, outbound: B(locked), N(ot), P(artial).
    private func table(_ inventory: FirewallInventory) -> [String: String] {
        func letter(_ verdict: PortFilterVerdict) -> String {
            switch verdict.state {
            case .blocked: return "B"
            case .notBlocked: return "N"
            case .partial: return "P"
            }
        }
        return Dictionary(uniqueKeysWithValues: inventory.wormPorts.map {
            ("\($0.transport)/\($0.port)", letter($0.inbound) + letter($0.forwarded) + letter($0.outbound))
        })
    }

    private func port(_ inventory: FirewallInventory, _ transport: String, _ port: Int) throws -> WormPortFilter {
        try #require(inventory.wormPorts.first { $0.transport == transport && $0.port == port })
    }

    @Test func policyDropBlocksInboundDespiteEstablishedAndLoopbackAccepts() throws {
        let inventory = try evaluate("policy-drop.json")
        #expect(Set(table(inventory).values) == ["BBN"])
        let smb = try port(inventory, "tcp", 445)
        #expect(smb.inbound.evidence == ["inet filter input policy drop"])
        #expect(smb.outbound.evidence == ["inet filter output policy accept"])
        #expect(!inventory.cordonTablePresent)
        #expect(inventory.tables.map(\.name) == ["filter"])
    }

    @Test func cordonTableBlocksEverythingWithNamedSetsAndConcatenations() throws {
        let inventory = try evaluate("cordon.json")
        #expect(inventory.cordonTablePresent)
        #expect(Set(table(inventory).values) == ["BBB"])
        // The drop at priority -10 wins over the accept of 445 in the filter table at priority 0.
        let smb = try port(inventory, "tcp", 445)
        #expect(smb.inbound.evidence == ["inet cordon input handle 6 (drop)"])
        #expect(smb.outbound.evidence == ["inet cordon output handle 10 (reject)"])
        let netbios = try port(inventory, "udp", 138)
        #expect(netbios.inbound.evidence == ["inet cordon input handle 7 (drop)"])  // range 137-138 in @worm_udp
        #expect(netbios.forwarded.evidence == ["inet cordon forward handle 9 (drop)"])
        #expect(inventory.tables.first { $0.name == "cordon" }?.chains.first == "input (filter hook input, priority -10, policy accept)")
    }

    @Test func mixedFamiliesConditionsJumpsAndVerdictMaps() throws {
        let inventory = try evaluate("mixed.json")
        #expect(table(inventory) == [
            // inbound: ip legacy + ip6 legacy6 (no forward chains), outbound: jump + vmap (v4), sets (v6)
            "tcp/135": "BNB",
            "tcp/139": "BNN",  // vmap accepts 139 outbound on IPv4, nothing blocks it on IPv6
            "tcp/445": "PNB",  // iifname "eth0" drop (v4) is conditional; v6 lets it in
            "tcp/593": "PNN",  // saddr-conditional accept before the drop (v4); v6 accepts
            "udp/135": "NNN",
            "udp/137": "BNN",  // reject (v4), th dport range with l4proto set (v6)
            "udp/138": "BNN",
            "udp/445": "PNB",  // only v6 drops inbound
        ])
        let smb = try port(inventory, "tcp", 445)
        #expect(smb.inbound.evidence == [
            "IPv4: ip legacy input handle 6 (drop, conditional)", "IPv4: ip legacy input policy accept",
            "IPv6: ip6 legacy6 input policy accept",
        ])
        let epmap = try port(inventory, "tcp", 593)
        #expect(epmap.inbound.evidence == [
            "IPv4: ip legacy input handle 8 (accept, conditional)", "IPv4: ip legacy input handle 9 (drop)",
            "IPv6: ip6 legacy6 input handle 7 (accept)",
        ])
        let rpc = try port(inventory, "tcp", 135)
        #expect(rpc.outbound.evidence == ["IPv4: ip legacy outbound_worms handle 13 (drop)", "IPv6: ip6 legacy6 output handle 11 (drop)"])
    }

    @Test func conditionalJumpsGotoReturnAndRateLimits() throws {
        let inventory = try evaluate("jumps.json")
        let states = table(inventory)
        // iifname-conditional jump to a chain that drops 445: only some 445 traffic is dropped.
        #expect(states["tcp/445"] == "PNN")
        // goto a chain whose first rule returns for 198.18.0.0/15 (IPv4 only), then drops:
        // IPv4 partial, IPv6 blocked.
        #expect(states["tcp/139"] == "PNN")
        let smb = try port(inventory, "tcp", 139)
        #expect(smb.inbound.evidence.contains("IPv6: inet t smb handle 11 (drop)"))
        // A rate-limited accept before the drop lets some through.
        #expect(states["udp/137"] == "PNN")
        #expect(states["udp/138"] == "NNN")
    }

    @Test func invalidOrTruncatedJSONIsUnavailableNotACrash() throws {
        for name in ["truncated.json", "garbage.json"] {
            let path = InventoryFixtures.path("firewall/\(name)")
            let section = FirewallCollector.collect(InventoryFixtures.context(root: "/", ruleset: .file(path)))
            let reason = try #require(section.unavailableReason, "\(name)")
            #expect(reason.hasPrefix("invalid nft JSON"), "\(name): \(reason)")
        }
        #expect(FirewallCollector.evaluate(Data(#"{"tables":[]}"#.utf8)).unavailableReason == #"not nft JSON: no top-level "nftables" array"#)
        // Well-formed JSON of the wrong shape: odd objects are skipped and counted.
        let odd = try #require(FirewallCollector.evaluate(Data(#"{"nftables":[{"rule":{"family":"inet"}},42,{"chain":{"name":1}},{"rule":{"family":"ip","table":"t","chain":"nochain","expr":[]}}]}"#.utf8)).value)
        #expect(odd.skippedObjects == 4)
        #expect(odd.wormPorts.allSatisfy { $0.inbound.state == .notBlocked })
    }

    @Test func productionRunsNftOnlyAsRootOnTheLiveSystem() throws {
        let output = try Data(contentsOf: URL(fileURLWithPath: InventoryFixtures.path("firewall/cordon.json")))
        let runner = StubInventoryCommandRunner(tools: ["nft": InventoryCommandResult(termination: .exited(0), standardOutput: output)])
        let live = FirewallCollector.collect(InventoryFixtures.context(root: "/", ruleset: .nft, runner: runner))
        #expect(live.value?.cordonTablePresent == true)
        #expect(runner.recordedCalls == [["/stub/bin/nft", "-j", "list", "ruleset"]])

        let unprivileged = StubInventoryCommandRunner(tools: ["nft": InventoryCommandResult(termination: .exited(0), standardOutput: output)])
        let section = FirewallCollector.collect(InventoryFixtures.context(root: "/", isRoot: false, ruleset: .nft, runner: unprivileged))
        #expect(section.unavailableReason == "not root: listing the nftables ruleset needs CAP_NET_ADMIN")
        #expect(unprivileged.recordedCalls.isEmpty)

        let denied = StubInventoryCommandRunner(tools: ["nft": InventoryCommandResult(
            termination: .exited(1), standardOutput: Data(),
            standardError: Data("netlink: Error: cache initialization failed: Operation not permitted\n".utf8)
        )])
        #expect(FirewallCollector.collect(InventoryFixtures.context(root: "/", ruleset: .nft, runner: denied)).unavailableReason
            == "nft -j list ruleset: exit status 1: netlink: Error: cache initialization failed: Operation not permitted")
        #expect(FirewallCollector.collect(InventoryFixtures.context(root: "/", ruleset: .nft)).unavailableReason == "nft not installed")
        #expect(FirewallCollector.collect(InventoryFixtures.context(root: "/srv/image", ruleset: .nft, runner: runner)).unavailableReason?
            .hasPrefix("the nftables ruleset belongs to the running system") == true)
    }
}
