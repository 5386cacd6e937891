/// Finds the users and `%groups` that sudoers grants `ALL` commands.
///
/// Handles comments, line continuations, `Defaults`, aliases (skipped, counted in a note),
/// `#include`/`@include` and `#includedir`/`@includedir` (returned for the caller to read).
/// A rule grants admin when one of its command lists is `ALL` (after an optional `(runas)` and
/// tags such as `NOPASSWD:`).
enum SudoersParser {
    struct Output: Equatable {
        /// `alice`, `%sudo`, `#1000`: the user specs of rules that grant ALL.
        var adminPrincipals: [String] = []
        var includeDirectories: [String] = []
        var includeFiles: [String] = []
        var aliasesSkipped = 0
        var skipped = 0
    }

    static func parse(_ lines: TextLines) -> Output {
        var output = Output()
        output.skipped = lines.skipped
        var logical: [String] = []
        var pending = ""
        for line in lines.lines {
            var text = line.text
            if text.hasSuffix("\\") {
                text.removeLast()
                pending += text + " "
                continue
            }
            logical.append(pending + text)
            pending = ""
        }
        if !pending.isEmpty { logical.append(pending) }

        for raw in logical {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            for directive in ["#includedir ", "@includedir "] where text.hasPrefix(directive) {
                output.includeDirectories.append(String(text.dropFirst(directive.count)).trimmingCharacters(in: .whitespaces))
            }
            for directive in ["#include ", "@include "] where text.hasPrefix(directive) {
                output.includeFiles.append(String(text.dropFirst(directive.count)).trimmingCharacters(in: .whitespaces))
            }
            // "#1000" is a UID, not a comment.
            if text.hasPrefix("@") || (text.hasPrefix("#") && !(text.dropFirst().first?.isNumber ?? false)) { continue }
            let withoutComment = stripComment(text)
            let firstWord = withoutComment.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            if firstWord.hasPrefix("Defaults") { continue }
            if ["User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias"].contains(firstWord) {
                output.aliasesSkipped += 1
                continue
            }
            guard let equals = withoutComment.firstIndex(of: "=") else {
                output.skipped += 1
                continue
            }
            // "users hosts = spec" : the users are the first word(s) before the host list.
            let head = withoutComment[..<equals].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard head.count >= 2 else {
                output.skipped += 1
                continue
            }
            let users = head.dropLast().joined(separator: "").split(separator: ",").map(String.init)
            let spec = String(withoutComment[withoutComment.index(after: equals)...])
            if grantsAll(spec) {
                output.adminPrincipals.append(contentsOf: users.filter { !$0.isEmpty })
            }
        }
        return output
    }

    /// The text before a `#` that starts a comment (one not followed by a digit: `#1000` is a UID).
    static func stripComment(_ text: String) -> Substring {
        var index = text.startIndex
        while let hash = text[index...].firstIndex(of: "#") {
            let next = text.index(after: hash)
            if next == text.endIndex || !text[next].isNumber { return text[..<hash] }
            index = next
        }
        return Substring(text)
    }

    /// Whether one of the command lists of a rule's right-hand side is `ALL`.
    static func grantsAll(_ spec: String) -> Bool {
        // Several "host = cmnds" groups may be joined by ':'; tags also end in ':'.
        for command in spec.split(separator: ",") {
            var text = command.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("(") , let close = text.firstIndex(of: ")") {
                text = String(text[text.index(after: close)...]).trimmingCharacters(in: .whitespaces)
            }
            // Strip tags such as NOPASSWD: SETENV:
            while let colon = text.firstIndex(of: ":"),
                  text[..<colon].allSatisfy({ $0.isUppercase || $0 == "_" }), !text[..<colon].isEmpty {
                text = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            if text == "ALL" { return true }
        }
        return false
    }
}
