import Foundation

/// An account's password state from `/etc/shadow`. Never carries the hash or its salt.
public struct PasswordInfo: Codable, Sendable, Equatable {
    /// The password field starts with `!` or `*`: no password login.
    public var locked: Bool
    /// The password field is empty: login without a password.
    public var empty: Bool
    /// The hash scheme's name only (`yescrypt`, `sha512crypt`, `md5crypt`, `descrypt`, ...), `nil` when none.
    public var algorithm: String?
    /// Day of the last change (midnight UTC); `nil` when aging is off or the field is 0.
    public var lastChanged: Date?
    /// The last-change field is 0: the password must be changed at next login.
    public var mustChangeAtNextLogin: Bool
    /// Whole days since the last change, relative to the collection's `now`.
    public var ageDays: Int?
    /// Maximum password age in days (`nil` when unset or 99999, i.e. never).
    public var maxDays: Int?
    /// `lastChanged + maxDays`: when the password expires.
    public var passwordExpiresOn: Date?
    /// The account's expiry date (shadow field 8), `nil` when none.
    public var accountExpiresOn: Date?
    /// `accountExpiresOn` is before `now`.
    public var accountExpired: Bool

    public init(
        locked: Bool, empty: Bool, algorithm: String?, lastChanged: Date?, mustChangeAtNextLogin: Bool,
        ageDays: Int?, maxDays: Int?, passwordExpiresOn: Date?, accountExpiresOn: Date?, accountExpired: Bool
    ) {
        self.locked = locked
        self.empty = empty
        self.algorithm = algorithm
        self.lastChanged = lastChanged
        self.mustChangeAtNextLogin = mustChangeAtNextLogin
        self.ageDays = ageDays
        self.maxDays = maxDays
        self.passwordExpiresOn = passwordExpiresOn
        self.accountExpiresOn = accountExpiresOn
        self.accountExpired = accountExpired
    }
}
