@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

/// Every `--json` output of both CLIs is made of objects with string keys. A Swift dictionary
/// keyed by an enum encodes as a flat array of alternating keys and values
/// (`"agents": ["online", 1]`) unless the key type is `CodingKeyRepresentable`; that is useless
/// to `jq` and to every other program, so no output type may contain one.
///
/// The test walks each output type without hand-written samples: a decoder that invents values
/// visits every stored property, nested type, array element and optional, and records the key
/// type of every dictionary it meets. The invented value is then encoded as the CLI would and
/// its JSON checked for alternating key/value arrays as well.
@Suite struct JSONOutputShapeTests {
    /// The types that `cordon ... --json` and `cordon-agent ... --json` print (see the
    /// `printJSON` and `printAgentJSON` calls). A new `--json` output belongs here.
    static var outputTypes: [(String, any Codable.Type)] { [
        // cordon
        ("cordon status", FleetStatus.self),
        ("cordon agents list", [AgentSummary].self),
        ("cordon agents show", AgentDetail.self),
        ("cordon agents revoke", RevokeResponse.self),
        ("cordon tokens create", TokenCreateResponse.self),
        ("cordon segments list", [SegmentView].self),
        ("cordon audit", [AuditEntry].self),
        ("cordon plan", SegmentPlan.self),
        ("cordon hosts", [HostView].self),
        ("cordon findings", [FindingView].self),
        ("cordon inventory", InventoryView.self),
        ("cordon changes", [ChangeView].self),
        ("cordon tasks show/push/wait/cancel/approve", TaskView.self),
        ("cordon tasks list", [TaskView].self),
        ("cordon secrets show", [SecretView].self),
        ("cordon rollout plan/apply", RolloutReport.self),
        ("cordon rollout status", RolloutStatus.self),
        // cordon-agent
        ("cordon-agent status", AgentStatusCommand.Output.self),
        ("cordon-agent enroll", EnrollmentRecord.self),
        ("cordon-agent scan", ScanReport.self),
        ("cordon-agent inventory", InventoryReport.self),
        ("cordon-agent apply", ApplyReport.self),
        ("cordon-agent restore", ActionResult.self),
        ("cordon-agent backups", [BackupRecord].self),
    ] }

    @Test(arguments: outputTypes.map(\.0))
    func everyJSONOutputIsObjectsWithStringKeys(command: String) throws {
        let type = try #require(Self.outputTypes.first { $0.0 == command }?.1)
        let walk = SampleWalk()
        let value = try walk.make(type, path: command)
        #expect(walk.badDictionaries.isEmpty, "\(command): dictionaries whose keys encode as an array: \(walk.badDictionaries)")

        let encoded = try CordonJSON.encode(AnyEncodable(value), pretty: true)
        let json = try JSONSerialization.jsonObject(with: encoded, options: [.fragmentsAllowed])
        let flat = Self.alternatingArrays(in: json, path: command)
        #expect(flat.isEmpty, "\(command): arrays of alternating keys and values at \(flat)")
    }

    /// The checker itself: it finds the shape the bug produced.
    @Test func theCheckerFindsAlternatingKeyValueArrays() throws {
        enum Bad: String, Codable, CaseIterable { case online, late }
        struct Broken: Codable { var agents: [Bad: Int] }
        let walk = SampleWalk()
        _ = try walk.make(Broken.self, path: "broken")
        #expect(walk.badDictionaries.count == 1)

        let encoded = try CordonJSON.encode(Broken(agents: [.online: 1, .late: 2]))
        let json = try JSONSerialization.jsonObject(with: encoded)
        #expect(!Self.alternatingArrays(in: json, path: "broken").isEmpty)

        let fixed = try CordonJSON.encode(SegmentStatus(name: "dmz", agents: [.online: 1, .late: 2], lastReportAt: nil, spoolDropped: 0,
                                                        jumpHostFindings: [.medium: 3, .high: 1]))
        let object = try #require(try JSONSerialization.jsonObject(with: fixed) as? [String: Any])
        #expect((object["agents"] as? [String: Int]) == ["online": 1, "late": 2])
        #expect((object["jumpHostFindings"] as? [String: Int]) == ["medium": 3, "high": 1])
        #expect(try CordonJSON.decode(SegmentStatus.self, from: fixed).count(.late) == 2)
    }

    /// Arrays whose elements are not all of one JSON kind (strings and numbers mixed, say):
    /// Cordon has no such array on purpose, and an enum-keyed dictionary makes exactly that.
    static func alternatingArrays(in json: Any, path: String) -> [String] {
        switch json {
        case let object as [String: Any]:
            return object.sorted { $0.key < $1.key }.flatMap { alternatingArrays(in: $0.value, path: path + "." + $0.key) }
        case let array as [Any]:
            let kinds = Set(array.map(kind))
            let mine = kinds.count > 1 ? [path] : []
            return mine + array.enumerated().flatMap { alternatingArrays(in: $0.element, path: path + "[\($0.offset)]") }
        default:
            return []
        }
    }

    static func kind(_ value: Any) -> String {
        switch value {
        case is [String: Any]: "object"
        case is [Any]: "array"
        case is String: "string"
        case is NSNull: "null"
        case is NSNumber, is Bool, is Int, is Double: "number"
        default: "other"
        }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

// MARK: - A decoder that invents a value of any Decodable type and notes every dictionary key type

private protocol DictionaryKeyProbe { static var keyType: Any.Type { get } }
extension Dictionary: DictionaryKeyProbe { fileprivate static var keyType: Any.Type { Key.self } }

private func firstCase<C: CaseIterable>(_ type: C.Type) -> Any? { type.allCases.first }

final class SampleWalk {
    private(set) var badDictionaries: [String] = []
    private(set) var dictionariesSeen = 0
    /// Beyond this depth arrays are empty and optionals nil, so recursive types end.
    let maxDepth = 12

    func make<T: Decodable>(_ type: T.Type, path: String, depth: Int = 0) throws -> T {
        if let dictionary = T.self as? any DictionaryKeyProbe.Type {
            dictionariesSeen += 1
            let key = dictionary.keyType
            if key != String.self && key != Int.self && !(key is any CodingKeyRepresentable.Type) {
                badDictionaries.append("\(path): [\(key): …]")
            }
        }
        if T.self == Date.self { return Date(timeIntervalSince1970: 1_790_000_000) as! T }
        if T.self == Data.self { return Data([0x63, 0x6f]) as! T }
        if T.self == URL.self { return URL(string: "https://127.0.0.1:8443")! as! T }
        if T.self == UUID.self { return UUID() as! T }
        if let cases = T.self as? any CaseIterable.Type, let first = firstCase(cases) as? T { return first }
        // An action is a one-key mapping that no invented decoder can spell: take a real one.
        if T.self == TaskAction.self { return TaskAction.blockPorts(tcp: [445], udp: [137], direction: .inbound) as! T }
        // An enum with raw values and no payloads (a one-byte tag, or none for one case) cannot
        // be made from an invented string: its first case is tag 0.
        if T.self is any RawRepresentable.Type, MemoryLayout<T>.size <= 1, !(T.self is any Numeric.Type) {
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
            defer { bytes.deallocate() }
            bytes.storeBytes(of: 0, as: UInt8.self)
            return bytes.load(as: T.self)
        }
        return try T(from: SampleDecoder(walk: self, path: path, depth: depth))
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
}

private struct SampleDecoder: Decoder {
    let walk: SampleWalk
    let path: String
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(SampleKeyed<Key>(walk: walk, path: path, depth: depth))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { SampleUnkeyed(walk: walk, path: path, depth: depth) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { SampleSingle(walk: walk, path: path, depth: depth) }
}

private struct SampleKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let walk: SampleWalk
    let path: String
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    var deep: Bool { depth >= walk.maxDepth }

    func contains(_ key: Key) -> Bool { !deep }
    func decodeNil(forKey key: Key) throws -> Bool { deep }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { true }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { "sample" }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { 1.5 }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { 1.5 }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { 1 }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { 1 }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { 1 }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { 1 }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { 1 }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { 1 }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { 1 }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { 1 }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { 1 }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { 1 }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try walk.make(type, path: path + "." + key.stringValue, depth: depth + 1)
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(SampleKeyed<NestedKey>(walk: walk, path: path + "." + key.stringValue, depth: depth + 1))
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        SampleUnkeyed(walk: walk, path: path + "." + key.stringValue, depth: depth + 1)
    }
    func superDecoder() throws -> any Decoder { SampleDecoder(walk: walk, path: path, depth: depth + 1) }
    func superDecoder(forKey key: Key) throws -> any Decoder { SampleDecoder(walk: walk, path: path + "." + key.stringValue, depth: depth + 1) }
}

private struct SampleUnkeyed: UnkeyedDecodingContainer {
    let walk: SampleWalk
    let path: String
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    /// Two elements: a dictionary of non-string keys decodes from pairs.
    var count: Int? { depth >= walk.maxDepth ? 0 : 2 }
    var isAtEnd: Bool { currentIndex >= (count ?? 0) }
    var currentIndex = 0

    init(walk: SampleWalk, path: String, depth: Int) {
        self.walk = walk
        self.path = path
        self.depth = depth
    }

    mutating func next<T>(_ value: T) -> T { currentIndex += 1; return value }
    mutating func decodeNil() throws -> Bool { false }
    mutating func decode(_ type: Bool.Type) throws -> Bool { next(true) }
    mutating func decode(_ type: String.Type) throws -> String { next("sample\(currentIndex)") }
    mutating func decode(_ type: Double.Type) throws -> Double { next(1.5) }
    mutating func decode(_ type: Float.Type) throws -> Float { next(1.5) }
    mutating func decode(_ type: Int.Type) throws -> Int { next(currentIndex + 1) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { next(1) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { next(1) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { next(1) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { next(1) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { next(1) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { next(1) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { next(1) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { next(1) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { next(1) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try walk.make(type, path: path + "[]", depth: depth + 1)
        return next(value)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        next(KeyedDecodingContainer(SampleKeyed<NestedKey>(walk: walk, path: path + "[]", depth: depth + 1)))
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        next(SampleUnkeyed(walk: walk, path: path + "[]", depth: depth + 1))
    }
    mutating func superDecoder() throws -> any Decoder { next(SampleDecoder(walk: walk, path: path + "[]", depth: depth + 1)) }
}

private struct SampleSingle: SingleValueDecodingContainer {
    let walk: SampleWalk
    let path: String
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { false }
    func decode(_ type: Bool.Type) throws -> Bool { true }
    func decode(_ type: String.Type) throws -> String { "sample" }
    func decode(_ type: Double.Type) throws -> Double { 1.5 }
    func decode(_ type: Float.Type) throws -> Float { 1.5 }
    func decode(_ type: Int.Type) throws -> Int { 1 }
    func decode(_ type: Int8.Type) throws -> Int8 { 1 }
    func decode(_ type: Int16.Type) throws -> Int16 { 1 }
    func decode(_ type: Int32.Type) throws -> Int32 { 1 }
    func decode(_ type: Int64.Type) throws -> Int64 { 1 }
    func decode(_ type: UInt.Type) throws -> UInt { 1 }
    func decode(_ type: UInt8.Type) throws -> UInt8 { 1 }
    func decode(_ type: UInt16.Type) throws -> UInt16 { 1 }
    func decode(_ type: UInt32.Type) throws -> UInt32 { 1 }
    func decode(_ type: UInt64.Type) throws -> UInt64 { 1 }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try walk.make(type, path: path, depth: depth + 1) }
}
