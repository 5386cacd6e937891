import CordonShared

/// Parses dpkg's status database (`/var/lib/dpkg/status`): RFC 822-style stanzas separated by
/// blank lines. Only Package, Version, Architecture and Status are kept.
enum DpkgStatusParser {
    struct Output {
        var packages: [InstalledPackage] = []
        var skippedLines = 0
        var truncated = false
    }

    static func parse(_ lines: TextLines, maxPackages: Int, maxFieldLength: Int) -> Output {
        var output = Output()
        output.skippedLines = lines.skipped
        var fields: [String: String] = [:]
        var stanzaHasContent = false

        func finishStanza() {
            defer {
                fields = [:]
                stanzaHasContent = false
            }
            guard stanzaHasContent else { return }
            guard let name = fields["package"], !name.isEmpty else {
                output.skippedLines += 1
                return
            }
            guard output.packages.count < maxPackages else {
                output.truncated = true
                return
            }
            output.packages.append(InstalledPackage(
                name: name.bounded(maxFieldLength),
                version: (fields["version"] ?? "").bounded(maxFieldLength),
                architecture: (fields["architecture"] ?? "").bounded(maxFieldLength),
                status: (fields["status"] ?? "").bounded(maxFieldLength),
                manager: .dpkg
            ))
        }

        for line in lines.lines {
            let text = line.text
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) {
                finishStanza()
                continue
            }
            stanzaHasContent = true
            if text.first == " " || text.first == "\t" { continue }  // continuation of a long field
            guard let colon = text.firstIndex(of: ":") else {
                output.skippedLines += 1
                continue
            }
            let key = text[..<colon].lowercased()
            guard ["package", "version", "architecture", "status"].contains(key) else { continue }
            let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[key] = String(value)
        }
        finishStanza()
        return output
    }
}
