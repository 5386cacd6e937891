@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import CordonTransport
import Foundation
import Logging
import Synchronization
import Testing

/// Hooks that record what a task asked for (no host changes).
final class RecordingHooks: RemediationHooks, @unchecked Sendable {
    let calls = Mutex<[String]>([])
    func requestRescan() async throws -> String {
        calls.withLock { $0.append("rescan") }
        return "scan requested"
    }
    func requestInventoryRefresh() async throws -> String {
        calls.withLock { $0.append("refresh-inventory") }
        return "inventory requested"
    }
}

/// Task lists over the real long-poll: pushed by an operator, delivered to a running agent,
/// verified, run (only actions that change nothing on this machine), reported back.
@Suite struct TaskLiveTests {
    func startRunner(_ fleet: LiveFleet, _ agent: TestAgent, policy: String?, hooks: RecordingHooks) throws -> Task<Void, any Error> {
        let policyPath = agent.stateDir.path + "/policy.yaml"
        if let policy { try policy.write(toFile: policyPath, atomically: true, encoding: .utf8) }
        let executor = RemediationExecutor(system: .live(), backups: BackupStore(directory: agent.stateDir.backupsDirectory), hooks: hooks, logger: fleet.logger)
        let processor = TaskProcessor(stateDir: agent.stateDir, agentID: agent.id, policyFile: policyPath, executor: executor,
                                      policyContext: .init(coordinatorTCPPorts: [fleet.coordinator.port]), logger: fleet.logger)
        let runner = TaskRunner(processor: processor, uplink: agent.service.uplink, pollWait: 20, maxBackoff: 0.5, logger: fleet.logger)
        return Task { try await runner.run() }
    }

    func push(_ fleet: LiveFleet, _ request: TaskPushRequest) async throws -> TaskView {
        try await fleet.withOperator { try await $0.post(APIPath.tasks, body: request) }
    }

    func waitFinished(_ fleet: LiveFleet, _ id: String, timeout: Double = 20) async throws -> TaskView {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let view: TaskView = try await fleet.withOperator { try await $0.get(APIPath.tasks + "/" + id) }
            if view.isFinished || Date() > deadline { return view }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// An escrowed value that does not open (junk of the right shape, sent by the agent for an
    /// account its task rotated) must not hide the genuine password from the operator: it is left
    /// out; when nothing opens the read is a 409 that says so, not a 500.
    @Test func anEscrowedSecretThatDoesNotOpenDoesNotHideTheGenuineOne() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let escrow = try fleet.stateDir.loadEscrowKey().publicKey
        func rotation() async throws -> String {
            let task = try await push(fleet, TaskPushRequest(target: .agent(agent.id), file: TaskFile(tasks: [.rotatePassword(user: "root", length: 24)]),
                                                             expiresIn: 3600, requireApproval: false))
            return task.runs[0].id
        }
        let t0 = Date()
        let junk = EscrowedSecret(user: "root", encapsulatedKey: Data(repeating: 7, count: 32), ciphertext: Data(repeating: 9, count: 40), rotatedAt: t0)
        let first = try await rotation()
        _ = try fleet.database.updateTaskRun(agentID: agent.id, runID: first, update: .init(state: .succeeded, at: t0, secrets: [junk]), now: t0)
        let op = try fleet.rawAsOperator()
        let path = APIPath.secrets + "?agent=\(agent.id)&user=root"
        let onlyJunk = try await op.send(.GET, path)
        #expect(onlyJunk.status == 409)
        #expect(onlyJunk.error?.message.contains("do not open with this coordinator's escrow key") == true, "\(onlyJunk.error?.message ?? "")")

        let second = try await rotation()
        let genuine = try Escrow.seal(password: "genuine-password", user: "root", agentID: agent.id, to: escrow, at: t0.addingTimeInterval(1))
        var newerJunk = junk
        newerJunk.rotatedAt = t0.addingTimeInterval(2)
        _ = try fleet.database.updateTaskRun(agentID: agent.id, runID: second, update: .init(state: .succeeded, at: t0, secrets: [genuine, newerJunk]), now: t0)
        let reply = try await op.send(.GET, path)
        #expect(reply.status == 200)
        let views = try CordonJSON.decode([SecretView].self, from: reply.body)
        #expect(views.map(\.password) == ["genuine-password"])
        #expect(views.first?.taskRunID == second)
        await op.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aTaskReachesAnOnlineAgentWithinASecondAndReportsBack() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let hooks = RecordingHooks()
        let runner = try startRunner(fleet, agent, policy: "allowedActions: [rescan, refresh-inventory]\n", hooks: hooks)
        try await Task.sleep(for: .milliseconds(500))  // the agent is now holding its long-poll

        let pushed = Date()
        let task = try await push(fleet, TaskPushRequest(target: .segment("dmz"), file: TaskFile(description: "look again", tasks: [.rescan, .refreshInventory])))
        let done = try await waitFinished(fleet, task.id)
        let run = try #require(done.runs.first)
        #expect(run.state == .succeeded, "\(run)")
        let delivered = try #require(run.events.first { $0.state == .delivered }?.at)
        #expect(delivered.timeIntervalSince(pushed) < 1.0, "delivered \(delivered.timeIntervalSince(pushed))s after the push")
        #expect(run.events.map(\.state) == [.queued, .delivered, .running, .succeeded])
        #expect(run.results.map(\.outcome) == [.unchanged, .unchanged], "rescan and refresh change nothing on the host")
        #expect(hooks.calls.withLock { $0 } == ["rescan", "refresh-inventory"])

        runner.cancel()
        _ = try? await runner.value
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aListOutsideTheLocalPolicyIsRefusedAndReportedWithTheReason() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let hooks = RecordingHooks()
        // No policy file: only rescan and refresh-inventory may run.
        let runner = try startRunner(fleet, agent, policy: nil, hooks: hooks)
        let task = try await push(fleet, TaskPushRequest(target: .agent(agent.id),
                                                         file: TaskFile(tasks: [.rescan, .blockPorts(tcp: [445], udp: [], direction: .inbound)])))
        let done = try await waitFinished(fleet, task.id)
        let run = try #require(done.runs.first)
        #expect(run.state == .refused)
        #expect(run.message?.contains("block-ports") == true, "\(run.message ?? "")")
        #expect(hooks.calls.withLock { $0 }.isEmpty, "a refused list runs nothing, not even its harmless actions")
        runner.cancel()
        _ = try? await runner.value
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aListRefusedLocallyReachesTheAuditOnTheNextContact() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let store = TaskStore(directory: agent.stateDir.tasksDirectory)
        let refusal = LocalRefusal(id: "lr-live-1", at: Date(), source: "apply", file: "/media/usb/tampered.json", fileSHA256: String(repeating: "f", count: 64),
                                   claimedTaskID: "tl-forged", claimedAgentID: agent.id, reason: "the signature does not verify with the coordinator's task key")
        try store.saveLocalRefusal(refusal)
        let runner = try startRunner(fleet, agent, policy: nil, hooks: RecordingHooks())
        let deadline = Date().addingTimeInterval(15)
        var audited: [AuditEntry] = []
        while audited.isEmpty && Date() < deadline {
            audited = try await fleet.withOperator { try await $0.get(APIPath.audit) as [AuditEntry] }.filter { $0.action == "task.refused-locally" }
            if audited.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(audited.count == 1)
        #expect(audited.first?.actor == "agent:\(agent.id)" && audited.first?.detail.contains("tampered.json") == true)
        // The agent forgets it once the answer is in, a moment after the audit entry is committed.
        while !store.localRefusals().isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(store.localRefusals().isEmpty, "delivered, so no longer kept")
        // Sent again (a lost answer): recorded once.
        let raw = try fleet.rawAsAgent(agent)
        let again = try await raw.send(.POST, APIPath.taskRefusals, body: try CordonJSON.encode(refusal))
        #expect(again.status == 200, "\(again.error?.error ?? "")")
        #expect(try CordonJSON.decode(LocalRefusalAck.self, from: again.body).duplicate)
        #expect(try await fleet.withOperator { try await $0.get(APIPath.audit) as [AuditEntry] }.filter { $0.action == "task.refused-locally" }.count == 1)
        await raw.shutdown()
        runner.cancel()
        _ = try? await runner.value
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func twoPersonRuleCancelAndWaitThroughTheCLI() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let hooks = RecordingHooks()
        let runner = try startRunner(fleet, agent, policy: "allowedActions: [rescan]\n", hooks: hooks)
        let profile = fleet.operatorProfile
        let profilePath = fleet.root + "/operator/alice.yaml"
        _ = profile
        let file = fleet.root + "/task.yaml"
        try "description: look\ntasks:\n  - rescan: {}\n".write(toFile: file, atomically: true, encoding: .utf8)

        let pushed = try await Child.run(Binaries.cordon, ["tasks", "push", "--agent", agent.id, file, "--require-approval", "--json", "--profile", profilePath])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let view = try CordonJSON.decode(TaskView.self, from: Data(pushed.stdout.utf8))
        #expect(view.runs.first?.state == .pendingApproval)
        let selfApproval = try await Child.run(Binaries.cordon, ["tasks", "approve", view.id, "--profile", profilePath])
        #expect(selfApproval.status == 4)
        #expect(selfApproval.stderr.contains("two-person rule"))

        // A second operator approves; the agent runs it; `tasks wait` sees it finish.
        _ = try OperatorIssuer(stateDir: fleet.stateDir).add(name: "bob", coordinator: fleet.url, outDirectory: fleet.root + "/bob",
                                                             csrPath: nil, lifetime: 3600, actor: "local:test")
        let approve = try await Child.run(Binaries.cordon, ["tasks", "approve", view.id, "--profile", fleet.root + "/bob/bob.yaml"])
        #expect(approve.status == 0, "\(approve.stderr)")
        let wait = try await Child.run(Binaries.cordon, ["tasks", "wait", view.id, "--timeout", "20s", "--profile", profilePath])
        #expect(wait.status == 0, "\(wait.stdout)\(wait.stderr)")
        #expect(wait.stdout.contains("SUCCEEDED"))

        // A task for an agent that is not listening can be cancelled before it runs.
        runner.cancel()
        _ = try? await runner.value
        let second = try await Child.run(Binaries.cordon, ["tasks", "push", "--agent", agent.id, file, "--json", "--profile", profilePath])
        let secondView = try CordonJSON.decode(TaskView.self, from: Data(second.stdout.utf8))
        let cancel = try await Child.run(Binaries.cordon, ["tasks", "cancel", secondView.id, "--profile", profilePath])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        let waitCancelled = try await Child.run(Binaries.cordon, ["tasks", "wait", secondView.id, "--timeout", "5s", "--profile", profilePath])
        #expect(waitCancelled.status == 1, "a cancelled task is not a success")
        let audit = try fleet.database.auditEntries().map(\.action)
        #expect(audit.contains("task.push") && audit.contains("task.approve") && audit.contains("task.cancel"))
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
