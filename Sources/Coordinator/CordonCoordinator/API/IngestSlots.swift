import Foundation

/// Reports read, decoded and stored at once. A burst of full reports (5,000 offered at 500 a
/// second, benchmarks/fleet-load.sh) held a decoded report per request while each waited for
/// the one writer: 2.1 GiB resident. Beyond `limit`, a report waits for a slot before its body
/// is read (the body stays in the socket, where TCP holds the sender back), at most `maxWait`;
/// then it gets 503 `busy` with Retry-After, and the agent keeps it in its spool and sends it
/// again later. Slots are handed over in arrival order.
actor IngestSlots {
    let limit: Int
    let maxWait: Duration
    private var inUse = 0
    private var waiting: [(id: UUID, continuation: CheckedContinuation<Bool, Never>)] = []

    init(limit: Int = 16, maxWait: Duration = .seconds(15)) {
        self.limit = max(1, limit)
        self.maxWait = maxWait
    }

    /// Takes a slot: true at once when one is free, else when one is handed over, or false
    /// after `maxWait` (or when the request is cancelled), holding none.
    func acquire() async -> Bool {
        if inUse < limit {
            inUse += 1
            return true
        }
        let id = UUID()
        let wait = maxWait
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                waiting.append((id, continuation))
                // Bounded by `maxWait`; gives up the place only if it was not handed a slot.
                Task { [weak self] in
                    try? await Task.sleep(for: wait)
                    await self?.giveUp(id)
                }
            }
        } onCancel: {
            Task { await self.giveUp(id) }
        }
    }

    /// Returns a slot: to the longest waiting request, else to the pool.
    func release() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().continuation.resume(returning: true)
        }
    }

    private func giveUp(_ id: UUID) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(returning: false)
    }

    var queued: Int { waiting.count }
}
