import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct AccountCollectorTests {
    private func collect(root: String = InventoryFixtures.path("accounts"), isRoot: Bool = true) throws -> AccountInventory {
        try #require(AccountCollector.collect(InventoryFixtures.context(root: root, isRoot: isRoot)).value)
    }

    private func day(_ number: Int) -> Date { Date(timeIntervalSince1970: Double(number) * 86400) }

    @Test func listsAccountsAndSkipsGarbage() throws {
        let inventory = try collect()
        #expect(inventory.accounts.map(\.name) == ["root", "daemon", "bin", "sync", "alice", "bob", "toor", "carol", "svc", "eve", "mallory"])
        // passwd: NUL/invalid UTF-8 garbage (3 lines), too few fields, a non-numeric UID;
        // shadow: a free-text line, a non-numeric date; group: one broken line.
        #expect(inventory.skippedLines == 8)
        #expect(inventory.shadowReadable)
        #expect(inventory.sudoersReadable)
        #expect(inventory.notes.contains("1 accounts have no shadow entry"))
    }

    @Test func passwordStateWithoutEverTheHash() throws {
        let inventory = try collect()
        let byName = Dictionary(uniqueKeysWithValues: inventory.accounts.map { ($0.name, $0) })
        let root = try #require(byName["root"]?.password)
        #expect(root.algorithm == "yescrypt")
        #expect(root.lastChanged == day(20000))
        #expect(root.ageDays == 103)
        #expect(root.maxDays == nil)
        #expect(!root.locked && !root.empty)

        let alice = try #require(byName["alice"]?.password)
        #expect(alice.algorithm == "sha512crypt")
        #expect(alice.ageDays == 13)
        #expect(alice.maxDays == 90)
        #expect(alice.passwordExpiresOn == day(20180))

        let bob = try #require(byName["bob"]?.password)
        #expect(bob.empty && !bob.locked && bob.algorithm == nil)

        let toor = try #require(byName["toor"]?.password)
        #expect(toor.algorithm == "md5crypt")
        #expect(toor.mustChangeAtNextLogin)
        #expect(toor.lastChanged == nil && toor.ageDays == nil)

        let carol = try #require(byName["carol"]?.password)
        #expect(carol.locked && carol.algorithm == "yescrypt")
        #expect(carol.accountExpiresOn == day(20000))
        #expect(carol.accountExpired)
        #expect(!alice.accountExpired)

        #expect(byName["daemon"]?.password?.locked == true)
        #expect(byName["daemon"]?.password?.algorithm == nil)
        #expect(byName["svc"]?.password?.locked == true)
        #expect(byName["eve"]?.password == nil)

        let json = String(decoding: try JSONEncoder().encode(inventory), as: UTF8.self)
        for secret in ["uf9LxC2To7Ap80", "F5Jx5fExrKuPp53x", "whb3cLLTpbVfEJgu", "aW0S3sQHgxUed", "M7mF.2oB", "U3EfAdzX", "$6$", "$y$"] {
            #expect(!json.contains(secret), "hash material \(secret) leaked")
        }
    }

    @Test func loginCapabilityAndDuplicateRoot() throws {
        let inventory = try collect()
        let byName = Dictionary(uniqueKeysWithValues: inventory.accounts.map { ($0.name, $0) })
        #expect(byName["root"]?.loginCapable == true)
        #expect(byName["daemon"]?.loginCapable == false)
        #expect(byName["carol"]?.loginCapable == false)
        #expect(byName["sync"]?.loginCapable == true)
        #expect(inventory.duplicateUIDZeroAccounts == ["root", "toor"])
        #expect(byName["toor"]?.duplicateUIDZero == true)
        #expect(byName["root"]?.duplicateUIDZero == false)
    }

    @Test func adminMembershipFromGroupsAndSudoers() throws {
        let inventory = try collect()
        let byName = Dictionary(uniqueKeysWithValues: inventory.accounts.map { ($0.name, $0) })
        #expect(byName["alice"]?.adminVia == ["group:sudo", "sudoers:/etc/sudoers (%sudo)"])
        #expect(byName["bob"]?.adminVia == ["group:wheel"])
        #expect(byName["eve"]?.adminVia == ["group:admin"])
        #expect(byName["carol"]?.adminVia == ["sudoers:/etc/sudoers.d/ops (%ops)"])
        #expect(byName["root"]?.adminVia == ["uid:0", "sudoers:/etc/sudoers (root)"])
        // A command list other than ALL is not admin; files sudo ignores (old.bak, dave~) are ignored.
        #expect(byName["mallory"]?.isAdmin == false)
        #expect(byName["daemon"]?.isAdmin == false)
    }

    @Test func sudoersGrammar() {
        #expect(SudoersParser.grantsAll("(ALL:ALL) ALL"))
        #expect(SudoersParser.grantsAll("(ALL) NOPASSWD: ALL"))
        #expect(SudoersParser.grantsAll(" NOPASSWD:SETENV: ALL"))
        #expect(!SudoersParser.grantsAll("(root) /usr/bin/rsync"))
        #expect(!SudoersParser.grantsAll("(ALL) /usr/bin/ALLOWED"))
    }

    @Test func relativeSudoersIncludesAndAllKeyword() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        try scratch.write("etc/passwd", "root:x:0:0::/root:/bin/bash\neve:x:1004:1004::/home/eve:/bin/bash\nzed:x:1005:1005::/home/zed:/bin/bash\n")
        try scratch.write("etc/sudoers", "@include sudoers.local\n#1005 ALL = (ALL) ALL\n")
        try scratch.write("etc/sudoers.local", "eve, nobody ALL=(ALL) NOPASSWD: ALL\n")
        let inventory = try collect(root: scratch.path)
        let byName = Dictionary(uniqueKeysWithValues: inventory.accounts.map { ($0.name, $0) })
        #expect(byName["eve"]?.adminVia == ["sudoers:/etc/sudoers.local (eve)"])
        #expect(byName["zed"]?.adminVia == ["sudoers:/etc/sudoers (#1005)"])
        #expect(inventory.notes.contains("/etc/group: missing: admin group membership unknown"))
    }

    @Test func unprivilegedListsAccountsFromPasswdOnly() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "accounts")
        defer { scratch.remove() }
        // Owner-only: the test process keeps its supplementary group root, so 0640 would still
        // be readable through the group (on a real host shadow is root:shadow 0640).
        scratch.chmod("etc/shadow", 0o600)
        scratch.chmod("etc/sudoers", 0o400)
        let inventory = try Unprivileged.run { try collect(root: scratch.path, isRoot: false) }
        #expect(inventory.accounts.count == 11)
        #expect(!inventory.shadowReadable)
        #expect(!inventory.sudoersReadable)
        #expect(inventory.accounts.allSatisfy { $0.password == nil })
        #expect(inventory.notes.contains { $0.hasPrefix("/etc/shadow unreadable (permission denied), not root") })
        // Group membership still counts.
        #expect(inventory.accounts.first { $0.name == "alice" }?.adminVia == ["group:sudo"])
    }

    @Test func missingPasswdMakesTheSectionUnavailable() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        #expect(AccountCollector.collect(InventoryFixtures.context(root: scratch.path)).unavailableReason == "/etc/passwd: missing")
    }

    @Test func hashSchemeNames() {
        #expect(PasswordHashScheme.name(of: "$y$j9T$salt$hash") == "yescrypt")
        #expect(PasswordHashScheme.name(of: "$2b$10$abc") == "bcrypt")
        #expect(PasswordHashScheme.name(of: "$5$salt$hash") == "sha256crypt")
        #expect(PasswordHashScheme.name(of: "abcdefghijklm") == "descrypt")
        #expect(PasswordHashScheme.name(of: "") == nil)
        #expect(PasswordHashScheme.name(of: "weird") == "unknown")
    }
}
