import CordonShared
import CordonTransport
import Foundation
import Logging
import ServiceLifecycle

/// The part of the uplink the task runner uses (a fake in tests).
public protocol TaskUplink: Sendable {
    /// Long-polls for the next signed list; nil when none came within `wait` seconds.
    func nextTask(wait: Double) async throws -> SignedTaskList?
    /// Reports a task's state; a `TransportError` with status 409 means the coordinator
    /// cancelled the task (or already has another final state for it).
    func postTaskStatus(taskID: String, _ update: TaskStatusUpdate) async throws
    /// Reports a list refused before it could be trusted (`cordon-agent apply`).
    func postLocalRefusal(_ refusal: LocalRefusal) async throws
    /// Closes the connection (the agent service closes it too; whichever stops last does it
    /// for good, so that no HTTP client outlives the service group).
    func shutdown() async
}

extension Uplink: TaskUplink {}

/// The agent's task loop, a ServiceLifecycle service: at start it reports the tasks a previous
/// run was killed in the middle of (`interrupted`, never re-run); then it delivers final
/// statuses not yet acknowledged, long-polls the coordinator for the next signed list, runs it
/// through `TaskProcessor` (posting `running` first: a 409 there means cancelled, and it does
/// not run) and reports the result. A status that cannot be delivered stays in the state
/// directory and is re-sent, in order, until the coordinator acknowledges it.
public final class TaskRunner: Service, Sendable {
    public let processor: TaskProcessor
    let uplink: any TaskUplink
    let pollWait: Double
    let maxBackoff: Double
    let logger: Logger

    public init(processor: TaskProcessor, uplink: any TaskUplink, pollWait: Double = 60, maxBackoff: Double = 300, logger: Logger) {
        self.processor = processor
        self.uplink = uplink
        self.pollWait = pollWait
        self.maxBackoff = maxBackoff
        self.logger = logger
    }

    var store: TaskStore { processor.store }

    public func run() async throws {
        do { try await processor.recoverInterrupted() } catch {
            logger.error("cannot check the task journal for interrupted tasks", metadata: ["error": "\(error)"])
        }
        var backoff = Backoff(base: 1, cap: maxBackoff)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let delivered = await deliverPending()
            do {
                let signed = try await cancelWhenGracefulShutdown { try await self.uplink.nextTask(wait: self.pollWait) }
                if delivered { backoff.success() }
                if let signed, await !handle(signed) {
                    // The list could not be taken up at all (the state directory is unusable, or
                    // `apply` holds the lock): it is still queued, and the next poll returns it
                    // at once, so wait before asking again.
                    let wait = backoff.failure()
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
                }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                let wait = backoff.failure()
                logger.warning("cannot poll the coordinator for tasks; retrying", metadata: ["retry.in": "\(HumanDuration.format(wait))", "error": "\(error)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
            }
        }
        // One last try for what is pending; what fails stays on disk for the next start.
        _ = await deliverPending()
        await uplink.shutdown()
    }

    /// Processes one list as the coordinator delivered it, then delivers its final status.
    /// Returns false when the list was not taken up (nothing recorded, nothing said).
    @discardableResult
    public func handle(_ signed: SignedTaskList) async -> Bool {
        await acknowledgeReceipt(signed)
        let outcome = await processor.process(signed, mode: .run(.coordinator)) { list in await self.announce(list) }
        switch outcome {
        case .refused(let taskID, let update, let recorded):
            // Recorded refusals are delivered with the rest; an unrecorded one (bad signature)
            // is reported once, best effort, when it names this agent.
            if !recorded, let taskID {
                do { try await uplink.postTaskStatus(taskID: taskID, update) } catch {
                    logger.warning("cannot report a refusal", metadata: ["task.id": "\(taskID)", "error": "\(error)"])
                }
            }
            if !recorded && taskID == nil {
                _ = await deliverPending()
                return false
            }
        case .alreadyHandled(var record):
            logger.notice("task list already handled; not run again, its status is sent again",
                          metadata: ["task.id": "\(record.taskID)", "state": "\(record.state?.rawValue ?? "?")"])
            if record.phase == .finished, record.final.map({ Self.isReportable($0.state) }) == true, record.delivered {
                record.delivered = false
                record.deliveryNote = nil
                try? store.save(record)
            }
        case .cancelled, .finished, .previewed:
            break
        }
        _ = await deliverPending()
        return true
    }

    /// Tells the coordinator the list arrived (`delivered`): until then it stays queued there
    /// and goes to the next poll, so that a list handed to a poll nobody reads any more (an
    /// agent stopped while its poll was held) is not lost. Best effort: the final status says
    /// the rest. The claimed ID is only used to address the coordinator that sent it.
    func acknowledgeReceipt(_ signed: SignedTaskList) async {
        guard let claimed = try? CordonJSON.decode(TaskList.self, from: signed.payload) else { return }
        do { try await uplink.postTaskStatus(taskID: claimed.id, TaskStatusUpdate(state: .delivered, at: Date())) } catch {
            logger.debug("cannot acknowledge a task's receipt", metadata: ["task.id": "\(claimed.id)", "error": "\(error)"])
        }
    }

    /// Posts `running`; false when the coordinator says the task must not run.
    func announce(_ list: TaskList) async -> Bool {
        do {
            try await uplink.postTaskStatus(taskID: list.id, TaskStatusUpdate(state: .running, at: Date()))
            return true
        } catch let error as TransportError where error.status == 409 || error.status == 404 || error.status == 410 {
            logger.notice("coordinator says the task must not run", metadata: ["task.id": "\(list.id)", "status": "\(error.status ?? 0)", "error": "\(error.reason)"])
            return false
        } catch {
            // It was delivered a moment ago; containment should not wait for the network. The
            // final status is kept until delivered.
            logger.warning("cannot report the task as running; running it anyway", metadata: ["task.id": "\(list.id)", "error": "\(error)"])
            return true
        }
    }

    static func isReportable(_ state: TaskState) -> Bool {
        [.succeeded, .failed, .refused, .interrupted].contains(state)
    }

    /// Sends every final status not yet acknowledged, oldest first. Returns false when the
    /// coordinator could not be reached (the rest wait for the next round).
    @discardableResult
    public func deliverPending() async -> Bool {
        for var record in store.undelivered() {
            guard let update = record.final, Self.isReportable(update.state) else {
                record.delivered = true
                try? store.save(record)
                continue
            }
            do {
                try await uplink.postTaskStatus(taskID: record.taskID, update)
                record.delivered = true
                logger.info("task status delivered", metadata: ["task.id": "\(record.taskID)", "state": "\(update.state.rawValue)"])
            } catch let error as TransportError where error == .refused && (400..<500).contains(error.status ?? 0) && error.status != 408 && error.status != 429 {
                // Answered, and refused for good (cancelled meanwhile, unknown task): keep the
                // record for the operator, stop sending it.
                record.delivered = true
                record.deliveryNote = "the coordinator refused the status (\(error.status ?? 0)): \(error.reason)"
                logger.warning("coordinator refused a task status; not sent again", metadata: ["task.id": "\(record.taskID)", "error": "\(error.reason)"])
            } catch {
                logger.debug("task status not delivered yet", metadata: ["task.id": "\(record.taskID)", "error": "\(error)"])
                return false
            }
            do { try store.save(record) } catch {
                logger.error("cannot record a delivered status; it may be sent again", metadata: ["task.id": "\(record.taskID)", "error": "\(error)"])
            }
        }
        for refusal in store.localRefusals() {
            do {
                try await uplink.postLocalRefusal(refusal)
                logger.info("local refusal reported", metadata: ["refusal.id": "\(refusal.id)"])
            } catch let error as TransportError where error == .refused && (400..<500).contains(error.status ?? 0) && error.status != 408 && error.status != 429 {
                logger.warning("coordinator refused a local refusal report; not sent again", metadata: ["refusal.id": "\(refusal.id)", "error": "\(error.reason)"])
            } catch {
                logger.debug("local refusal not reported yet", metadata: ["refusal.id": "\(refusal.id)", "error": "\(error)"])
                return false
            }
            store.removeLocalRefusal(refusal.id)
        }
        return true
    }
}
