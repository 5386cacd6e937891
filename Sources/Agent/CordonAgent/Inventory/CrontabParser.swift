/// Parses cron tables: `/etc/crontab` and `/etc/cron.d/*` (with a user field) and the per-user
/// spool files (without). Skips comments, blank and environment lines; bad lines are counted.
enum CrontabParser {
    struct Entry: Equatable {
        var line: Int
        var user: String?
        var schedule: String
        var command: String
        /// The line with whitespace runs collapsed: what the stable ID is computed from.
        var normalized: String
    }

    static let specials: Set<String> = [
        "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
    ]

    static func parse(_ lines: TextLines, hasUserField: Bool) -> (entries: [Entry], skipped: Int) {
        var entries: [Entry] = []
        var skipped = lines.skipped
        for line in lines.lines {
            let text = line.text.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") || isEnvironmentLine(text) { continue }
            guard let entry = parseEntry(text, number: line.number, hasUserField: hasUserField) else {
                skipped += 1
                continue
            }
            entries.append(entry)
        }
        return (entries, skipped)
    }

    /// `NAME=value` (cron's environment settings).
    static func isEnvironmentLine(_ text: String) -> Bool {
        guard let equals = text.firstIndex(of: "=") else { return false }
        let name = text[..<equals].trimmingCharacters(in: .whitespaces)
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
    }

    private static func parseEntry(_ text: String, number: Int, hasUserField: Bool) -> Entry? {
        var rest = Substring(text)
        func nextField() -> Substring? {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard !rest.isEmpty else { return nil }
            let field = rest.prefix(while: { $0 != " " && $0 != "\t" })
            rest = rest[field.endIndex...]
            return field
        }
        guard let first = nextField() else { return nil }
        var schedule: String
        if first.hasPrefix("@") {
            guard specials.contains(first.lowercased()) else { return nil }
            schedule = String(first)
        } else {
            var fields = [first]
            for _ in 0..<4 {
                guard let field = nextField() else { return nil }
                fields.append(field)
            }
            guard fields.allSatisfy(isScheduleField) else { return nil }
            schedule = fields.joined(separator: " ")
        }
        var user: String?
        if hasUserField {
            guard let field = nextField() else { return nil }
            user = String(field)
        }
        let command = rest.trimmingCharacters(in: .whitespaces)
        guard !command.isEmpty else { return nil }
        schedule = ScheduledTaskID.normalize(schedule)
        let normalized = ScheduledTaskID.normalize([schedule, user ?? "", command].filter { !$0.isEmpty }.joined(separator: " "))
        return Entry(line: number, user: user, schedule: schedule, command: command, normalized: normalized)
    }

    /// Minutes, hours, days, months (`jan`), weekdays (`mon`): numbers, the three-letter
    /// names, `*`, `/`, `,`, `-`.
    private static let names: Set<String> = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        "sun", "mon", "tue", "wed", "thu", "fri", "sat",
    ]

    private static func isScheduleField(_ field: Substring) -> Bool {
        guard !field.isEmpty, field.count <= 100 else { return false }
        for part in field.split(whereSeparator: { "*/,-".contains($0) }) {
            if part.allSatisfy({ $0.isASCII && $0.isNumber }) { continue }
            guard names.contains(part.lowercased()) else { return false }
        }
        return field.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "*/,-".contains($0)) }
    }
}
