import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host's files (below `root`, `/` in production), read without following a final
/// symbolic link and replaced atomically with their owner, group and mode.
///
/// The temporary file is `.NAME.cordon-XXXXXXXX` in the same directory: cron skips dot files in
/// its spool and anything but run-parts names in /etc/cron.d, atd skips names that are not job
/// names, systemd skips names without a unit suffix. The rename changes the directory's mtime,
/// which is how cron notices a changed crontab.
public struct LiveRemediationFiles: RemediationFiles {
    public var root: String
    public var maxBytes: Int

    public init(root: String = "/", maxBytes: Int = 16 << 20) {
        self.root = root
        self.maxBytes = maxBytes
    }

    func host(_ path: String) -> String {
        root == "/" ? path : (root.hasSuffix("/") ? String(root.dropLast()) : root) + path
    }

    private func fail(_ what: String, _ path: String, _ code: Int32 = errno) -> AgentError {
        AgentError.remediation("cannot \(what) \(path): \(String(cString: strerror(code)))")
    }

    public func read(_ path: String) throws -> FileSnapshot? {
        let fd = open(host(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            if code == ELOOP { throw AgentError.remediation("\(path) is a symbolic link; remediation does not follow it") }
            throw fail("read", path, code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("stat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw AgentError.remediation("\(path) is not a regular file") }
        let data: Data
        do {
            data = try SecureFile.readBounded(fd, limit: maxBytes)
        } catch {
            throw fail("read", path, error.code)
        }
        if data.count > maxBytes { throw AgentError.remediation("\(path) is larger than \(maxBytes) bytes") }
        return FileSnapshot(contents: data, uid: UInt32(info.st_uid), gid: UInt32(info.st_gid), mode: UInt32(info.st_mode) & 0o7777)
    }

    public func write(_ path: String, _ snapshot: FileSnapshot) throws {
        let target = host(path)
        let directory = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let temporary = directory + "/." + name + ".cordon-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fail("create a temporary file for", path) }
        var done = false
        defer {
            if !done { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            try snapshot.contents.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw fail("write", path)
                    }
                    offset += n
                }
            }
            // Owner first: chown clears set-ID bits, the mode after it puts them back.
            guard fchown(fd, snapshot.uid, snapshot.gid) == 0 else { throw fail("set the owner of", path) }
            guard fchmod(fd, mode_t(snapshot.mode & 0o7777)) == 0 else { throw fail("set the mode of", path) }
            guard fsync(fd) == 0 else { throw fail("sync", path) }
        }
        guard rename(temporary, target) == 0 else { throw fail("replace", path) }
        done = true
        syncDirectory(directory)
    }

    public func remove(_ path: String) throws {
        let target = host(path)
        if unlink(target) != 0 {
            let code = errno
            if code == ENOENT { return }
            throw fail("delete", path, code)
        }
        syncDirectory((target as NSString).deletingLastPathComponent)
    }

    public func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(host(directory)) else {
            let code = errno
            if code == ENOENT { return [] }
            throw fail("list", directory, code)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir), names.count < 100_000 {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    private func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}

/// `write(2)`, named so that it does not clash with the `write` methods here.
func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
