/// A parsed JSON value, for walking documents whose shape varies (nft's JSON).
enum NftJSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([NftJSON])
    case object([String: NftJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([NftJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: NftJSON].self))
        }
    }

    subscript(key: String) -> NftJSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var int: Int? {
        if case .number(let value) = self, value.rounded() == value, abs(value) < 1e15 { return Int(value) }
        return nil
    }

    var array: [NftJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The single key of a one-key object (`{"drop": null}` -> `drop`) and its value.
    var soleEntry: (key: String, value: NftJSON)? {
        if case .object(let object) = self, object.count == 1, let entry = object.first { return (entry.key, entry.value) }
        return nil
    }
}
