/// Byte sizes as config files write them: `16MiB`, `64 MiB`, `512KiB`, `1GiB`, `1048576`,
/// and the SI forms `16MB` (10^6).
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingSpaces()
        guard !t.isEmpty, t.utf8.count <= 24 else { return nil }
        let digits = t.prefix { $0.isNumber || $0 == "." }
        let unit = String(t.dropFirst(digits.count)).trimmingSpaces().lowercased()
        guard let value = Double(digits), value >= 0 else { return nil }
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "kb": scale = 1000
        case "m", "mib": scale = 1_048_576
        case "mb": scale = 1_000_000
        case "g", "gib": scale = 1_073_741_824
        case "gb": scale = 1_000_000_000
        default: return nil
        }
        let bytes = value * scale
        guard bytes <= Double(Int.max / 2) else { return nil }
        return Int(bytes)
    }

    public static func format(_ bytes: Int) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30)GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
        if bytes >= 1 << 20 { let tenths = Int((Double(bytes) / 1_048_576 * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)MiB" }
        return "\(bytes)B"
    }
}
