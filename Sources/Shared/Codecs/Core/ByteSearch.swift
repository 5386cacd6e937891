/// Small byte-level search helpers (no Foundation).
enum ByteSearch {
    /// The first index of `needle` in `haystack`, comparing ASCII letters case-insensitively.
    static func firstIndex(of needle: String, in haystack: [UInt8], caseInsensitive: Bool = true) -> Int? {
        let pattern = Array(needle.utf8).map { caseInsensitive ? lower($0) : $0 }
        guard !pattern.isEmpty, haystack.count >= pattern.count else { return pattern.isEmpty ? 0 : nil }
        var i = 0
        let last = haystack.count - pattern.count
        outer: while i <= last {
            for j in 0..<pattern.count {
                let c = caseInsensitive ? lower(haystack[i + j]) : haystack[i + j]
                if c != pattern[j] { i += 1; continue outer }
            }
            return i
        }
        return nil
    }

    /// True when `haystack` contains `needle` (ASCII case-insensitive by default).
    static func contains(_ needle: String, in haystack: [UInt8], caseInsensitive: Bool = true) -> Bool {
        firstIndex(of: needle, in: haystack, caseInsensitive: caseInsensitive) != nil
    }

    static func lower(_ c: UInt8) -> UInt8 {
        (0x41...0x5A).contains(c) ? c + 0x20 : c
    }
}
