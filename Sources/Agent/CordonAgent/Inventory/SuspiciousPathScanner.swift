/// Finds what a scheduled job runs from a place a worm can write: the executable of each
/// command in it (its first word after variable assignments and wrappers such as `nice`, or
/// an interpreter's script, or what `sh -c` runs), when it is under /tmp, /var/tmp or
/// /dev/shm, is world-writable, or sits in a world-writable directory without the sticky bit
/// (checked below the root). Paths the job merely mentions (`find /var/tmp -delete`, a log
/// written to /tmp) are not what it runs, and do not count.
struct SuspiciousPathScanner {
    static let scratchDirectories = ["/tmp", "/var/tmp", "/dev/shm"]

    let fileSystem: RootedFileSystem

    func scan(_ command: String) -> [String] {
        var found: [String] = []
        for path in Self.executables(in: command) where !found.contains(path) {
            if isSuspicious(path) { found.append(path) }
        }
        return found
    }

    /// Commands run without changing what is executed.
    static let wrappers: Set<String> = ["env", "nice", "nohup", "ionice", "setsid", "exec", "command", "chrt", "taskset", "flock", "timeout", "sudo", "su", "runuser", "busybox"]
    /// Interpreters whose first non-option argument is the script they run.
    static func isInterpreter(_ name: String) -> Bool {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        if ["sh", "bash", "dash", "zsh", "ksh", "ash", "csh", "tcsh", "perl", "ruby", "php", "node", "nodejs", "lua", "tclsh", "awk"].contains(base) { return true }
        return base.hasPrefix("python") || base.hasPrefix("perl5") || base.hasPrefix("php")
    }

    /// The absolute paths of what `command` executes: per simple command (split at `;`, `&&`,
    /// `||`, `|`, `&` and newlines), the program, and an interpreter's script; `cd DIR` makes
    /// later relative programs (`./x`) resolve in DIR. Bounded: at most 64 commands, depth 3.
    static func executables(in command: String, depth: Int = 0) -> [String] {
        guard depth < 3 else { return [] }
        var result: [String] = []
        var directory: String?
        for segment in segments(command).prefix(64) {
            var words = tokens(segment)
            while let first = words.first, first.contains("="), !first.hasPrefix("/"), !first.hasPrefix("=") { words.removeFirst() }
            while let first = words.first, wrappers.contains(first.split(separator: "/").last.map(String.init) ?? first) {
                words.removeFirst()
                // Options and the arguments of wrappers like `timeout 10` or `nice -n 5`.
                while let next = words.first, next.hasPrefix("-") || Int(next) != nil || next.contains("=") { words.removeFirst() }
            }
            guard let program = words.first else { continue }
            if program == "cd" {
                directory = words.dropFirst().first.flatMap { $0.hasPrefix("/") ? $0 : nil }
                continue
            }
            func resolved(_ word: String) -> String? {
                if word.hasPrefix("/") { return word }
                if word.contains("/"), let directory { return directory + "/" + (word.hasPrefix("./") ? String(word.dropFirst(2)) : word) }
                return nil
            }
            if let path = resolved(program) { result.append(path) }
            guard isInterpreter(program) else { continue }
            var rest = words.dropFirst()[...]
            while let word = rest.first {
                rest = rest.dropFirst()
                if word == "-c" {
                    if let inner = rest.first { result += executables(in: inner, depth: depth + 1) }
                    break
                }
                if word.hasPrefix("-") { continue }
                if let path = resolved(word) { result.append(path) }
                break
            }
        }
        return result.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Splits a command line at the shell's command separators (outside quotes).
    static func segments(_ command: String) -> [String] {
        var parts: [String] = [], current = "", quote: Character?
        var chars = Array(command.prefix(16384))[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if let q = quote {
                current.append(c)
                if c == q { quote = nil }
                continue
            }
            if c == "'" || c == "\"" { quote = c; current.append(c); continue }
            if c == ";" || c == "\n" || c == "|" || c == "&" {
                parts.append(current)
                current = ""
                while let next = chars.first, next == "|" || next == "&" { chars = chars.dropFirst() }
                continue
            }
            current.append(c)
        }
        parts.append(current)
        return parts.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// Words of one simple command: blanks separate, quotes group (and are removed), a
    /// redirection ends the words that can name the program or its script. A leading `-`,
    /// `@`, `+` or `!` (systemd's ExecStart prefixes) is dropped from the first word.
    static func tokens(_ segment: String) -> [String] {
        var words: [String] = [], current = "", quote: Character?, inWord = false
        for c in segment {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
                continue
            }
            switch c {
            case "'", "\"":
                quote = c
                inWord = true
            case " ", "\t", "(", ")", "`", "{", "}":
                if inWord { words.append(current); current = ""; inWord = false }
            case "<", ">":
                // `2>` : the digits belong to the redirection.
                if inWord && Int(current) == nil { words.append(current) }
                return words.filter { !$0.isEmpty }
            default:
                current.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        var result = words.filter { !$0.isEmpty }
        if let first = result.first, let c = first.first, "-@+!:".contains(c), first.count > 1 {
            result[0] = String(first.drop(while: { "-@+!:".contains($0) }))
        }
        return result
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
