import CordonShared
import Foundation

/// Passwords on the real host: reads `/etc/shadow`, changes it only through `chpasswd`
/// (which takes `user:password` lines on its standard input and goes through PAM, so that the
/// host's own hashing scheme and locking apply).
public struct LiveAccountSystem: AccountSystem {
    public var runner: any RemediationCommandRunner
    public var shadowPath: String

    public init(runner: any RemediationCommandRunner = RemediationProcessRunner(), shadowPath: String = "/etc/shadow") {
        self.runner = runner
        self.shadowPath = shadowPath
    }

    public func shadowEntry(user: String) throws -> ShadowEntry? {
        let data: Data
        do { data = try SecureFile.read(shadowPath, limit: 16 << 20) } catch let error as CordonError {
            throw AgentError.remediation("cannot read \(shadowPath): \(error.reason)")
        }
        return Self.entry(user: user, in: data)
    }

    static func entry(user: String, in data: Data) -> ShadowEntry? {
        let prefix = Array((user + ":").utf8)
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) where line.starts(with: prefix) {
            let text = String(decoding: line, as: UTF8.self)
            let fields = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else { continue }
            return ShadowEntry(user: user, hash: String(fields[1]), line: text)
        }
        return nil
    }

    public func setPassword(user: String, password: SecretBytes) throws {
        var input = Array((user + ":").utf8) + password.bytes + [UInt8(ascii: "\n")]
        defer { for index in input.indices { input[index] = 0 } }
        try chpasswd(arguments: [], input: input, user: user)
    }

    public func setPasswordHash(user: String, hash: String) throws {
        guard !hash.contains(":"), !hash.contains("\n") else { throw AgentError.remediation("refusing a password hash with ':' or a newline") }
        try chpasswd(arguments: ["-e"], input: Array("\(user):\(hash)\n".utf8), user: user)
    }

    private func chpasswd(arguments: [String], input: [UInt8], user: String) throws {
        guard let tool = runner.locate("chpasswd") else { throw AgentError.remediation("chpasswd is not installed (package passwd)") }
        let result = runner.run(tool, arguments: arguments, input: input, timeout: .seconds(60), outputLimit: 64 << 10)
        guard result.termination == .exited(0) else {
            throw AgentError.remediation("chpasswd did not change the password of \(user): \(result.failureSummary)")
        }
    }
}
