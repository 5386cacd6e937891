import Foundation

/// Reads `journalctl -o json` output: one JSON object per line with `MESSAGE` (a string, or an
/// array of bytes when not UTF-8), `__REALTIME_TIMESTAMP` (microseconds since the epoch, as a
/// string) and `SYSLOG_IDENTIFIER` / `_COMM`.
enum JournalParser {
    static func parse(_ lines: TextLines, classify: (String, String, Date) -> FailedLogonEvent?) -> (events: [FailedLogonEvent], skipped: Int) {
        var events: [FailedLogonEvent] = []
        var skipped = lines.skipped
        for line in lines.lines {
            let text = line.text.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let micros = (object["__REALTIME_TIMESTAMP"] as? String).flatMap({ UInt64($0) }),
                  let message = messageText(object["MESSAGE"])
            else {
                skipped += 1
                continue
            }
            let program = (object["SYSLOG_IDENTIFIER"] as? String) ?? (object["_COMM"] as? String) ?? ""
            let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            if let event = classify(program, message, date) { events.append(event) }
        }
        return (events, skipped)
    }

    private static func messageText(_ value: Any?) -> String? {
        if let text = value as? String { return text }
        if let bytes = value as? [Any] {
            let data = bytes.compactMap { ($0 as? NSNumber).map { UInt8(truncatingIfNeeded: $0.intValue) } }
            guard data.count == bytes.count else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
        return nil
    }
}
