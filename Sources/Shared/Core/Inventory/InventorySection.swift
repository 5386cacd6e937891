/// One section of an inventory report: either the collected data or the reason it could not be collected.
///
/// Encodes as `{"status":"ok","data":...}` or `{"status":"unavailable","reason":"..."}` so that a
/// consumer can tell "nothing there" (an empty `data`) from "could not look" (`unavailable`).
public enum InventorySection<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    /// The section was collected (possibly partially: see the value's own notes).
    case ok(Value)
    /// The section could not be collected at all; `reason` says why (missing file or tool,
    /// permission denied, unparseable output).
    case unavailable(reason: String)

    /// The collected value, or `nil` when the section is unavailable.
    public var value: Value? {
        if case .ok(let value) = self { return value }
        return nil
    }

    /// The reason the section is unavailable, or `nil` when it was collected.
    public var unavailableReason: String? {
        if case .unavailable(let reason) = self { return reason }
        return nil
    }

    private enum CodingKeys: String, CodingKey {
        case status, data, reason
    }

    private enum Status: String, Codable {
        case ok, unavailable
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Status.self, forKey: .status) {
        case .ok:
            self = .ok(try container.decode(Value.self, forKey: .data))
        case .unavailable:
            self = .unavailable(reason: try container.decode(String.self, forKey: .reason))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .ok(let value):
            try container.encode(Status.ok, forKey: .status)
            try container.encode(value, forKey: .data)
        case .unavailable(let reason):
            try container.encode(Status.unavailable, forKey: .status)
            try container.encode(reason, forKey: .reason)
        }
    }
}
