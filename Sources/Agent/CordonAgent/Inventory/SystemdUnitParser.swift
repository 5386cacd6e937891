/// Parses systemd unit files (INI-like): `[Section]`, `Key=Value`, `#`/`;` comments,
/// backslash line continuation. Keys may repeat; order is kept.
enum SystemdUnitParser {
    struct Unit: Equatable {
        var sections: [String: [(key: String, value: String)]] = [:]
        var skipped = 0

        func values(_ section: String, _ key: String) -> [String] {
            (sections[section] ?? []).filter { $0.key == key }.map(\.value)
        }

        static func == (lhs: Unit, rhs: Unit) -> Bool {
            lhs.skipped == rhs.skipped && lhs.sections.keys == rhs.sections.keys
                && lhs.sections.allSatisfy { name, entries in
                    let other = rhs.sections[name] ?? []
                    return entries.count == other.count && zip(entries, other).allSatisfy { $0 == $1 }
                }
        }
    }

    static func parse(_ lines: TextLines) -> Unit {
        var unit = Unit()
        unit.skipped = lines.skipped
        var section: String?
        var pending: String?
        for line in lines.lines {
            var text = line.text.trimmingCharacters(in: .whitespaces)
            if let prefix = pending {
                text = prefix + " " + text
                pending = nil
            }
            if text.isEmpty || text.hasPrefix("#") || text.hasPrefix(";") { continue }
            if text.hasSuffix("\\") {
                pending = String(text.dropLast())
                continue
            }
            if text.hasPrefix("[") && text.hasSuffix("]") {
                section = String(text.dropFirst().dropLast())
                continue
            }
            guard let section, let equals = text.firstIndex(of: "=") else {
                unit.skipped += 1
                continue
            }
            let key = text[..<equals].trimmingCharacters(in: .whitespaces)
            let value = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            unit.sections[section, default: []].append((key, value))
        }
        return unit
    }
}
