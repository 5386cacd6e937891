import CordonShared
import Foundation

/// `inventoryPolicy:` in coordinator.yaml: thresholds for the jump-host findings.
///
/// ```yaml
/// inventoryPolicy:
///   passwordMaxAge: 90d
///   failedLogonBurst: 10   # failures from one source within the agent's window
///   allowedUID0: [root]
/// ```
public struct InventoryPolicy: Codable, Sendable, Equatable {
    public var passwordMaxAge: ConfigDuration
    public var failedLogonBurst: Int
    public var allowedUID0: [String]

    public init(passwordMaxAge: ConfigDuration = .init(seconds: 90 * 86400), failedLogonBurst: Int = 10, allowedUID0: [String] = ["root"]) {
        self.passwordMaxAge = passwordMaxAge
        self.failedLogonBurst = failedLogonBurst
        self.allowedUID0 = allowedUID0
    }

    enum CodingKeys: String, CodingKey { case passwordMaxAge, failedLogonBurst, allowedUID0 }

    public init(from decoder: any Decoder) throws {
        let d = InventoryPolicy()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        passwordMaxAge = try c.decodeIfPresent(ConfigDuration.self, forKey: .passwordMaxAge) ?? d.passwordMaxAge
        failedLogonBurst = try c.decodeIfPresent(Int.self, forKey: .failedLogonBurst) ?? d.failedLogonBurst
        allowedUID0 = try c.decodeIfPresent([String].self, forKey: .allowedUID0) ?? d.allowedUID0
    }

    static let schema = ConfigSchema.mapping(["passwordMaxAge": .scalar, "failedLogonBurst": .scalar, "allowedUID0": .list(.scalar)])
}
