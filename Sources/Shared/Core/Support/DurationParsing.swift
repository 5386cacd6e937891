/// Parses and prints the human durations that Cordon's CLIs and config files take:
/// `90s`, `15m`, `1h`, `7d`, `1h30m`, or a bare number of seconds.
public enum HumanDuration {
    /// Seconds in `text`, or nil when it is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty, trimmed.count <= 32 else { return nil }
        if let plain = Double(trimmed) { return plain >= 0 && plain.isFinite ? plain : nil }
        var total = 0.0
        var number = ""
        var sawUnit = false
        var index = trimmed.startIndex
        while index < trimmed.endIndex {
            let c = trimmed[index]
            if c.isNumber || c == "." {
                number.append(c)
                index = trimmed.index(after: index)
                continue
            }
            var unit = String(c)
            let next = trimmed.index(after: index)
            if c == "m", next < trimmed.endIndex, trimmed[next] == "s" {
                unit = "ms"
                index = trimmed.index(after: next)
            } else {
                index = next
            }
            guard let value = Double(number) else { return nil }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            case "w": scale = 604_800
            default: return nil
            }
            total += value * scale
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return total
    }

    /// A short human form: `45s`, `12m`, `3h`, `2d`.
    public static func format(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 1 { return "\(Int(s * 1000))ms" }
        if s < 120 { return "\(Int(s))s" }
        if s < 7200 { return "\(Int(s / 60))m" }
        if s < 172_800 { return "\(Int(s / 3600))h" }
        return "\(Int(s / 86400))d"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
