/// One `authorized_keys` or `authorized_keys2` file.
public struct AuthorizedKeyFile: Codable, Sendable, Equatable {
    /// The file's path as the host sees it (`/home/alice/.ssh/authorized_keys`).
    public var path: String
    /// The accounts whose home holds this file.
    public var accounts: [String]
    public var keys: [AuthorizedKeyEntry]
    /// Lines that were neither comments nor parseable keys.
    public var skippedLines: Int

    public init(path: String, accounts: [String], keys: [AuthorizedKeyEntry], skippedLines: Int) {
        self.path = path
        self.accounts = accounts
        self.keys = keys
        self.skippedLines = skippedLines
    }
}
