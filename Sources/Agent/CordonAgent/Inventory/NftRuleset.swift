import Foundation

/// The parts of `nft -j list ruleset` output that decide what happens to a new connection:
/// tables, chains (with hook, priority and policy), rules (expressions in order) and sets.
struct NftRuleset: Sendable {
    struct Table: Equatable, Sendable {
        var family: String
        var name: String
    }

    struct Chain: Sendable {
        var family: String
        var table: String
        var name: String
        var type: String?
        var hook: String?
        var priority: Int
        var policy: String?
        var rules: [Rule] = []

        var isBaseChain: Bool { hook != nil }
    }

    struct Rule: Sendable {
        var handle: Int?
        var expressions: [NftJSON]
    }

    /// Set elements by "family table name".
    var sets: [String: [NftJSON]] = [:]
    var tables: [Table] = []
    var chains: [Chain] = []
    /// Objects that could not be interpreted (rules of unknown chains, malformed entries).
    var skipped = 0

    enum ParseError: Error, CustomStringConvertible {
        case invalidJSON(String)
        case notAnNftablesDocument

        var description: String {
            switch self {
            case .invalidJSON(let detail): return "invalid nft JSON: \(detail)"
            case .notAnNftablesDocument: return "not nft JSON: no top-level \"nftables\" array"
            }
        }
    }

    static func key(_ family: String, _ table: String, _ name: String) -> String {
        family + " " + table + " " + name
    }

    static func parse(_ data: Data) -> Result<NftRuleset, ParseError> {
        let document: NftJSON
        do {
            document = try JSONDecoder().decode(NftJSON.self, from: data)
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context):
                return .failure(.invalidJSON(context.underlyingError.map { String(describing: $0) }.map { String($0.prefix(200)) } ?? context.debugDescription))
            default:
                return .failure(.invalidJSON(String(String(describing: error).prefix(200))))
            }
        } catch {
            return .failure(.invalidJSON(String(String(describing: error).prefix(200))))
        }
        guard let objects = document["nftables"]?.array else { return .failure(.notAnNftablesDocument) }

        var ruleset = NftRuleset()
        var chainIndex: [String: Int] = [:]
        var pendingRules: [(key: String, rule: Rule)] = []
        for object in objects {
            guard let (kind, body) = object.soleEntry else {
                ruleset.skipped += 1
                continue
            }
            switch kind {
            case "metainfo":
                continue
            case "table":
                guard let family = body["family"]?.string, let name = body["name"]?.string else {
                    ruleset.skipped += 1
                    continue
                }
                ruleset.tables.append(Table(family: family, name: name))
            case "chain":
                guard let family = body["family"]?.string, let table = body["table"]?.string, let name = body["name"]?.string else {
                    ruleset.skipped += 1
                    continue
                }
                chainIndex[key(family, table, name)] = ruleset.chains.count
                ruleset.chains.append(Chain(
                    family: family, table: table, name: name, type: body["type"]?.string, hook: body["hook"]?.string,
                    priority: body["prio"]?.int ?? 0, policy: body["policy"]?.string
                ))
            case "rule":
                guard let family = body["family"]?.string, let table = body["table"]?.string,
                      let chain = body["chain"]?.string, let expressions = body["expr"]?.array
                else {
                    ruleset.skipped += 1
                    continue
                }
                pendingRules.append((key(family, table, chain), Rule(handle: body["handle"]?.int, expressions: expressions)))
            case "set", "map":
                guard let family = body["family"]?.string, let table = body["table"]?.string, let name = body["name"]?.string else {
                    ruleset.skipped += 1
                    continue
                }
                ruleset.sets[key(family, table, name)] = body["elem"]?.array ?? []
            default:
                continue  // counters, quotas, flowtables, ...: no bearing on the verdict
            }
        }
        for (chainKey, rule) in pendingRules {
            guard let index = chainIndex[chainKey] else {
                ruleset.skipped += 1
                continue
            }
            ruleset.chains[index].rules.append(rule)
        }
        return .success(ruleset)
    }
}
