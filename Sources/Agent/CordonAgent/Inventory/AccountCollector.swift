import CordonShared
import Foundation

/// Collects local accounts from `<root>/etc/passwd`, `shadow`, `group` and sudoers.
///
/// Unprivileged: `/etc/shadow` and sudoers are unreadable; accounts are still listed from
/// passwd, with `password == nil`, `shadowReadable == false`, and admin rights from groups only.
public enum AccountCollector {
    /// Groups whose members may become root.
    static let adminGroups = ["sudo", "admin", "wheel"]

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<AccountInventory> {
        let fileSystem = context.fileSystem
        let limits = context.limits
        var notes: [String] = []
        var skipped = 0

        let passwd: [AccountFileParser.PasswdRecord]
        switch fileSystem.read("/etc/passwd", maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            let parsed = AccountFileParser.passwd(TextLines(contents.data, maxLineLength: limits.maxLineLength))
            passwd = parsed.records
            skipped += parsed.skipped
            if contents.truncated { notes.append("/etc/passwd cut at \(limits.maxFileBytes) bytes") }
        case .failure(let error):
            return .unavailable(reason: "/etc/passwd: \(error)")
        }

        var groups: [AccountFileParser.GroupRecord] = []
        switch fileSystem.read("/etc/group", maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            let parsed = AccountFileParser.group(TextLines(contents.data, maxLineLength: limits.maxLineLength))
            groups = parsed.records
            skipped += parsed.skipped
        case .failure(let error):
            notes.append("/etc/group: \(error): admin group membership unknown")
        }

        var shadowByName: [String: AccountFileParser.ShadowRecord] = [:]
        var shadowReadable = false
        switch fileSystem.read("/etc/shadow", maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            shadowReadable = true
            let parsed = AccountFileParser.shadow(TextLines(contents.data, maxLineLength: limits.maxLineLength))
            skipped += parsed.skipped
            for record in parsed.records where shadowByName[record.name] == nil {
                shadowByName[record.name] = record
            }
        case .failure(let error):
            notes.append("/etc/shadow unreadable (\(error))" + (context.isRoot ? "" : ", not root") + ": password state unknown")
        }

        let sudoers = SudoersReader.read(fileSystem: fileSystem, limits: limits)
        skipped += sudoers.skipped
        notes.append(contentsOf: sudoers.notes)

        // Admin rights: admin groups by membership list or primary GID, and sudoers ALL grants.
        var adminVia: [String: [String]] = [:]
        let groupsByName = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let groupsByGID = Dictionary(groups.map { ($0.gid, $0) }, uniquingKeysWith: { first, _ in first })
        for record in passwd {
            var reasons: [String] = []
            for name in adminGroups {
                guard let group = groupsByName[name] else { continue }
                if group.members.contains(record.name) || group.gid == record.gid {
                    reasons.append("group:\(name)")
                }
            }
            for grant in sudoers.grants {
                let principal = grant.principal
                var matches = principal == record.name || principal == "#\(record.uid)" || principal == "ALL"
                if principal.hasPrefix("%") {
                    let groupName = String(principal.dropFirst())
                    if groupName.hasPrefix("#"), let gid = UInt32(groupName.dropFirst()) {
                        matches = record.gid == gid || (groupsByGID[gid]?.members.contains(record.name) ?? false)
                    } else if let group = groupsByName[groupName] {
                        matches = group.gid == record.gid || group.members.contains(record.name)
                    }
                }
                if matches { reasons.append("sudoers:\(grant.source) (\(principal))") }
            }
            adminVia[record.name] = reasons
        }

        let uidZero = passwd.filter { $0.uid == 0 }.map(\.name)
        let legitimateRoot = uidZero.contains("root") ? "root" : uidZero.first
        let nowDay = context.now.timeIntervalSince1970 / 86400

        var accounts: [AccountEntry] = []
        var truncated = false
        for record in passwd {
            guard accounts.count < limits.maxEntries else {
                truncated = true
                break
            }
            let password = shadowByName[record.name].map { passwordInfo($0, nowDay: nowDay) }
            let reasons = adminVia[record.name] ?? []
            accounts.append(AccountEntry(
                name: record.name.bounded(limits.maxFieldLength), uid: record.uid, gid: record.gid,
                home: record.home.bounded(limits.maxFieldLength), shell: record.shell.bounded(limits.maxFieldLength),
                loginCapable: loginCapable(shell: record.shell), password: password,
                isAdmin: !reasons.isEmpty || record.uid == 0, adminVia: record.uid == 0 ? ["uid:0"] + reasons : reasons,
                duplicateUIDZero: record.uid == 0 && uidZero.count > 1 && record.name != legitimateRoot
            ))
        }
        if shadowReadable {
            let missing = passwd.filter { shadowByName[$0.name] == nil }.count
            if missing > 0 { notes.append("\(missing) accounts have no shadow entry") }
        }
        return .ok(AccountInventory(
            accounts: accounts, shadowReadable: shadowReadable, sudoersReadable: sudoers.readable,
            duplicateUIDZeroAccounts: uidZero.count > 1 ? uidZero : [], truncated: truncated,
            skippedLines: skipped, notes: notes
        ))
    }

    /// A shell that is not `nologin` or `false` can log in.
    static func loginCapable(shell: String) -> Bool {
        let name = shell.split(separator: "/").last.map(String.init) ?? ""
        return !["nologin", "false"].contains(name)
    }

    static func passwordInfo(_ record: AccountFileParser.ShadowRecord, nowDay: Double) -> PasswordInfo {
        let field = record.password
        let locked = field.hasPrefix("!") || field.hasPrefix("*")
        let unlocked = String(field.drop(while: { $0 == "!" || $0 == "*" }))
        let day: (Int) -> Date = { Date(timeIntervalSince1970: Double($0) * 86400) }

        var lastChanged: Date?
        var ageDays: Int?
        if let lastChange = record.lastChange, lastChange > 0 {
            lastChanged = day(lastChange)
            ageDays = Int((nowDay - Double(lastChange)).rounded(.down))
        }
        let maxDays = record.maxDays.flatMap { $0 >= 99999 ? nil : $0 }
        let passwordExpiresOn: Date? = {
            guard let lastChange = record.lastChange, lastChange > 0, let maxDays else { return nil }
            return day(lastChange + maxDays)
        }()
        let accountExpiresOn = record.expire.map(day)
        return PasswordInfo(
            locked: locked, empty: field.isEmpty, algorithm: PasswordHashScheme.name(of: unlocked),
            lastChanged: lastChanged, mustChangeAtNextLogin: record.lastChange == 0, ageDays: ageDays,
            maxDays: maxDays, passwordExpiresOn: passwordExpiresOn, accountExpiresOn: accountExpiresOn,
            accountExpired: record.expire.map { Double($0) <= nowDay } ?? false
        )
    }
}
