import CordonShared
import Foundation

/// Byte-exact edits of a crontab: find the line that carries a scheduled-task ID (computed as
/// the inventory computes it, over the bytes about to be changed), remove exactly that line,
/// put it back. Every other byte of the file stays as it was.
enum CrontabEdit {
    /// System crontabs have a user field; the per-user spool files do not.
    static func hasUserField(source: String) -> Bool {
        source == ScheduledTaskCollector.systemCrontab || source.hasPrefix(ScheduledTaskCollector.cronDirectory + "/")
    }

    /// The 1-based number of the line whose entry has `id` in `data`, read as `source`; nil
    /// when no line has it any more.
    static func locate(id: String, in data: Data, source: String, limits: InventoryLimits = .standard) -> Int? {
        let lines = TextLines(data, maxLineLength: limits.maxLineLength)
        var seen: [String: Int] = [:]
        for entry in CrontabParser.parse(lines, hasUserField: hasUserField(source: source)).entries {
            let occurrence = seen[entry.normalized, default: 0]
            seen[entry.normalized] = occurrence + 1
            if ScheduledTaskID.make(kind: .cron, source: source, content: entry.normalized, occurrence: occurrence) == id {
                return entry.line
            }
        }
        return nil
    }

    /// The byte ranges of the lines, each with its newline (the last may lack one), numbered
    /// as `TextLines` numbers them.
    static func lineRanges(_ data: Data) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        let bytes = [UInt8](data)
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            ranges.append(start..<(index + 1))
            start = index + 1
        }
        if start < bytes.count { ranges.append(start..<bytes.count) }
        return ranges
    }

    /// `data` without line `number` (1-based), and the removed line without its newline.
    static func removing(line number: Int, from data: Data) -> (data: Data, removed: String)? {
        let bytes = [UInt8](data)
        let ranges = lineRanges(data)
        guard number >= 1, number <= ranges.count else { return nil }
        let range = ranges[number - 1]
        var line = Array(bytes[range])
        if line.last == UInt8(ascii: "\n") { line.removeLast() }
        let result = Array(bytes[..<range.lowerBound]) + Array(bytes[range.upperBound...])
        return (Data(result), String(decoding: line, as: UTF8.self))
    }

    /// `data` with `line` inserted as line `number` (1-based, clamped to the end).
    static func inserting(_ line: String, at number: Int, into data: Data) -> Data {
        var bytes = [UInt8](data)
        let ranges = lineRanges(data)
        let newLine = Array(line.utf8) + [UInt8(ascii: "\n")]
        if number - 1 < ranges.count {
            bytes.insert(contentsOf: newLine, at: ranges[max(0, number - 1)].lowerBound)
        } else {
            if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
            bytes.append(contentsOf: newLine)
        }
        return Data(bytes)
    }

    /// How many lines of `data` are exactly `line` (ignoring a trailing CR).
    static func count(line: String, in data: Data) -> Int {
        let bytes = [UInt8](data)
        let wanted = Array(line.utf8)
        return lineRanges(data).filter { range in
            var candidate = Array(bytes[range])
            if candidate.last == UInt8(ascii: "\n") { candidate.removeLast() }
            if candidate.last == UInt8(ascii: "\r"), wanted.last != UInt8(ascii: "\r") { candidate.removeLast() }
            return candidate == wanted
        }.count
    }
}
