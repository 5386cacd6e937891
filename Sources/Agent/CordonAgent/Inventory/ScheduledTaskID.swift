import CordonShared
import Crypto
import Foundation

/// Stable IDs of scheduled tasks: the same entry gets the same ID on every collection, so that
/// a cleanup task can name exactly one entry, and a changed entry gets a new one.
enum ScheduledTaskID {
    /// `<kind>:` + the first 16 hex digits of SHA-256(source, normalised content, occurrence).
    /// The occurrence index tells identical lines of one file apart.
    static func make(kind: ScheduledTaskEntry.Kind, source: String, content: String, occurrence: Int) -> String {
        let input = source + "\n" + content + "\n" + String(occurrence)
        return kind.rawValue + ":" + hexDigest(Data(input.utf8)).prefix(16)
    }

    static func hexDigest(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Whitespace runs collapsed to one space, ends trimmed.
    static func normalize(_ line: String) -> String {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
