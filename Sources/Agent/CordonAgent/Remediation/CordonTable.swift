import CordonShared
import Foundation

/// Cordon's nftables table, `inet cordon`: four port sets and two base chains that drop what
/// they name, ahead of the usual filter chains (priority filter - 10, policy accept, so that
/// nothing else is affected):
///
/// ```
/// table inet cordon {
///     set in_tcp { type inet_service; elements = { 135, 445 } }     # and in_udp, out_tcp, out_udp
///     chain input  { type filter hook input  priority filter - 10; policy accept;
///                    tcp dport @in_tcp counter drop comment "cordon"; udp dport @in_udp counter drop comment "cordon" }
///     chain output { type filter hook output priority filter - 10; policy accept;
///                    tcp dport @out_tcp counter drop comment "cordon"; udp dport @out_udp counter drop comment "cordon" }
/// }
/// ```
enum CordonTable {
    static let family = "inet"
    static let name = "cordon"
    static let setNames = ["in_tcp", "in_udp", "out_tcp", "out_udp"]
    static let chainNames = ["input", "output"]

    /// One nft transaction that replaces the table with exactly `sets` (or deletes it when they
    /// are empty): `table` first so that `delete` never fails on a missing table.
    static func script(_ sets: CordonPortSets) -> String {
        var lines = ["table inet cordon", "delete table inet cordon"]
        guard !sets.isEmpty else { return lines.joined(separator: "\n") + "\n" }
        func set(_ name: String, _ ports: [Int]) -> String {
            let elements = ports.isEmpty ? "" : "\n\t\telements = { \(ports.map(String.init).joined(separator: ", ")) }"
            return "\tset \(name) {\n\t\ttype inet_service\(elements)\n\t}"
        }
        func chain(_ name: String, _ hook: String, _ tcpSet: String, _ udpSet: String) -> String {
            """
            \tchain \(name) {
            \t\ttype filter hook \(hook) priority filter - 10; policy accept;
            \t\ttcp dport @\(tcpSet) counter drop comment "cordon"
            \t\tudp dport @\(udpSet) counter drop comment "cordon"
            \t}
            """
        }
        lines.append("table inet cordon {")
        lines.append("\tcomment \"Cordon worm containment: managed by cordon-agent\"")
        lines.append(set("in_tcp", sets.inboundTCP))
        lines.append(set("in_udp", sets.inboundUDP))
        lines.append(set("out_tcp", sets.outboundTCP))
        lines.append(set("out_udp", sets.outboundUDP))
        lines.append(chain("input", "input", "in_tcp", "in_udp"))
        lines.append(chain("output", "output", "out_tcp", "out_udp"))
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    enum ParseError: Error, CustomStringConvertible {
        case invalid(String)
        var description: String {
            switch self {
            case .invalid(let why): "nft -j list table inet cordon: \(why)"
            }
        }
    }

    /// Reads `nft -j list table inet cordon` output: the ports in Cordon's sets, and what else
    /// is in the table.
    static func parse(_ json: Data) throws -> CordonTableSnapshot {
        let document: NftJSON
        do { document = try JSONDecoder().decode(NftJSON.self, from: json) } catch {
            throw ParseError.invalid("not JSON (\(String(describing: error).prefix(120)))")
        }
        guard let objects = document["nftables"]?.array else { throw ParseError.invalid("no top-level \"nftables\" array") }
        var ports: [String: [Int]] = [:]
        var foreign: [String] = []
        var chainsSeen: [String: String] = [:]
        for object in objects {
            guard let (kind, body) = object.soleEntry else { continue }
            guard body["family"]?.string == nil || body["family"]?.string == family else { continue }
            let table = body["table"]?.string
            switch kind {
            case "set":
                guard table == name, let setName = body["name"]?.string else { continue }
                guard setNames.contains(setName), body["type"]?.string == "inet_service" else {
                    foreign.append("set \(setName.prefix(40))")
                    continue
                }
                var values: [Int] = []
                for element in body["elem"]?.array ?? [] {
                    if let port = element.int {
                        values.append(port)
                    } else if let range = element["range"]?.array, range.count == 2, let low = range[0].int, let high = range[1].int,
                              low <= high, high - low < 65536 {
                        values.append(contentsOf: low...high)
                    } else {
                        throw ParseError.invalid("set \(setName) has an element that is not a port")
                    }
                }
                ports[setName] = values
            case "chain":
                guard table == name, let chainName = body["name"]?.string else { continue }
                if chainNames.contains(chainName) {
                    chainsSeen[chainName] = body["hook"]?.string ?? ""
                } else {
                    foreign.append("chain \(chainName.prefix(40))")
                }
            case "map", "flowtable", "counter", "quota", "limit", "ct helper", "secmark", "synproxy":
                if table == name { foreign.append("\(kind) \((body["name"]?.string ?? "?").prefix(40))") }
            default:
                continue
            }
        }
        for (chain, hook) in chainsSeen.sorted(by: { $0.key < $1.key }) where hook != chain {
            foreign.append("chain \(chain) on hook \(hook.isEmpty ? "none" : hook)")
        }
        let sets = CordonPortSets(inboundTCP: ports["in_tcp"] ?? [], inboundUDP: ports["in_udp"] ?? [],
                                  outboundTCP: ports["out_tcp"] ?? [], outboundUDP: ports["out_udp"] ?? [])
        return CordonTableSnapshot(sets: sets, json: json, foreign: foreign)
    }
}

/// The table on the real host, through nft.
public struct LiveCordonFirewall: CordonFirewall {
    public var runner: any RemediationCommandRunner

    public init(runner: any RemediationCommandRunner = RemediationProcessRunner()) {
        self.runner = runner
    }

    private func nft() throws -> String {
        guard let tool = runner.locate("nft") else { throw AgentError.remediation("nft is not installed (package nftables)") }
        return tool
    }

    public func read() throws -> CordonTableSnapshot? {
        let result = runner.run(try nft(), arguments: ["-j", "list", "table", "inet", "cordon"], timeout: .seconds(30), outputLimit: 16 << 20)
        switch result.termination {
        case .exited(0):
            do { return try CordonTable.parse(result.standardOutput) } catch { throw AgentError.remediation("\(error)") }
        case .exited(1) where String(decoding: result.standardError, as: UTF8.self).contains("No such file or directory"):
            return nil
        default:
            throw AgentError.remediation("nft -j list table inet cordon: \(result.failureSummary)")
        }
    }

    public func apply(_ sets: CordonPortSets) throws {
        let script = CordonTable.script(sets)
        let result = runner.run(try nft(), arguments: ["-f", "-"], input: Array(script.utf8), timeout: .seconds(30), outputLimit: 1 << 20)
        guard result.termination == .exited(0) else {
            throw AgentError.remediation("nft -f - did not apply the table inet cordon: \(result.failureSummary)")
        }
    }
}
