import Foundation

/// Wakes agents' long-polls when a task is queued for them, so that tasks reach online
/// agents within a second. Each wait ends by itself at its timeout.
public actor TaskDispatcher {
    private var waiters: [String: [UUID: CheckedContinuation<Data?, Never>]] = [:]
    /// When each agent was last announced a task: a poll that looked in the database before a
    /// push committed and began to wait after the push was announced does not wait (it used to
    /// sleep out its 25 s). Entries older than `memory` are dropped.
    private var announced: [String: ContinuousClock.Instant] = [:]
    private var pruned = ContinuousClock.now
    private let memory: Duration = .seconds(60)
    /// Long-polls held per agent at most; an agent holding more is answered at once.
    public let maxWaitersPerAgent = 4

    public init() {}

    /// Returns when a task is queued for `agentID` (with its signed list when the push handed
    /// it over, so the poll needs no database read), or nil after `timeout`, on cancellation,
    /// or at once when the agent was announced a task at or after `lookedAt` (the moment the
    /// poll last looked in the database).
    @discardableResult
    public func wait(agentID: String, timeout: Duration, lookedAt: ContinuousClock.Instant? = nil) async -> Data? {
        if let lookedAt, let at = announced[agentID], at >= lookedAt { return nil }
        guard (waiters[agentID]?.count ?? 0) < maxWaitersPerAgent else { return nil }
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Data?, Never>) in
                waiters[agentID, default: [:]][id] = continuation
                // Unstructured on purpose: the timer must fire while this task is suspended in
                // the continuation; it is bounded by `timeout` and resumes at most once.
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    await self?.resume(agentID: agentID, id: id)
                }
            }
        } onCancel: {
            Task { await self.resume(agentID: agentID, id: id) }
        }
    }

    private func resume(agentID: String, id: UUID) {
        guard let continuation = waiters[agentID]?.removeValue(forKey: id) else { return }
        if waiters[agentID]?.isEmpty == true { waiters[agentID] = nil }
        continuation.resume(returning: nil)
    }

    /// Wakes every long-poll of these agents; each looks for its task in the database.
    public func notify(_ agentIDs: some Sequence<String>) {
        let now = ContinuousClock.now
        for agentID in agentIDs {
            announced[agentID] = now
            guard let pending = waiters.removeValue(forKey: agentID) else { continue }
            for continuation in pending.values { continuation.resume(returning: nil) }
        }
        prune(now)
    }

    /// Wakes every long-poll of these agents with its signed list (just queued, so it is each
    /// agent's next one unless it has an older one, which a waiting agent has not: its poll
    /// would have returned it). Agents not waiting take it from the database on their next poll.
    public func deliver(_ lists: [(agentID: String, signedJSON: Data)]) {
        let now = ContinuousClock.now
        for (agentID, signedJSON) in lists {
            announced[agentID] = now
            guard let pending = waiters.removeValue(forKey: agentID) else { continue }
            for continuation in pending.values { continuation.resume(returning: signedJSON) }
        }
        prune(now)
    }

    private func prune(_ now: ContinuousClock.Instant) {
        guard now - pruned > memory else { return }
        pruned = now
        announced = announced.filter { now - $0.value < memory }
    }

    public var waitingAgents: Int { waiters.count }
}
