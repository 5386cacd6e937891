import CordonShared
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bounded reads of files below a root directory, resolving symbolic links as if the root were
/// `/` (an absolute link target restarts at the root, `..` never climbs above it), so that a
/// link in a scanned tree (`authorized_keys -> /etc/shadow`) cannot lead a collector outside.
///
/// Paths passed in are absolute paths as the host would see them (`/etc/passwd`).
struct RootedFileSystem: Sendable {
    /// The bytes read from a file.
    struct Contents: Sendable {
        var data: Data
        /// The file was larger than the limit: only a prefix (or, for `tail`, a suffix) was read.
        var truncated: Bool
    }

    /// What `lstat` or `stat` says about a path.
    struct Status: Sendable, Equatable {
        var mode: UInt32
        var uid: UInt32
        var size: Int64

        var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
        var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
        var isSymlink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }
        var isWorldWritable: Bool { mode & UInt32(S_IWOTH) != 0 }
        var isExecutableByOwner: Bool { mode & UInt32(S_IXUSR) != 0 }
    }

    let root: String

    init(root: String) {
        self.root = Self.normalizedRoot(root)
    }

    static func normalizedRoot(_ root: String) -> String {
        let parts = root.split(separator: "/").filter { $0 != "." && !$0.isEmpty }
        return parts.isEmpty ? "/" : "/" + parts.joined(separator: "/")
    }

    /// The host path of `components` below the root.
    private func hostPath(_ components: [Substring]) -> String {
        let tail = components.joined(separator: "/")
        return root == "/" ? "/" + tail : (tail.isEmpty ? root : root + "/" + tail)
    }

    /// Resolves `path` below the root. With `followFinal` false the last component is not
    /// followed if it is a link (for `readlink`).
    func resolve(_ path: String, followFinal: Bool = true) -> Result<String, InventoryFileError> {
        var pending = Array(path.split(separator: "/", omittingEmptySubsequences: true).reversed())
        var resolved: [Substring] = []
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = resolved + [component]
            let isFinal = pending.isEmpty
            if isFinal && !followFinal {
                resolved = candidate
                break
            }
            var info = stat()
            if lstat(hostPath(candidate), &info) != 0 {
                let code = errno
                if code == ENOENT && isFinal { return .failure(.missing) }
                return .failure(InventoryFileError(errno: code))
            }
            if info.st_mode & S_IFMT == S_IFLNK {
                hops += 1
                if hops > 40 { return .failure(.tooManySymlinks) }
                guard let target = rawReadLink(hostPath(candidate)) else {
                    return .failure(InventoryFileError(errno: errno))
                }
                if target.hasPrefix("/") { resolved = [] }
                // Push the target's components in front of what is left.
                for part in target.split(separator: "/", omittingEmptySubsequences: true).reversed() {
                    pending.append(Substring(String(part)))
                }
                continue
            }
            if !isFinal && info.st_mode & S_IFMT != S_IFDIR {
                return .failure(.notDirectory)
            }
            resolved = candidate
        }
        return .success(hostPath(resolved))
    }

    /// Reads at most `maxBytes` of the regular file at `path`: the head, or with `tail` the last
    /// `maxBytes` (starting at a line boundary is the caller's business). With `tailAlignment`
    /// the tail starts at a multiple of it (fixed-size records counted from the file's start).
    func read(_ path: String, maxBytes: Int, tail: Bool = false, tailAlignment: Int = 1) -> Result<Contents, InventoryFileError> {
        let host: String
        switch resolve(path) {
        case .success(let value): host = value
        case .failure(let error): return .failure(error)
        }
        let fd = open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { return .failure(InventoryFileError(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { return .failure(InventoryFileError(errno: errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(.notRegularFile) }
        let limit = max(0, maxBytes)
        var truncated = false
        if tail, Int64(info.st_size) > Int64(limit) {
            var start = Int64(info.st_size) - Int64(limit)
            let alignment = Int64(max(1, tailAlignment))
            if start % alignment != 0 { start += alignment - start % alignment }
            if lseek(fd, off_t(start), SEEK_SET) < 0 {
                return .failure(InventoryFileError(errno: errno))
            }
            truncated = true
        }
        // Read one byte more than the limit to learn whether the file was cut (files in /proc
        // report size 0, so the size cannot be trusted).
        // A read that fails part way is an error, not a shorter file.
        var data: Data
        do {
            data = try SecureFile.readBounded(fd, limit: limit)
        } catch {
            return .failure(InventoryFileError(errno: error.code))
        }
        if data.count > limit {
            data = data.prefix(limit)
            truncated = true
        }
        return .success(Contents(data: data, truncated: truncated))
    }

    /// The names in the directory at `path` (without `.` and `..`), sorted, at most `maxEntries`.
    func list(_ path: String, maxEntries: Int) -> Result<(names: [String], truncated: Bool), InventoryFileError> {
        let host: String
        switch resolve(path) {
        case .success(let value): host = value
        case .failure(let error): return .failure(error)
        }
        guard let dir = opendir(host) else { return .failure(InventoryFileError(errno: errno)) }
        defer { closedir(dir) }
        var names: [String] = []
        var truncated = false
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            if names.count >= maxEntries {
                truncated = true
                break
            }
            names.append(name)
        }
        return .success((names.sorted(), truncated))
    }

    /// The target of the symbolic link at `path`, as written (not resolved).
    func readLink(_ path: String) -> Result<String, InventoryFileError> {
        switch resolve(path, followFinal: false) {
        case .success(let host):
            guard let target = rawReadLink(host) else { return .failure(InventoryFileError(errno: errno)) }
            return .success(target)
        case .failure(let error):
            return .failure(error)
        }
    }

    /// `lstat` (with `followFinal` false) or `stat` of `path` below the root.
    func status(_ path: String, followFinal: Bool = true) -> Result<Status, InventoryFileError> {
        switch resolve(path, followFinal: followFinal) {
        case .success(let host):
            var info = stat()
            if lstat(host, &info) != 0 { return .failure(InventoryFileError(errno: errno)) }
            return .success(Status(mode: UInt32(info.st_mode), uid: UInt32(info.st_uid), size: Int64(info.st_size)))
        case .failure(let error):
            return .failure(error)
        }
    }

    private func rawReadLink(_ host: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink(host, &buffer, 4096)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
