/// Finds the paths in a command that a worm would use: anything under /tmp, /var/tmp or
/// /dev/shm, and files or directories that anyone may write (checked below the root), or whose
/// directory anyone may write without the sticky bit.
struct SuspiciousPathScanner {
    static let scratchDirectories = ["/tmp", "/var/tmp", "/dev/shm"]

    let fileSystem: RootedFileSystem

    func scan(_ command: String) -> [String] {
        var found: [String] = []
        for path in Self.absolutePaths(in: command) where !found.contains(path) {
            if isSuspicious(path) { found.append(path) }
        }
        return found
    }

    /// Absolute paths in a shell command: words (split at blanks, quotes, redirections and
    /// separators) that start with `/`.
    static func absolutePaths(in command: String) -> [String] {
        let separators: Set<Character> = [" ", "\t", "\n", ";", "|", "&", "<", ">", "(", ")", "'", "\"", "`", "=", ",", "$", "{", "}"]
        return command.split(whereSeparator: { separators.contains($0) })
            .filter { $0.hasPrefix("/") && $0.count > 1 }
            .map { String($0.count > 1 && $0.hasSuffix("/") ? $0.dropLast() : $0) }
    }

    private func isSuspicious(_ path: String) -> Bool {
        for directory in Self.scratchDirectories where path == directory || path.hasPrefix(directory + "/") {
            return true
        }
        if case .success(let status) = fileSystem.status(path),
           status.isRegularFile || status.isDirectory, status.isWorldWritable {
            return true
        }
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if case .success(let status) = fileSystem.status("/" + parent), status.isDirectory, status.isWorldWritable,
           status.mode & 0o1000 == 0 {
            return true
        }
        return false
    }
}
