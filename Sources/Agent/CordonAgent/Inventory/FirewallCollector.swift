import CordonShared
import Foundation

/// Reads the nftables ruleset as JSON and decides, for each worm port, whether new connections
/// are blocked inbound (hook input), forwarded (hook forward) and outbound (hook output).
/// See `NftVerdictEvaluator` for the model.
///
/// Unprivileged: listing the ruleset needs CAP_NET_ADMIN, so the section is unavailable with
/// that reason, and nft is not run at all. The ruleset belongs to the running kernel, so with a
/// root other than `/` only an injected ruleset file is evaluated.
public enum FirewallCollector {
    /// The ports the worms of the catalogue spread through.
    public static let wormPorts: [(transport: String, port: Int)] = [
        ("tcp", 135), ("tcp", 139), ("tcp", 445), ("tcp", 593),
        ("udp", 135), ("udp", 137), ("udp", 138), ("udp", 445),
    ]

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<FirewallInventory> {
        let limits = context.limits
        let data: Data
        switch context.ruleset {
        case .file(let path):
            switch RootedFileSystem(root: "/").read(path, maxBytes: limits.maxFileBytes) {
            case .success(let contents):
                guard !contents.truncated else {
                    return .unavailable(reason: "ruleset \(path) larger than \(limits.maxFileBytes) bytes")
                }
                data = contents.data
            case .failure(let error):
                return .unavailable(reason: "ruleset \(path): \(error)")
            }
        case .nft:
            guard context.isLiveRoot else {
                return .unavailable(reason: "the nftables ruleset belongs to the running system, not to \(context.root)")
            }
            guard context.isRoot else {
                return .unavailable(reason: "not root: listing the nftables ruleset needs CAP_NET_ADMIN")
            }
            guard let nft = context.commandRunner.locate("nft") else {
                return .unavailable(reason: "nft not installed")
            }
            let result = context.commandRunner.run(
                nft, arguments: ["-j", "list", "ruleset"], timeout: limits.commandTimeout,
                outputLimit: limits.maxCommandOutputBytes
            )
            guard result.termination == .exited(0), !result.outputTruncated else {
                let summary = result.outputTruncated ? "output larger than \(limits.maxCommandOutputBytes) bytes" : result.failureSummary
                return .unavailable(reason: "nft -j list ruleset: \(summary)")
            }
            data = result.standardOutput
        }
        return evaluate(data)
    }

    /// Evaluates `nft -j list ruleset` output.
    static func evaluate(_ data: Data) -> InventorySection<FirewallInventory> {
        let ruleset: NftRuleset
        switch NftRuleset.parse(data) {
        case .success(let value): ruleset = value
        case .failure(let error): return .unavailable(reason: error.description)
        }
        let evaluator = NftVerdictEvaluator(ruleset: ruleset)
        let ports = wormPorts.map { entry in
            WormPortFilter(
                transport: entry.transport, port: entry.port,
                inbound: evaluator.verdict(transport: entry.transport, port: entry.port, hook: "input"),
                forwarded: evaluator.verdict(transport: entry.transport, port: entry.port, hook: "forward"),
                outbound: evaluator.verdict(transport: entry.transport, port: entry.port, hook: "output")
            )
        }
        let tables = ruleset.tables.map { table in
            FirewallTableSummary(
                family: table.family, name: table.name,
                chains: ruleset.chains.filter { $0.family == table.family && $0.table == table.name }.map { chain in
                    guard let hook = chain.hook else { return chain.name }
                    return "\(chain.name) (\(chain.type ?? "filter") hook \(hook), priority \(chain.priority), policy \(chain.policy ?? "accept"))"
                }
            )
        }
        var notes: [String] = []
        let ignoredFamilies = Set(ruleset.chains.filter { $0.hook != nil && ["netdev", "bridge"].contains($0.family) }.map(\.family))
        if !ignoredFamilies.isEmpty {
            notes.append("base chains of family \(ignoredFamilies.sorted().joined(separator: ", ")) not evaluated")
        }
        if ruleset.chains.contains(where: { $0.hook == "prerouting" && ($0.type ?? "filter") == "filter" }) {
            notes.append("prerouting filter chains not evaluated")
        }
        return .ok(FirewallInventory(
            tables: tables,
            cordonTablePresent: ruleset.tables.contains { $0.family == "inet" && $0.name == "cordon" },
            wormPorts: ports, skippedObjects: ruleset.skipped, notes: notes
        ))
    }
}
