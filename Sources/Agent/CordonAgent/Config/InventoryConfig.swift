import CordonShared
import Foundation

/// `inventory:` in agent.yaml: the jump host's own inventory.
///
/// ```yaml
/// inventory:
///   enabled: true
///   interval: 15m           # collect at most this often; sent with the next report
///   failedLogonWindow: 24h  # how far back failed logons are counted
///   root: /                 # the directory that stands for / (tests, chroots)
/// ```
public struct InventoryConfig: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var interval: ConfigDuration
    public var failedLogonWindow: ConfigDuration
    public var root: String

    public init(enabled: Bool = true, interval: ConfigDuration = .init(seconds: 900), failedLogonWindow: ConfigDuration = .init(seconds: 86400),
                root: String = "/") {
        self.enabled = enabled
        self.interval = interval
        self.failedLogonWindow = failedLogonWindow
        self.root = root
    }

    enum CodingKeys: String, CodingKey { case enabled, interval, failedLogonWindow, root }

    public init(from decoder: any Decoder) throws {
        let d = InventoryConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        interval = try c.decodeIfPresent(ConfigDuration.self, forKey: .interval) ?? d.interval
        failedLogonWindow = try c.decodeIfPresent(ConfigDuration.self, forKey: .failedLogonWindow) ?? d.failedLogonWindow
        root = try c.decodeIfPresent(String.self, forKey: .root) ?? d.root
    }

    static var schema: ConfigSchema {
        .mapping(["enabled": .scalar, "interval": .scalar, "failedLogonWindow": .scalar, "root": .scalar])
    }

    public func validate(origin: String) throws {
        guard interval.seconds >= 0.05 else { throw CordonError.invalidArgument("\(origin): inventory.interval must be at least 50ms") }
        guard failedLogonWindow.seconds >= 60, failedLogonWindow.seconds <= 90 * 86400 else {
            throw CordonError.invalidArgument("\(origin): inventory.failedLogonWindow must be between 1m and 90d")
        }
        guard root.hasPrefix("/") else { throw CordonError.invalidArgument("\(origin): inventory.root must be an absolute path") }
    }
}
