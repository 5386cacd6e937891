/// One account from `/etc/passwd`, with its password state and admin rights.
public struct AccountEntry: Codable, Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
    public var shell: String
    /// The shell is not `nologin` or `false` (nor empty-but-valid `/bin/sync` style): it can log in.
    public var loginCapable: Bool
    /// The password state from `/etc/shadow`; `nil` when shadow is unreadable or has no entry.
    public var password: PasswordInfo?
    /// Member of sudo, admin or wheel, or granted ALL in sudoers.
    public var isAdmin: Bool
    /// Why the account is admin: `group:sudo`, `sudoers:/etc/sudoers.d/ops (%ops)`, ...
    public var adminVia: [String]
    /// UID 0 but not the first UID-0 account (`root`): a classic backdoor.
    public var duplicateUIDZero: Bool

    public init(
        name: String, uid: UInt32, gid: UInt32, home: String, shell: String, loginCapable: Bool,
        password: PasswordInfo?, isAdmin: Bool, adminVia: [String], duplicateUIDZero: Bool
    ) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.shell = shell
        self.loginCapable = loginCapable
        self.password = password
        self.isAdmin = isAdmin
        self.adminVia = adminVia
        self.duplicateUIDZero = duplicateUIDZero
    }
}
