/// Plain-text tables for people: left-aligned columns, two spaces apart, a header row.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(_ headers: [String]) {
        self.headers = headers
    }

    public mutating func add(_ row: [String]) {
        rows.append(row)
    }

    public func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() where i < widths.count {
                let last = i == widths.count - 1
                out += last ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            return out
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Printing helpers for the CLIs.
public enum Terminal {
    /// Makes a string from a remote or scanned source safe to print: control characters are
    /// escaped and the length is bounded.
    public static func sanitize(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            let piece: String
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                piece = "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                piece = String(scalar)
            }
            if count + piece.unicodeScalars.count > limit {
                out += "…"
                return out
            }
            out += piece
            count += piece.unicodeScalars.count
        }
        return out
    }
}
