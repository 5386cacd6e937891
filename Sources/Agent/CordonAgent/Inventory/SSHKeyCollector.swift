import CordonShared
import Foundation

/// Collects `~/.ssh/authorized_keys` and `authorized_keys2` of every account in passwd, each
/// home resolved below the root. Reads each file once, however many accounts share the home.
///
/// Unprivileged: other users' homes are often unreadable; those files are listed in
/// `unreadable` with the reason, and the keys that could be read are still reported.
public enum SSHKeyCollector {
    static let fileNames = ["authorized_keys", "authorized_keys2"]

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<SSHKeyInventory> {
        let fileSystem = context.fileSystem
        let limits = context.limits
        let passwd: [AccountFileParser.PasswdRecord]
        var skipped = 0
        switch fileSystem.read("/etc/passwd", maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            let parsed = AccountFileParser.passwd(TextLines(contents.data, maxLineLength: limits.maxLineLength))
            passwd = parsed.records
        case .failure(let error):
            return .unavailable(reason: "/etc/passwd: \(error): homes unknown")
        }

        var files: [AuthorizedKeyFile] = []
        var indexByHostPath: [String: Int] = [:]
        var unreadable: [String] = []
        var notes: [String] = []
        var keyCount = 0
        var truncated = false
        var relativeHomes: [String] = []

        for account in passwd {
            guard account.home.hasPrefix("/") else {
                relativeHomes.append(account.name)
                continue
            }
            for name in fileNames {
                let path = (account.home == "/" ? "" : account.home) + "/.ssh/" + name
                let hostPath: String
                switch fileSystem.resolve(path) {
                case .success(let value):
                    hostPath = value
                case .failure(.missing), .failure(.notDirectory):
                    continue
                case .failure(let error):
                    unreadable.append("\(path): \(error)")
                    continue
                }
                if let index = indexByHostPath[hostPath] {
                    if !files[index].accounts.contains(account.name) { files[index].accounts.append(account.name) }
                    continue
                }
                switch fileSystem.read(path, maxBytes: limits.maxFileBytes) {
                case .success(let contents):
                    let lines = TextLines(contents.data, maxLineLength: limits.maxLineLength)
                    let parsed = AuthorizedKeysParser.parse(
                        lines, maxKeys: max(0, limits.maxEntries - keyCount), maxFieldLength: limits.maxFieldLength
                    )
                    if keyCount + parsed.keys.count >= limits.maxEntries { truncated = true }
                    keyCount += parsed.keys.count
                    skipped += parsed.skipped
                    indexByHostPath[hostPath] = files.count
                    files.append(AuthorizedKeyFile(path: path, accounts: [account.name], keys: parsed.keys, skippedLines: parsed.skipped))
                    if contents.truncated { notes.append("\(path) cut at \(limits.maxFileBytes) bytes") }
                case .failure(.missing):
                    continue
                case .failure(let error):
                    unreadable.append("\(path): \(error)")
                }
            }
        }
        if !relativeHomes.isEmpty {
            notes.append("accounts with a relative home were skipped: \(relativeHomes.joined(separator: ", "))")
        }
        if !unreadable.isEmpty && !context.isRoot {
            notes.append("not root: \(unreadable.count) key files unreadable")
        }
        return .ok(SSHKeyInventory(files: files, unreadable: unreadable, truncated: truncated, skippedLines: skipped, notes: notes))
    }
}
