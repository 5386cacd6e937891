import Foundation
import Yams

/// Loads YAML config files strictly: unknown keys are errors (a typo must not silently fall
/// back to a default), and every error names the file and the key.
public enum ConfigFile {
    /// Reads and decodes `path` as `T`, after checking every mapping key against `schema`.
    public static func load<T: Decodable>(_ type: T.Type, path: String, schema: ConfigSchema) throws -> T {
        let text: String
        do { text = try SecureFile.readString(path, limit: 1 << 20) } catch let error as CordonError {
            throw CordonError.invalidArgument("cannot read config \(path): \(error.reason)")
        }
        return try decode(type, yaml: text, origin: path, schema: schema)
    }

    public static func decode<T: Decodable>(_ type: T.Type, yaml: String, origin: String, schema: ConfigSchema) throws -> T {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            throw CordonError.invalidArgument("\(origin): not valid YAML: \(error)")
        }
        guard let node else { throw CordonError.invalidArgument("\(origin): the file is empty") }
        try schema.check(node, path: "", origin: origin)
        do {
            return try YAMLDecoder().decode(type, from: node)
        } catch {
            throw CordonError.invalidArgument("\(origin): \(CordonJSON.describe(error))")
        }
    }
}

/// The keys a config file may have, nested.
public indirect enum ConfigSchema: Sendable {
    /// A mapping with these keys (each with its own schema).
    case mapping([String: ConfigSchema])
    /// A list whose elements follow the schema.
    case list(ConfigSchema)
    /// A mapping whose keys are free (names) and whose values follow the schema.
    case dictionary(ConfigSchema)
    /// Any scalar (type checked by the decoder).
    case scalar
    /// Anything (checked by the decoder only).
    case any

    func check(_ node: Node, path: String, origin: String) throws {
        switch (self, node) {
        case (.mapping(let keys), .mapping(let mapping)):
            for (key, value) in mapping {
                let name = key.string ?? "?"
                let here = path.isEmpty ? name : "\(path).\(name)"
                guard let child = keys[name] else {
                    let known = keys.keys.sorted().joined(separator: ", ")
                    throw CordonError.invalidArgument("\(origin): unknown key '\(here)' (known keys\(path.isEmpty ? "" : " in '\(path)'"): \(known))")
                }
                try child.check(value, path: here, origin: origin)
            }
        case (.mapping, _):
            throw CordonError.invalidArgument("\(origin): '\(path.isEmpty ? "(top level)" : path)' must be a mapping")
        case (.list(let element), .sequence(let sequence)):
            for (index, value) in sequence.enumerated() { try element.check(value, path: "\(path)[\(index)]", origin: origin) }
        case (.list, _):
            throw CordonError.invalidArgument("\(origin): '\(path)' must be a list")
        case (.dictionary(let value), .mapping(let mapping)):
            for (key, child) in mapping { try value.check(child, path: "\(path).\(key.string ?? "?")", origin: origin) }
        case (.dictionary, _):
            throw CordonError.invalidArgument("\(origin): '\(path)' must be a mapping")
        case (.scalar, .scalar):
            return
        case (.scalar, _):
            throw CordonError.invalidArgument("\(origin): '\(path)' must be a single value")
        case (.any, _):
            return
        }
    }
}

/// A duration in a config file: `30s`, `5m`, `1h`, or seconds as a number.
public struct ConfigDuration: Codable, Sendable, Equatable {
    public var seconds: Double
    public init(seconds: Double) { self.seconds = seconds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            seconds = number
        } else {
            let text = try container.decode(String.self)
            guard let parsed = HumanDuration.seconds(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text.prefix(30).debugDescription) is not a duration (like 30s, 5m, 1h, 7d)")
            }
            seconds = parsed
        }
        guard seconds >= 0 else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "a duration cannot be negative") }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(HumanDuration.format(seconds))
    }
}

/// A size in a config file: `16MiB`, `64 MiB`, or bytes as a number.
public struct ConfigByteSize: Codable, Sendable, Equatable {
    public var bytes: Int
    public init(bytes: Int) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            bytes = number
        } else {
            let text = try container.decode(String.self)
            guard let parsed = ByteSize.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text.prefix(30).debugDescription) is not a size (like 16MiB)")
            }
            bytes = parsed
        }
        guard bytes >= 0 else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "a size cannot be negative") }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ByteSize.format(bytes))
    }
}
