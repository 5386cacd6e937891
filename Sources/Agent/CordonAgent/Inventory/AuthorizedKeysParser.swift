import CordonShared
import Crypto
import Foundation

/// Parses `authorized_keys` lines (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): optional options,
/// key type, base64 key blob, optional comment. Keeps the fingerprint, never the key.
enum AuthorizedKeysParser {
    static func parse(_ lines: TextLines, maxKeys: Int, maxFieldLength: Int) -> (keys: [AuthorizedKeyEntry], skipped: Int) {
        var keys: [AuthorizedKeyEntry] = []
        var skipped = lines.skipped
        for line in lines.lines {
            let text = line.text.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard keys.count < maxKeys else { break }
            guard var entry = parseLine(text) else {
                skipped += 1
                continue
            }
            entry.line = line.number
            entry.comment = entry.comment?.bounded(maxFieldLength)
            keys.append(entry)
        }
        return (keys, skipped)
    }

    /// One key line, or `nil` when it is not a valid key.
    static func parseLine(_ text: String) -> AuthorizedKeyEntry? {
        var rest = Substring(text)
        var options: [String] = []
        var first = nextToken(&rest)
        if !isKeyType(first) {
            options = optionNames(first)
            first = nextToken(&rest)
        }
        guard isKeyType(first) else { return nil }
        let blobText = nextToken(&rest)
        guard let blob = Data(base64Encoded: String(blobText)), blobType(blob) == String(first) else { return nil }
        let comment = rest.trimmingCharacters(in: .whitespaces)
        return AuthorizedKeyEntry(
            keyType: String(first), fingerprint: fingerprint(of: blob),
            comment: comment.isEmpty ? nil : comment, options: options, line: 0
        )
    }

    /// `SHA256:` + unpadded base64 of SHA-256 of the key blob, as `ssh-keygen -l` prints it.
    static func fingerprint(of blob: Data) -> String {
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }

    static func isKeyType<S: StringProtocol>(_ token: S) -> Bool {
        guard !token.contains("="), !token.contains("\"") else { return false }
        return token.hasPrefix("ssh-") || token.hasPrefix("ecdsa-sha2-") || token.hasPrefix("sk-ssh-")
            || token.hasPrefix("sk-ecdsa-")
    }

    /// The key type string at the start of a key blob (uint32 length + bytes).
    static func blobType(_ blob: Data) -> String? {
        let bytes = [UInt8](blob.prefix(68))
        guard bytes.count >= 4 else { return nil }
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length > 0, length <= 64, bytes.count >= 4 + length else { return nil }
        return String(validating: bytes[4..<(4 + length)], as: UTF8.self)
    }

    /// Takes the next whitespace-delimited token, where whitespace inside double quotes
    /// (option values) does not end it.
    private static func nextToken(_ rest: inout Substring) -> Substring {
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        var inQuotes = false
        var escaped = false
        var end = rest.startIndex
        while end < rest.endIndex {
            let character = rest[end]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else if !inQuotes && (character == " " || character == "\t") {
                break
            }
            end = rest.index(after: end)
        }
        let token = rest[..<end]
        rest = rest[end...]
        return token
    }

    /// The option names of an options string: `command="a,b",no-pty` -> [command, no-pty].
    static func optionNames<S: StringProtocol>(_ options: S) -> [String] {
        var names: [String] = []
        var current = ""
        var inQuotes = false
        var escaped = false
        var inValue = false
        for character in options {
            if escaped {
                escaped = false
                continue
            }
            if character == "\\" {
                escaped = true
                continue
            }
            if character == "\"" {
                inQuotes.toggle()
                continue
            }
            if inQuotes { continue }
            if character == "," {
                if !current.isEmpty { names.append(current.lowercased()) }
                current = ""
                inValue = false
            } else if character == "=" {
                inValue = true
            } else if !inValue {
                current.append(character)
            }
        }
        if !current.isEmpty { names.append(current.lowercased()) }
        return names
    }
}
