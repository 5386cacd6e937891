import NIOPosix

extension CoordinatorDatabase {
    /// The threads storage work runs on. SQLite calls block their thread (on the disk, on the
    /// single writer), and Swift's cooperative pool has one thread per core: on two cores, two
    /// requests waiting for the writer stopped every other request, TLS and long-poll wake-up
    /// included. Eight threads: GRDB runs one writer and at most five readers at once, and
    /// the rest queue here rather than in the cooperative pool. They live as long as the process.
    static let threads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()

    /// Runs `body` (storage work: calls on this database) on the storage threads. A request
    /// cancelled before its turn comes is not run (it throws `CancellationError`); once
    /// started, `body` runs to its end, so a write is committed or rolled back whole.
    public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.threads.runIfActive(body)
    }
}
