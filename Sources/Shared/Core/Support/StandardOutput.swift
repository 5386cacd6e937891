#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one road to stdout for both CLIs (`cordon` and `cordon-agent`): tables, JSON, CSV,
/// XML and messages all go through here.
///
/// - Unbuffered: each call is written with write(2) at once, so a reader on a pipe (a
///   script waiting for `cordon demo --keep`'s instructions, a log collector) sees every
///   block when it is printed, not when the process exits.
/// - A closed pipe (`cordon status --json | head`) ends the process quietly, like other Unix
///   tools: SIGPIPE is ignored (``prepare()``) so the write fails with EPIPE, and we then end
///   the process by SIGPIPE's default action (the shell shows exit status 141 and prints
///   nothing), never a crash with a backtrace.
public enum StandardOutput {
    /// Call once at the start of a CLI process. Ignoring SIGPIPE also keeps a peer that closes
    /// a socket or a child's pipe from killing the process in the middle of a write.
    public static func prepare() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes `text` to stdout, all of it, now.
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { write(bytes: $0) }
    }

    /// Writes `text` and a newline (what `print` would have written).
    public static func line(_ text: String) {
        write(text + "\n")
    }

    public static func write(bytes: UnsafeBufferPointer<UInt8>) {
        guard var pointer = bytes.baseAddress else { return }
        // Anything a library left in stdio's buffers goes first, to keep the order.
        fflush(nil)
        var left = bytes.count
        while left > 0 {
            let written = systemWrite(1, pointer, left)
            if written > 0 {
                pointer += written
                left -= written
                continue
            }
            let code = errno
            if written < 0 && (code == EINTR || code == EAGAIN) { continue }
            if written < 0 && code == EPIPE { endOnClosedPipe() }
            // Another failure (EIO, ENOSPC on a redirect): nothing useful can be printed about
            // it on stdout; say it once on stderr and stop, like `cat` would.
            writeError("error: cannot write to standard output (errno \(code))\n")
            exit(1)
        }
    }

    /// Writes `text` to stderr now; a failure to write there is ignored (there is nowhere
    /// left to say it).
    public static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard var pointer = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let written = systemWrite(2, pointer, left)
                if written > 0 { pointer += written; left -= written; continue }
                if written < 0 && errno == EINTR { continue }
                return
            }
        }
    }

    /// The reader is gone: end as `head`'s other writers do, killed by SIGPIPE, silently.
    public static func endOnClosedPipe() -> Never {
        signal(SIGPIPE, SIG_DFL)
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        // Unblock it on this thread (a remediation thread may have blocked it), then raise.
        pthread_sigmask(SIG_UNBLOCK, &pipeOnly, nil)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)
    }

    private static func systemWrite(_ fd: Int32, _ pointer: UnsafePointer<UInt8>, _ count: Int) -> Int {
        #if canImport(Darwin)
        return Darwin.write(fd, pointer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, pointer, count)
        #else
        return Glibc.write(fd, pointer, count)
        #endif
    }
}
