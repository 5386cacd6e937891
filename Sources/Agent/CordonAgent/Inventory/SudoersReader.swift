/// Reads `/etc/sudoers` and its includes below the root, collecting the `ALL` grants.
struct SudoersReader {
    struct Grant: Equatable {
        var principal: String
        /// The file that grants it.
        var source: String
    }

    var grants: [Grant] = []
    var readable = false
    var skipped = 0
    var notes: [String] = []

    static func read(fileSystem: RootedFileSystem, limits: InventoryLimits) -> SudoersReader {
        var reader = SudoersReader()
        switch fileSystem.read("/etc/sudoers", maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            reader.readable = true
            var visited: Set<String> = ["/etc/sudoers"]
            reader.consume(contents, source: "/etc/sudoers", fileSystem: fileSystem, limits: limits, visited: &visited, depth: 0)
        case .failure(.missing):
            reader.notes.append("/etc/sudoers missing")
        case .failure(let error):
            reader.notes.append("/etc/sudoers unreadable (\(error)): admin rights from groups only")
        }
        return reader
    }

    private mutating func consume(
        _ contents: RootedFileSystem.Contents, source: String, fileSystem: RootedFileSystem,
        limits: InventoryLimits, visited: inout Set<String>, depth: Int
    ) {
        let parsed = SudoersParser.parse(TextLines(contents.data, maxLineLength: limits.maxLineLength))
        skipped += parsed.skipped
        if parsed.aliasesSkipped > 0 {
            notes.append("\(source): \(parsed.aliasesSkipped) aliases not expanded")
        }
        grants.append(contentsOf: parsed.adminPrincipals.map { Grant(principal: $0, source: source) })
        guard depth < 8 else { return }
        // Relative includes are relative to the including file's directory (sudo 1.9).
        let base = source.split(separator: "/").dropLast().joined(separator: "/")
        let absolute = { (path: String) in path.hasPrefix("/") ? path : "/" + base + "/" + path }
        var files = parsed.includeFiles.map(absolute)
        for directory in parsed.includeDirectories.map(absolute) {
            switch fileSystem.list(directory, maxEntries: limits.maxDirectoryEntries) {
            case .success(let listing):
                // sudo skips names containing '.' or ending in '~' (editor and package leftovers).
                files += listing.names.filter { !$0.contains(".") && !$0.hasSuffix("~") }.map { directory + "/" + $0 }
            case .failure(.missing):
                break
            case .failure(let error):
                notes.append("\(directory): \(error)")
            }
        }
        for file in files where !visited.contains(file) {
            visited.insert(file)
            switch fileSystem.read(file, maxBytes: limits.maxFileBytes) {
            case .success(let included):
                consume(included, source: file, fileSystem: fileSystem, limits: limits, visited: &visited, depth: depth + 1)
            case .failure(let error):
                notes.append("\(file): \(error)")
            }
        }
    }
}
