import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("setns")
private func c_setns(_ fd: Int32, _ nstype: Int32) -> Int32

private let cloneNewNet: Int32 = 0x4000_0000

/// Code that runs inside a lab namespace without a subprocess: a network namespace belongs to a
/// thread, so the body runs on a new thread that joins the namespace first (and exits after).
enum LabNetworkNamespace {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `body` on a new thread inside namespace `name`: its sockets are the namespace's.
    static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { () throws -> T in
                    try join(name)
                    return try body()
                })
            }
            thread.start()
        }
    }

    /// A NIO event loop group whose threads live in namespace `name` (threads inherit the
    /// namespace of the thread that creates them). Shut it down when done.
    static func makeEventLoopGroup(in name: String, threads: Int = 1) async throws -> MultiThreadedEventLoopGroup {
        try await run(name) { MultiThreadedEventLoopGroup(numberOfThreads: threads) }
    }

    private static func join(_ name: String) throws {
        guard !name.contains("/"), !name.isEmpty else { throw Failure(description: "bad namespace name \(name)") }
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open /run/netns/\(name): errno \(errno)") }
        defer { close(fd) }
        guard c_setns(fd, cloneNewNet) == 0 else { throw Failure(description: "setns(\(name)): errno \(errno)") }
    }
}
