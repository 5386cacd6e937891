import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Passwords on the real host: reads `/etc/shadow`, changes it only through `chpasswd`
/// (which takes `user:password` lines on its standard input and goes through PAM, so that the
/// host's own hashing scheme and locking apply).
public struct LiveAccountSystem: AccountSystem {
    public var runner: any RemediationCommandRunner
    public var shadowPath: String
    public var passwdPath: String

    public init(runner: any RemediationCommandRunner = RemediationProcessRunner(), shadowPath: String = "/etc/shadow", passwdPath: String = "/etc/passwd") {
        self.runner = runner
        self.shadowPath = shadowPath
        self.passwdPath = passwdPath
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

    public func passwdEntry(user: String) throws -> PasswdEntry? {
        let data: Data
        do { data = try SecureFile.read(passwdPath, limit: 16 << 20) } catch let error as CordonError {
            throw AgentError.remediation("cannot read \(passwdPath): \(error.reason)")
        }
        return Self.passwd(user: user, in: data)
    }

    static func passwd(user: String, in data: Data) -> PasswdEntry? {
        let prefix = Array((user + ":").utf8)
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) where line.starts(with: prefix) {
            let text = String(decoding: line, as: UTF8.self)
            let fields = text.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 7 else { continue }
            return PasswdEntry(user: user, uid: Int(fields[2]), shell: String(fields[6]), line: text)
        }
        return nil
    }

    public func lock(user: String, shell: String) throws {
        guard let tool = runner.locate("usermod") else { throw AgentError.remediation("usermod is not installed (package passwd)") }
        let result = runner.run(tool, arguments: ["-L", "-s", shell, "--", user], timeout: .seconds(60), outputLimit: 64 << 10)
        guard result.termination == .exited(0) else {
            throw AgentError.remediation("usermod did not lock \(user): \(result.failureSummary)")
        }
    }

    public func replaceEntries(user: String, shadowLine: String, passwdLine: String?) throws {
        for line in [shadowLine] + (passwdLine.map { [$0] } ?? []) where !line.hasPrefix(user + ":") || line.contains("\n") {
            throw AgentError.remediation("refusing to write a line that is not one line of \(user)")
        }
        try PasswdFilesLock.withLock(directory: (shadowPath as NSString).deletingLastPathComponent) {
            try Self.replace(user: user, line: shadowLine, in: shadowPath)
            if let passwdLine { try Self.replace(user: user, line: passwdLine, in: passwdPath) }
        }
    }

    /// Replaces `user`'s line of a passwd-style file with `line`; the rest of the file, its
    /// owner, group and mode stay as they are (a new file renamed over it, as the shadow tools do).
    static func replace(user: String, line: String, in path: String) throws {
        let files = LiveRemediationFiles()
        guard let snapshot = try files.read(path) else { throw AgentError.remediation("\(path) does not exist") }
        let prefix = Array((user + ":").utf8)
        var lines = snapshot.contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        guard let index = lines.firstIndex(where: { $0.starts(with: prefix) }) else {
            throw AgentError.remediation("there is no line of \(user) in \(path) any more")
        }
        lines[index] = Array(line.utf8)
        try files.write(path, snapshot.with(contents: Data(lines.joined(separator: [UInt8(ascii: "\n")]))))
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

/// The lock the shadow tools take before they change /etc/passwd or /etc/shadow (glibc's
/// lckpwdf(3): a write lock on `.pwd.lock` beside them), so that Cordon never interleaves a
/// restore with a useradd or passwd running at the same time. Waits at most 15 s, as lckpwdf does.
enum PasswdFilesLock {
    static func withLock<T>(directory: String, _ body: () throws -> T) throws -> T {
        let path = directory + "/.pwd.lock"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.remediation("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        let deadline = Date().addingTimeInterval(15)
        while fcntl(fd, F_SETLK, &lock) != 0 {
            guard errno == EAGAIN || errno == EACCES || errno == EINTR else {
                throw AgentError.remediation("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            guard Date() < deadline else { throw AgentError.remediation("\(path) is held by another tool (useradd, passwd, ...) for 15 s; nothing changed") }
            usleep(100_000)
        }
        return try body()
    }
}
