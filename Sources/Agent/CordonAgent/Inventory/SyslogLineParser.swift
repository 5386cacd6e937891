import Foundation

/// Splits a syslog file line into time, program and message. Understands the traditional
/// `Jan  5 12:34:56 host prog[pid]: msg` (year-less: the year is inferred from `now`, so a
/// December line read in January belongs to last year) and RFC 3339
/// `2025-01-05T12:34:56.123456+00:00 host prog[pid]: msg` (Debian 12 rsyslog's default).
struct SyslogLineParser {
    struct Line: Equatable {
        var date: Date
        var program: String
        var message: String
    }

    let now: Date
    let calendar: Calendar

    init(now: Date, timeZone: TimeZone) {
        self.now = now
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    func parse(_ text: String) -> Line? {
        let date: Date
        var rest: Substring
        if let first = text.first, first.isNumber {
            guard let space = text.firstIndex(of: " "), let parsed = Self.rfc3339(text[..<space]) else { return nil }
            date = parsed
            rest = text[text.index(after: space)...]
        } else {
            guard text.utf8.count > 16, let parsed = traditional(text.prefix(15)) else { return nil }
            date = parsed
            rest = text.dropFirst(16)
        }
        // host, then "prog[pid]:" or "prog:"
        rest = rest.drop(while: { $0 == " " })
        guard let hostEnd = rest.firstIndex(of: " ") else { return nil }
        rest = rest[rest.index(after: hostEnd)...]
        guard let colon = rest.range(of: ": ") else { return nil }
        let tag = rest[..<colon.lowerBound]
        let program = tag.prefix(while: { $0 != "[" })
        return Line(date: date, program: String(program), message: String(rest[colon.upperBound...]))
    }

    /// `Jan  5 12:34:56` in the configured time zone, in the latest year that is not after now
    /// (with a day's tolerance for clock skew).
    func traditional(_ text: Substring) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 3, let month = Self.months.firstIndex(of: String(parts[0])),
              let day = Int(parts[1]), (1...31).contains(day)
        else { return nil }
        let clock = parts[2].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
              (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second)
        else { return nil }
        let nowYear = calendar.component(.year, from: now)
        for year in [nowYear, nowYear - 1] {
            let components = DateComponents(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
            // Feb 29 does not exist every year: then try the year before.
            guard let date = calendar.date(from: components), calendar.component(.day, from: date) == day else { continue }
            if date <= now.addingTimeInterval(86400) { return date }
        }
        return nil
    }

    /// `2025-01-05T12:34:56.123456+00:00` (fraction and `Z` optional).
    static func rfc3339(_ text: Substring) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int? {
            guard start + length <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + length)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == UInt8(ascii: "Z") {
            guard index + 1 == bytes.count else { return nil }
        } else {
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), bytes.count == index + 6,
                  bytes[index + 3] == UInt8(ascii: ":"), let hours = number(index + 1, 2), let minutes = number(index + 4, 2)
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let base = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)) else {
            return nil
        }
        return base.addingTimeInterval(fraction - Double(offset))
    }
}
