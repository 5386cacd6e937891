import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct SSHKeyCollectorTests {
    /// `ssh-keygen -lf` output captured once for the fixture's key files: path -> fingerprints.
    private func sshKeygenFingerprints() throws -> [String: [String]] {
        let text = try String(contentsOfFile: InventoryFixtures.path("accounts/ssh-keygen-lf.txt"), encoding: .utf8)
        var result: [String: [String]] = [:]
        var current = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("== ") {
                current = "/" + line.dropFirst(3)
            } else {
                result[current, default: []].append(String(line.split(separator: " ")[1]))
            }
        }
        return result
    }

    @Test func fingerprintsMatchSSHKeygen() throws {
        let inventory = try #require(SSHKeyCollector.collect(InventoryFixtures.context(root: InventoryFixtures.path("accounts"))).value)
        let expected = try sshKeygenFingerprints()
        #expect(expected.count == 3)
        for file in inventory.files {
            #expect(file.keys.map(\.fingerprint) == expected[file.path], "\(file.path)")
        }
        #expect(Set(inventory.files.map(\.path)) == Set(expected.keys))
    }

    @Test func keyTypesCommentsAndOptionNamesButNeverTheKey() throws {
        let inventory = try #require(SSHKeyCollector.collect(InventoryFixtures.context(root: InventoryFixtures.path("accounts"))).value)
        let root = try #require(inventory.files.first { $0.path == "/root/.ssh/authorized_keys" })
        // toor shares root's home: the file is read once and names both.
        #expect(root.accounts == ["root", "toor"])
        #expect(root.keys.map(\.keyType) == ["ssh-rsa", "ecdsa-sha2-nistp384"])
        #expect(root.keys.map(\.comment) == ["backup key for root", "ops"])
        #expect(root.keys.map(\.line) == [2, 3])
        #expect(root.keys[1].options == ["command", "from", "no-pty", "no-port-forwarding"])
        // A key with bad base64 and a line that is no key at all.
        #expect(root.skippedLines == 2)
        #expect(inventory.skippedLines == 2)

        let alice = try #require(inventory.files.first { $0.path == "/home/alice/.ssh/authorized_keys" })
        #expect(alice.keys.map(\.keyType) == ["ssh-ed25519", "ecdsa-sha2-nistp256"])
        #expect(alice.keys.map(\.comment) == ["alice@laptop", nil])
        let alice2 = try #require(inventory.files.first { $0.path == "/home/alice/.ssh/authorized_keys2" })
        #expect(alice2.keys.first?.options == ["restrict", "command"])

        let json = String(decoding: try JSONEncoder().encode(inventory), as: UTF8.self)
        #expect(!json.contains("AAAAC3NzaC1lZDI1NTE5"), "a key blob leaked into the report")
        #expect(!json.contains("AAAAB3NzaC1yc2E"), "a key blob leaked into the report")
        #expect(!json.contains("/usr/local/bin/backup"), "an option value leaked into the report")
    }

    @Test func linksPointingOutsideTheRootAreNotFollowedOut() throws {
        // The fixture's bob and carol link to the host's SSH host keys (absolute and via ../..);
        // resolved inside the root they do not exist.
        let inventory = try #require(SSHKeyCollector.collect(InventoryFixtures.context(root: InventoryFixtures.path("accounts"))).value)
        #expect(!inventory.files.contains { $0.accounts.contains("bob") || $0.accounts.contains("carol") })

        let outside = try ScratchTree()
        let tree = try ScratchTree()
        defer {
            outside.remove()
            tree.remove()
        }
        let keyLine = try String(contentsOfFile: InventoryFixtures.path("accounts/home/alice/.ssh/authorized_keys"), encoding: .utf8)
        try outside.write("keys", keyLine)
        try tree.write("etc/passwd", "x:x:1000:1000::/home/x:/bin/sh\ny:x:1001:1001::/home/y:/bin/sh\n")
        try FileManager.default.createDirectory(atPath: tree.path + "/home/x/.ssh", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tree.path + "/home/x/.ssh/authorized_keys", withDestinationPath: outside.path + "/keys")
        try FileManager.default.createDirectory(atPath: tree.path + "/home/y", withIntermediateDirectories: true)
        let climbs = String(repeating: "../", count: 20) + String(outside.path.dropFirst())
        try FileManager.default.createSymbolicLink(atPath: tree.path + "/home/y/.ssh", withDestinationPath: climbs)
        let scanned = try #require(SSHKeyCollector.collect(InventoryFixtures.context(root: tree.path)).value)
        #expect(scanned.files.isEmpty)

        // Sanity: the same file inside the root is found.
        try tree.write("home/x/.ssh/authorized_keys2", keyLine)
        let inside = try #require(SSHKeyCollector.collect(InventoryFixtures.context(root: tree.path)).value)
        #expect(inside.files.map(\.path) == ["/home/x/.ssh/authorized_keys2"])
    }

    @Test func unreadableKeyFilesAreListedWhenUnprivileged() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "accounts")
        defer { scratch.remove() }
        scratch.chmod("root", 0o700)
        let inventory = try #require(Unprivileged.run {
            SSHKeyCollector.collect(InventoryFixtures.context(root: scratch.path, isRoot: false))
        }.value)
        #expect(inventory.unreadable.contains("/root/.ssh/authorized_keys: permission denied"))
        #expect(inventory.files.map(\.path).sorted() == ["/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys2"])
        #expect(inventory.notes.contains { $0.hasPrefix("not root:") })
    }

    @Test func optionParsing() {
        #expect(AuthorizedKeysParser.optionNames(#"command="echo \"a,b\"",from="198.18.0.0/15,!198.18.0.1",no-pty"#) == ["command", "from", "no-pty"])
        #expect(AuthorizedKeysParser.parseLine("ssh-ed25519") == nil)
        #expect(AuthorizedKeysParser.parseLine("no-pty ssh-ed25519 AAAA") == nil)
    }
}
