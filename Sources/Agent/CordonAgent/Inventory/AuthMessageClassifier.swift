import CordonShared
import Foundation

/// Recognises failed-logon messages of sshd and PAM (the text after `program[pid]: `).
///
/// Recognised:
/// - `Failed password for [invalid user ]X from A port P ssh2` (and `keyboard-interactive/pam`)
/// - `Invalid user X from A port P`
/// - `pam_unix(SERVICE:auth): authentication failure; ... rhost=A  user=X`, and
///   `PAM N more authentication failures; ...` (counts N). sshd's PAM lines without `user=`
///   (unknown users) are left out: sshd's own `Invalid user` line names the account.
/// - rsyslog's `message repeated N times: [ ... ]` around any of these (counts N).
///
/// Deliberately not counted: `Connection closed by [authenticating|invalid] user X A port P
/// [preauth]`. It is logged when a client hangs up during authentication, which a legitimate
/// client offering keys does too, and when it follows failed passwords those were logged
/// already; counting it would inflate every aggregate without adding an attempt.
enum AuthMessageClassifier {
    static func classify(program: String, message: String, date: Date) -> FailedLogonEvent? {
        var text = Substring(message)
        var count = 1
        if text.hasPrefix("message repeated "), let open = text.firstIndex(of: "["), text.hasSuffix("]") {
            let words = text.split(separator: " ")
            if words.count > 2, let repeated = Int(words[2]) { count = max(1, min(repeated, 1_000_000)) }
            text = text[text.index(after: open)..<text.index(before: text.endIndex)]
            text = text.drop(while: { $0 == " " })
        }
        if var event = classifySingle(program: program, message: text, date: date) {
            event.count *= count
            return event
        }
        return nil
    }

    private static func classifySingle(program: String, message: Substring, date: Date) -> FailedLogonEvent? {
        for prefix in ["Failed password for ", "Failed keyboard-interactive/pam for "] where message.hasPrefix(prefix) {
            var rest = message.dropFirst(prefix.count)
            if rest.hasPrefix("invalid user ") { rest = rest.dropFirst("invalid user ".count) }
            guard let (account, source) = splitFrom(rest) else { return nil }
            return FailedLogonEvent(date: date, source: source, account: account, evidence: .sshdFailedPassword)
        }
        if message.hasPrefix("Invalid user ") {
            guard let (account, source) = splitFrom(message.dropFirst("Invalid user ".count)) else { return nil }
            return FailedLogonEvent(date: date, source: source, account: account, evidence: .sshdInvalidUser)
        }
        if let phrase = message.range(of: "authentication failure"), let range = message[phrase.upperBound...].range(of: "; ") {
            var count = 1
            if message.hasPrefix("PAM "), let number = Int(message.dropFirst(4).prefix(while: \.isNumber)) {
                count = max(1, min(number, 1000))
            }
            let fields = keyValues(message[range.upperBound...])
            let account = fields["user"] ?? ""
            let source = fields["rhost"] ?? ""
            let service = pamService(message) ?? program
            if account.isEmpty && (service == "sshd" || program.hasPrefix("sshd")) { return nil }
            return FailedLogonEvent(date: date, source: source, account: account, evidence: .pamFailure, count: count)
        }
        return nil
    }

    /// `X from A port P ...` -> (X, A), splitting at the last ` from ` so that odd user names
    /// (which sshd logs verbatim) do not confuse it.
    private static func splitFrom(_ text: Substring) -> (String, String)? {
        guard let range = text.range(of: " from ", options: .backwards) else {
            // "Invalid user  from A" (empty name) has no space before "from".
            if text.hasPrefix("from ") {
                let address = text.dropFirst(5).split(separator: " ").first.map(String.init) ?? ""
                return address.isEmpty ? nil : ("", address)
            }
            return nil
        }
        let account = String(text[..<range.lowerBound])
        let address = text[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
        guard !address.isEmpty else { return nil }
        return (account, address)
    }

    /// `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root` -> dictionary.
    private static func keyValues(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        for word in text.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }

    /// `pam_unix(sshd:auth): ...` -> `sshd`.
    private static func pamService(_ message: Substring) -> String? {
        guard let open = message.firstIndex(of: "("), let colon = message[open...].firstIndex(of: ":") else { return nil }
        return String(message[message.index(after: open)..<colon])
    }
}
