#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file under the collection root could not be read. An expected outcome, not a crash.
enum InventoryFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case permissionDenied
    case notRegularFile
    case notDirectory
    case tooManySymlinks
    case ioError(Int32)

    init(errno code: Int32) {
        switch code {
        case ENOENT: self = .missing
        case EACCES, EPERM: self = .permissionDenied
        case ENOTDIR: self = .notDirectory
        case ELOOP: self = .tooManySymlinks
        default: self = .ioError(code)
        }
    }

    var description: String {
        switch self {
        case .missing: return "missing"
        case .permissionDenied: return "permission denied"
        case .notRegularFile: return "not a regular file"
        case .notDirectory: return "not a directory"
        case .tooManySymlinks: return "too many symbolic links"
        case .ioError(let code): return "I/O error \(code) (\(String(cString: strerror(code))))"
        }
    }
}
