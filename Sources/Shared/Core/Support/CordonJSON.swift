import Foundation

/// The JSON encoder and decoder every Cordon component uses on the wire and in storage.
///
/// Dates are ISO 8601 with fractional seconds (decoding also takes them without), keys are
/// sorted so that the same value always encodes to the same bytes (signatures rely on it).
public enum CordonJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(CordonTime.format(date))
        }
        return encoder
    }

    /// The dates a coordinator takes from the network at all: 1970-01-01 up to (not including)
    /// 2200-01-01. Later ones are a broken clock or a hostile client, and some (year 10000)
    /// cannot even be read back from the database. The lower end stays at 1970 because inventory
    /// carries real dates from then: `usermod --expiredate 1` locks an account with 1970-01-02.
    /// The request's own timestamps (a report's `createdAt`, a heartbeat's `sentAt`) are held to
    /// the tighter `protocolDateFloor` by the routes.
    public static let networkDateWindow: Range<Date> = Date(timeIntervalSince1970: 0)..<Date(timeIntervalSince1970: 7_258_118_400)

    /// 2000-01-01: no agent sends a report or a heartbeat stamped earlier unless its clock is broken.
    public static let protocolDateFloor = Date(timeIntervalSince1970: 946_684_800)

    public static func decoder(dateWindow: Range<Date>? = nil) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = CordonTime.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected an ISO 8601 date, got \(text.prefix(40).debugDescription)")
            }
            if let dateWindow, !dateWindow.contains(date) {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(text.prefix(40).debugDescription) is outside 1970-01-01 to 2199-12-31: check the sender's clock")
            }
            return date
        }
        return decoder
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, dateWindow: Range<Date>? = nil) throws -> T {
        try decoder(dateWindow: dateWindow).decode(type, from: data)
    }

    /// As `describe(_:)`, and when the decoder only says "not valid JSON" although the body is
    /// JSON (the decoder's word for a number that fits no field: 1e20 or 1.5 where an integer
    /// belongs), the numbers that cannot be an integer, by path.
    public static func describe(_ error: any Error, body: Data) -> String {
        guard case .dataCorrupted(let context)? = error as? DecodingError, context.codingPath.isEmpty,
              let suspects = numbersThatFitNoInteger(in: body) else { return describe(error) }
        switch suspects {
        case .none: return "a number does not fit its field (out of the field's range, e.g. a port above 65535)"
        case .outOfRange(let list): return "a number does not fit its field: " + list.joined(separator: ", ")
        case .fractions(let list): return "a number does not fit its field; one of these fractions where an integer belongs? " + list.joined(separator: ", ")
        }
    }

    enum UnfitNumbers: Equatable {
        case none
        /// Numbers no 64-bit integer holds: these do not fit whatever the field.
        case outOfRange([String])
        /// Only fractions, which are fine in some fields: candidates.
        case fractions([String])
    }

    /// Numbers in a JSON body that fit no 64-bit integer, at most five, as `'path' = value`; nil
    /// when the body is not JSON at all.
    static func numbersThatFitNoInteger(in body: Data) -> UnfitNumbers? {
        guard let root = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else { return nil }
        var outOfRange: [String] = [], fractions: [String] = []
        var visited = 0
        func walk(_ value: Any, _ path: String, depth: Int) {
            visited += 1
            guard visited <= 100_000, depth <= 64 else { return }
            if value is Bool || value is String || value is NSNull { return }
            if let object = value as? [String: Any] {
                for key in object.keys.sorted() {
                    walk(object[key]!, path.isEmpty ? key : "\(path).\(key)", depth: depth + 1)
                }
            } else if let array = value as? [Any] {
                for (index, element) in array.enumerated() { walk(element, "\(path)[\(index)]", depth: depth + 1) }
            } else if let number = value as? NSNumber {
                let text = "'\(Terminal.sanitize(path, limit: 120))' = \(Terminal.sanitize(number.description, limit: 40))"
                if number is NSDecimalNumber || String(cString: number.objCType) == "d" {
                    let double = number.doubleValue
                    if !double.isFinite || double >= 9.223372036854775807e18 || double < -9.223372036854775808e18 {
                        outOfRange.append(text)
                    } else if double.rounded() != double {
                        fractions.append(text)
                    }
                }
            }
        }
        walk(root, "", depth: 0)
        if !outOfRange.isEmpty { return .outOfRange(Array(outOfRange.prefix(5))) }
        return fractions.isEmpty ? UnfitNumbers.none : .fractions(Array(fractions.prefix(5)))
    }

    /// A one-line, human description of a decoding failure that names the field and the problem.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            return p.isEmpty ? "the body" : "'\(p)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "missing field '\(key.stringValue)'\(parent)"
        case .typeMismatch(let type, let context):
            return "wrong type for \(path(context)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "null for \(path(context)): expected \(typeName(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "malformed JSON: \(context.debugDescription)" }
            return "invalid value for \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        return switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt16.Type, is UInt64.Type, is Int32.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default:
            String(describing: type).hasPrefix("Array") ? "an array"
                : String(describing: type).hasPrefix("Dictionary") ? "an object" : String(describing: type)
        }
    }
}

/// Timestamps in Cordon's one textual form: ISO 8601, UTC, milliseconds.
public enum CordonTime {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 40, fieldsInRange(text) else { return nil }
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return d }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// Foundation's parser rolls fields over (`12:99:00` is 13:39, `02-30` is March 2): a
    /// timestamp with a field out of range is not a timestamp. Checks the calendar fields of
    /// `YYYY-MM-DDTHH:MM:SS...` before parsing; the rest is left to the parser.
    static func fieldsInRange(_ text: String) -> Bool {
        let b = Array(text.utf8.prefix(19))
        guard b.count == 19, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74, b[13] == 0x3A, b[16] == 0x3A else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month) else { return false }
        return (1...days[month - 1]).contains(day) && hour <= 23 && minute <= 59 && second <= 59
    }
}
