import Foundation

/// Parsers for the colon-separated account databases: passwd, group, shadow.
/// A line with the wrong field count or a non-numeric ID is skipped and counted, never fatal.
enum AccountFileParser {
    struct PasswdRecord: Equatable, Sendable {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
        var shell: String
    }

    struct GroupRecord: Equatable, Sendable {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    struct ShadowRecord: Equatable, Sendable {
        var name: String
        var password: String
        /// Days since the epoch; nil when empty.
        var lastChange: Int?
        var maxDays: Int?
        var expire: Int?
    }

    static func passwd(_ lines: TextLines) -> (records: [PasswdRecord], skipped: Int) {
        var records: [PasswdRecord] = []
        var skipped = lines.skipped
        for line in lines.lines {
            guard let fields = fields(of: line.text, count: 7) else {
                if !isBlankOrComment(line.text) { skipped += 1 }
                continue
            }
            guard !fields[0].isEmpty, !fields[0].hasPrefix("+"), !fields[0].hasPrefix("-"),
                  let uid = UInt32(fields[2]), let gid = UInt32(fields[3])
            else {
                skipped += 1
                continue
            }
            records.append(PasswdRecord(name: fields[0], uid: uid, gid: gid, home: fields[5], shell: fields[6]))
        }
        return (records, skipped)
    }

    static func group(_ lines: TextLines) -> (records: [GroupRecord], skipped: Int) {
        var records: [GroupRecord] = []
        var skipped = lines.skipped
        for line in lines.lines {
            guard let fields = fields(of: line.text, count: 4) else {
                if !isBlankOrComment(line.text) { skipped += 1 }
                continue
            }
            guard !fields[0].isEmpty, let gid = UInt32(fields[2]) else {
                skipped += 1
                continue
            }
            let members = fields[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            records.append(GroupRecord(name: fields[0], gid: gid, members: members))
        }
        return (records, skipped)
    }

    static func shadow(_ lines: TextLines) -> (records: [ShadowRecord], skipped: Int) {
        var records: [ShadowRecord] = []
        var skipped = lines.skipped
        for line in lines.lines {
            guard let fields = fields(of: line.text, count: 9), !fields[0].isEmpty else {
                if !isBlankOrComment(line.text) { skipped += 1 }
                continue
            }
            func day(_ text: String) -> Int?? {
                if text.isEmpty { return .some(nil) }
                guard let value = Int(text), value >= 0, value < 10_000_000 else { return nil }
                return .some(value)
            }
            guard let lastChange = day(fields[2]), let maxDays = day(fields[4]), let expire = day(fields[7]) else {
                skipped += 1
                continue
            }
            records.append(ShadowRecord(
                name: fields[0], password: fields[1], lastChange: lastChange, maxDays: maxDays, expire: expire
            ))
        }
        return (records, skipped)
    }

    private static func fields(of line: String, count: Int) -> [String]? {
        let parts = line.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == count else { return nil }
        return parts.map(String.init)
    }

    private static func isBlankOrComment(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || trimmed.hasPrefix("#")
    }
}
