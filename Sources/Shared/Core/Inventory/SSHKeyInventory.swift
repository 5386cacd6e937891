/// The `authorized_keys` files found in the accounts' homes.
public struct SSHKeyInventory: Codable, Sendable, Equatable {
    /// One entry per file that exists (homes shared by several accounts are read once).
    public var files: [AuthorizedKeyFile]
    /// Key files that exist but could not be read (path and reason).
    public var unreadable: [String]
    /// `true` when the key count limit cut the list short.
    public var truncated: Bool
    /// Malformed lines skipped over all files.
    public var skippedLines: Int
    public var notes: [String]

    public init(files: [AuthorizedKeyFile], unreadable: [String], truncated: Bool, skippedLines: Int, notes: [String]) {
        self.files = files
        self.unreadable = unreadable
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
