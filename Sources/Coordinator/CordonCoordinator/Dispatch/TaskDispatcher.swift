import Foundation

/// Wakes agents' long-polls when a task is queued for them, so that tasks reach online
/// agents within a second. Each wait ends by itself at its timeout.
public actor TaskDispatcher {
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    /// Long-polls held per agent at most; an agent holding more is answered at once.
    public let maxWaitersPerAgent = 4

    public init() {}

    /// Returns when a task is queued for `agentID`, or after `timeout`, or on cancellation.
    public func wait(agentID: String, timeout: Duration) async {
        guard (waiters[agentID]?.count ?? 0) < maxWaitersPerAgent else { return }
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
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
        continuation.resume()
    }

    /// Wakes every long-poll of these agents.
    public func notify(_ agentIDs: some Sequence<String>) {
        for agentID in agentIDs {
            guard let pending = waiters.removeValue(forKey: agentID) else { continue }
            for continuation in pending.values { continuation.resume() }
        }
    }

    public var waitingAgents: Int { waiters.count }
}
