/// Local accounts from `/etc/passwd`, `/etc/shadow`, `/etc/group` and the sudoers files.
public struct AccountInventory: Codable, Sendable, Equatable {
    public var accounts: [AccountEntry]
    /// `false` when `/etc/shadow` could not be read: every `password` is then `nil`.
    public var shadowReadable: Bool
    /// `false` when `/etc/sudoers` could not be read: admin rights come from groups only.
    public var sudoersReadable: Bool
    /// Names of the accounts with UID 0, when there is more than one.
    public var duplicateUIDZeroAccounts: [String]
    /// `true` when the account count limit cut the list short.
    public var truncated: Bool
    /// Malformed lines skipped in passwd, shadow, group and sudoers.
    public var skippedLines: Int
    public var notes: [String]

    public init(
        accounts: [AccountEntry], shadowReadable: Bool, sudoersReadable: Bool,
        duplicateUIDZeroAccounts: [String], truncated: Bool, skippedLines: Int, notes: [String]
    ) {
        self.accounts = accounts
        self.shadowReadable = shadowReadable
        self.sudoersReadable = sudoersReadable
        self.duplicateUIDZeroAccounts = duplicateUIDZeroAccounts
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
