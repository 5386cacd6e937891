import Foundation

/// Splits bounded file contents into lines without ever trusting them.
struct TextLines: Sendable {
    /// One line with its 1-based number in the data that was read.
    struct Line: Sendable {
        var number: Int
        var text: String
    }

    var lines: [Line] = []
    /// Lines longer than the limit, or not valid UTF-8 in strict mode.
    var skipped = 0

    /// - Parameters:
    ///   - dropFirstPartial: the data is the tail of a larger file: its first line is partial.
    ///   - lossy: replace invalid UTF-8 (logs) instead of skipping the line (account files).
    init(_ data: Data, maxLineLength: Int, dropFirstPartial: Bool = false, lossy: Bool = false) {
        var number = 0
        var first = true
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let count = bytes.count
            var lineStart = 0
            var index = 0
            func emit(_ end: Int) {
                defer { first = false }
                if first && dropFirstPartial { return }
                number += 1
                var stop = end
                if stop > lineStart && bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
                let length = stop - lineStart
                if length > maxLineLength {
                    skipped += 1
                    return
                }
                let slice = UnsafeBufferPointer(rebasing: bytes[lineStart..<stop])
                if lossy {
                    lines.append(Line(number: number, text: String(decoding: slice, as: UTF8.self)))
                } else if let text = String(validating: slice, as: UTF8.self), !text.utf8.contains(0) {
                    lines.append(Line(number: number, text: text))
                } else {
                    skipped += 1
                }
            }
            while index < count {
                if bytes[index] == UInt8(ascii: "\n") {
                    emit(index)
                    lineStart = index + 1
                }
                index += 1
            }
            if lineStart < count { emit(count) }
        }
    }
}

extension String {
    /// The string cut to at most `limit` characters (never in the middle of a character).
    func bounded(_ limit: Int) -> String {
        count <= limit ? self : String(prefix(limit))
    }
}
