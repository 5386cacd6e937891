import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let secureFilePOSIXRead = Glibc.read
#elseif canImport(Musl)
private let secureFilePOSIXRead = Musl.read
#else
private let secureFilePOSIXRead = Darwin.read
#endif

/// Files that hold secrets or state: created with an explicit mode, replaced atomically.
public enum SecureFile {
    /// Creates `path` with `mode`, refusing to overwrite an existing file.
    public static func create(_ path: String, contents: Data, mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let err = errno
            if err == EEXIST { throw CordonError.fileExists("\(path) already exists; refusing to overwrite it") }
            throw CordonError.io("cannot create \(path): \(String(cString: strerror(err)))")
        }
        defer { close(fd) }
        do {
            try writeAll(fd, contents, path: path)
            _ = fchmod(fd, mode)  // the umask may have narrowed it; never widens beyond `mode`
            guard fsync(fd) == 0 else { throw CordonError.io("cannot sync \(path): \(String(cString: strerror(errno)))") }
        } catch {
            // A full disk must not leave half a file behind (it was created here, O_EXCL).
            unlink(path)
            throw error
        }
    }

    /// Writes `path` atomically (temporary file, fsync, rename), with `mode`.
    public static func replace(_ path: String, contents: Data, mode: mode_t = 0o600) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try create(temporary, contents: contents, mode: mode)
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw CordonError.io("cannot replace \(path): \(message)")
        }
        syncDirectory(of: path)
    }

    /// Creates a directory (and its parents) with `mode` if it does not exist.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CordonError.io("\(path) exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw CordonError.io("cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    /// Reads a whole file of at most `limit` bytes. An I/O error is an error, never empty data
    /// (a spooled report hit by one would otherwise be sent empty); /proc files are read to EOF.
    public static func read(_ path: String, limit: Int = 16 << 20) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CordonError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let data: Data
        do {
            data = try readBounded(fd, limit: limit)
        } catch {
            throw CordonError.io("cannot read \(path): \(String(cString: strerror(error.code)))")
        }
        guard data.count <= limit else { throw CordonError.io("\(path) is larger than \(limit) bytes") }
        return data
    }

    /// A read(2) that failed, with its errno.
    public struct ReadFailure: Error, Sendable { public let code: Int32 }

    /// Reads `fd` to EOF, but at most `limit + 1` bytes (one more than allowed, so the caller
    /// learns that the file is larger: /proc files report size 0). Retries EINTR; any other
    /// error is thrown, never turned into a short read.
    public static func readBounded(_ fd: Int32, limit: Int) throws(ReadFailure) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let limit = max(0, limit)
        while data.count <= limit {
            let want = min(buffer.count, limit + 1 - data.count)
            let n = buffer.withUnsafeMutableBytes { secureFilePOSIXRead(fd, $0.baseAddress, want) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ReadFailure(code: code)
            }
            if n == 0 { break }
            data.append(contentsOf: buffer.prefix(n))
        }
        return data
    }

    public static func readString(_ path: String, limit: Int = 16 << 20) throws -> String {
        let data = try read(path, limit: limit)
        guard let text = String(data: data, encoding: .utf8) else { throw CordonError.io("\(path) is not UTF-8 text") }
        return text
    }

    /// The permission bits of `path`, or nil when it cannot be stat'ed.
    public static func mode(of path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    private static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CordonError.io("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}
