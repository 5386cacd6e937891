import Foundation

/// Parses Debian `at` (3.2.x) spool files in `/var/spool/cron/atjobs`.
///
/// The file name is the queue letter, the job number (5 hex digits) and the run time in
/// minutes since the epoch (8 hex digits): `a0000101e18ab0` = queue a, job 1, 2030-01-01 12:00 UTC.
/// The file is a shell script: `#!/bin/sh`, `# atrun uid=N gid=N`, `# mail USER 0`, `umask`,
/// the submitter's environment as `NAME=value; export NAME` lines, then
/// `cd DIR || { ... exit 1 }` and after it the job's commands, verbatim.
enum AtJobParser {
    struct Name: Equatable {
        var queue: Character
        var jobNumber: Int
        var runTime: Date
    }

    struct Job: Equatable {
        var uid: UInt32?
        var command: String
    }

    static func parseName(_ name: String) -> Name? {
        let characters = Array(name)
        guard characters.count == 14, let queue = characters.first,
              queue == "=" || (queue.isASCII && queue.isLetter)
        else { return nil }
        let hex = String(characters[1...])
        guard hex.allSatisfy(\.isHexDigit),
              let job = Int(hex.prefix(5), radix: 16), let minutes = Int(hex.suffix(8), radix: 16)
        else { return nil }
        return Name(queue: queue, jobNumber: job, runTime: Date(timeIntervalSince1970: Double(minutes) * 60))
    }

    static func parseBody(_ lines: TextLines) -> Job? {
        let texts = lines.lines.map(\.text)
        guard texts.first?.hasPrefix("#!") == true else { return nil }
        var uid: UInt32?
        for text in texts.prefix(5) where text.hasPrefix("# atrun ") {
            for field in text.split(separator: " ") where field.hasPrefix("uid=") {
                uid = UInt32(field.dropFirst(4))
            }
        }
        var start: Int?
        if let cd = texts.firstIndex(where: { $0.hasPrefix("cd ") && $0.hasSuffix("|| {") }),
           let close = texts[cd...].firstIndex(of: "}") {
            start = close + 1
        } else if let lastExport = texts.lastIndex(where: { $0.contains("; export ") || $0.hasPrefix("umask ") }) {
            start = lastExport + 1
        }
        guard let start else { return nil }
        var body = Array(texts[min(start, texts.count)...])
        while body.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { body.removeLast() }
        return Job(uid: uid, command: body.joined(separator: "\n"))
    }
}
