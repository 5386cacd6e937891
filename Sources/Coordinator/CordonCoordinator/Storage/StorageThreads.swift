import NIOPosix

extension CoordinatorDatabase {
    /// The threads storage work runs on. SQLite calls block their thread (on the disk, on the
    /// single writer), and Swift's cooperative pool has one thread per core: on two cores, two
    /// requests waiting for the writer stopped every other request, TLS and long-poll wake-up
    /// included. Eight threads: GRDB runs one writer and at most five readers at once, and
    /// the rest queue here rather than in the cooperative pool. They live as long as the process.
    static let threads = startedPool(threads: 8)

    /// Report ingest (and the decoding of large request bodies) runs on threads of its own:
    /// up to `reportIngest.maxConcurrent` reports wait for the writer at once, and on the
    /// shared threads twelve of them held all eight, so an operator's read or an agent's
    /// authentication waited behind them. Four: their writes take turns anyway.
    static let ingestThreads = startedPool(threads: 4)

    private static func startedPool(threads: Int) -> NIOThreadPool {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        return pool
    }

    /// Runs `body` (storage work: calls on this database) on the storage threads. A request
    /// cancelled before its turn comes is not run (it throws `CancellationError`); once
    /// started, `body` runs to its end, so a write is committed or rolled back whole.
    public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.threads.runIfActive(body)
    }

    /// `offload` on the ingest threads, for storing a report.
    public func offloadIngest<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.ingestThreads.runIfActive(body)
    }
}
