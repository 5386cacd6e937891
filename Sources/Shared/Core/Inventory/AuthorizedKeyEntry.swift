/// One key line of an `authorized_keys` file. Never carries the key itself.
public struct AuthorizedKeyEntry: Codable, Sendable, Equatable {
    /// The key type as written (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ...).
    public var keyType: String
    /// OpenSSH's fingerprint format: `SHA256:` + unpadded base64 of SHA-256 of the key blob.
    public var fingerprint: String
    /// The comment after the key, `nil` when none.
    public var comment: String?
    /// The names of the options in front of the key (`command`, `from`, `no-pty`, ...), without values.
    public var options: [String]
    /// 1-based line number in the file.
    public var line: Int

    public init(keyType: String, fingerprint: String, comment: String?, options: [String], line: Int) {
        self.keyType = keyType
        self.fingerprint = fingerprint
        self.comment = comment
        self.options = options
        self.line = line
    }
}
