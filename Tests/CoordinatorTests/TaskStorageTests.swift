@testable import CordonCoordinator
import CordonShared
import Crypto
import Foundation
import Testing

@Suite struct TaskStorageTests {
    let db = try! CoordinatorDatabase.inMemory()
    let key = Curve25519.Signing.PrivateKey()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    var sign: (TaskList) throws -> SignedTaskList { { [key] in try SignedTaskList.sign($0, with: key) } }

    func push(_ target: TaskTarget, approval: Bool = false, expires: Double = 3600, actor: String = "operator:alice",
              actions: [TaskAction] = [.rescan], at: Date? = nil) throws -> TaskView {
        try db.pushTask(TaskPushRequest(target: target, file: TaskFile(tasks: actions), expiresIn: expires, requireApproval: approval),
                        actor: actor, now: at ?? t0, sign: sign)
    }

    @Test func aSegmentPushGivesEachAgentASignedListWithItsNextSequence() throws {
        let a = try db.testAgent(segment: "dmz", at: t0), b = try db.testAgent(segment: "dmz", at: t0), c = try db.testAgent(segment: "lan", at: t0)
        let first = try push(.segment("dmz"))
        #expect(Set(first.runs.map(\.agentID)) == [a, b])
        #expect(first.runs.allSatisfy { $0.state == .queued && $0.sequence == 1 })
        let second = try push(.agent(a))
        #expect(second.runs.map(\.sequence) == [2])
        #expect(try push(.agent(c)).runs.map(\.sequence) == [1], "sequences are per agent")

        let signed = try #require(try db.nextTaskRun(agentID: a, now: t0))
        let list = try signed.verify(key: key.publicKey, agentID: a, lastSequence: 0, now: t0).get()
        #expect(list.sequence == 1)
        #expect(list.expiresAt == t0.addingTimeInterval(3600))
        #expect(try db.task(id: first.id)?.runs.first { $0.agentID == a }?.state == .queued, "handed to a poll is not delivered")
        #expect(try db.updateTaskRun(agentID: a, runID: list.id, update: .init(state: .delivered, at: t0), now: t0) == .accepted(.delivered))
        #expect(try db.task(id: first.id)?.runs.first { $0.agentID == a }?.state == .delivered)
        #expect(try db.updateTaskRun(agentID: a, runID: list.id, update: .init(state: .succeeded, at: t0), now: t0) == .accepted(.succeeded))
        // The next poll gets the next list, in sequence order.
        #expect(try db.nextTaskRun(agentID: a, now: t0).flatMap { try? $0.verify(key: key.publicKey, agentID: a, lastSequence: 1, now: t0).get().sequence } == 2)
        #expect(try db.auditEntries().filter { $0.action == "task.push" }.count == 3)
    }

    @Test func pushingToNothingIsAClearError() throws {
        #expect(throws: CoordinatorError.notFound) { try push(.segment("empty")) }
        #expect(throws: CoordinatorError.notFound) { try push(.agent("agt-none")) }
        let a = try db.testAgent(at: t0)
        _ = try db.revokeAgent(id: a, actor: "x", now: t0)
        #expect(throws: CoordinatorError.conflict) { try push(.agent(a)) }
        #expect(throws: CordonError.invalidArgument) { try push(.segment("dmz"), expires: 1) }
    }

    @Test func theLifecycleRecordsEveryStateWithItsTime() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a))
        let run = task.runs[0].id
        _ = try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(1))
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .delivered, at: t0), now: t0.addingTimeInterval(1)) == .accepted(.delivered))
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .running, at: t0), now: t0.addingTimeInterval(2)) == .accepted(.running))
        let result = ActionResult(action: .rescan, outcome: .changed, detail: "scan requested")
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .succeeded, at: t0, results: [result]), now: t0.addingTimeInterval(3)) == .accepted(.succeeded))
        // Re-sent final status: accepted, nothing changes.
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .succeeded, at: t0), now: t0.addingTimeInterval(9)) == .accepted(.succeeded))
        guard case .conflict = try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .failed, at: t0), now: t0) else { Issue.record("final state overwritten"); return }
        let view = try #require(try db.task(id: task.id))
        #expect(view.runs[0].events.map(\.state) == [.queued, .delivered, .running, .succeeded])
        #expect(view.runs[0].events.map(\.at) == [t0, t0.addingTimeInterval(1), t0.addingTimeInterval(2), t0.addingTimeInterval(3)])
        #expect(view.runs[0].results == [result])
        #expect(view.isFinished)
        // Another agent cannot touch it.
        let other = try db.testAgent(at: t0)
        #expect(try db.updateTaskRun(agentID: other, runID: run, update: .init(state: .failed, at: t0)) == .notFound)
        guard case .conflict = try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .queued, at: t0)) else { Issue.record("agent set queued"); return }
    }

    @Test func aCancelledTaskMustNotRun() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a))
        _ = try db.nextTaskRun(agentID: a, now: t0)
        let cancelled = try db.cancelTask(id: task.id, actor: "operator:bob", now: t0)
        #expect(cancelled.runs[0].state == .cancelled)
        guard case .conflict(let message) = try db.updateTaskRun(agentID: a, runID: task.runs[0].id, update: .init(state: .running, at: t0)) else {
            Issue.record("a cancelled task was allowed to run"); return
        }
        #expect(message.contains("cancelled"))
        #expect(throws: CoordinatorError.conflict) { try db.cancelTask(id: task.id, actor: "operator:bob") }
        #expect(try db.auditEntries().contains { $0.action == "task.cancel" && $0.actor == "operator:bob" })
    }

    @Test func theTwoPersonRule() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a), approval: true)
        #expect(task.runs[0].state == .pendingApproval)
        #expect(try db.nextTaskRun(agentID: a, now: t0) == nil, "nothing is sent before approval")
        #expect(try db.signedLists(taskID: task.id).isEmpty, "nothing is signed before approval")
        #expect(throws: CoordinatorError.forbidden) { try db.approveTask(id: task.id, actor: "operator:alice", now: t0, sign: sign) }
        let approved = try db.approveTask(id: task.id, actor: "operator:bob", now: t0.addingTimeInterval(5), sign: sign)
        #expect(approved.runs[0].state == .queued)
        #expect(approved.approvedBy == "operator:bob")
        let signed = try #require(try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(6)))
        #expect(try signed.verify(key: key.publicKey, agentID: a, lastSequence: 0, now: t0).get().issuedBy.contains("approved by operator:bob"))
        #expect(throws: CoordinatorError.conflict) { try db.approveTask(id: task.id, actor: "operator:carol", now: t0, sign: sign) }
        #expect(try db.auditEntries().contains { $0.action == "task.approve" && $0.actor == "operator:bob" })
    }

    @Test func unfinishedRunsExpire() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a), expires: 60)
        #expect(try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(61)) == nil)
        #expect(try db.task(id: task.id)?.runs[0].state == .expired)
        // Delivered but not started by the expiry: expired too, and the agent is told not to start it.
        let late = try push(.agent(a), expires: 60)
        _ = try db.nextTaskRun(agentID: a, now: t0)
        _ = try db.updateTaskRun(agentID: a, runID: late.runs[0].id, update: .init(state: .delivered, at: t0), now: t0)
        try db.expireOverdueTasks(now: t0.addingTimeInterval(120))
        #expect(try db.task(id: late.id)?.runs[0].state == .expired)
        guard case .conflict = try db.updateTaskRun(agentID: a, runID: late.runs[0].id, update: .init(state: .running, at: t0)) else {
            Issue.record("an expired task was allowed to start"); return
        }
        // A run already running at the expiry is the agent's to finish.
        let running = try push(.agent(a), expires: 60)
        _ = try db.nextTaskRun(agentID: a, now: t0)
        _ = try db.updateTaskRun(agentID: a, runID: running.runs[0].id, update: .init(state: .running, at: t0), now: t0)
        try db.expireOverdueTasks(now: t0.addingTimeInterval(120))
        #expect(try db.task(id: running.id)?.runs[0].state == .running)
        #expect(try db.updateTaskRun(agentID: a, runID: running.runs[0].id, update: .init(state: .succeeded, at: t0), now: t0.addingTimeInterval(121)) == .accepted(.succeeded))
    }

    @Test func aListHandedToAPollStaysQueuedAndGoesToTheNextPollAtOnce() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a))
        let run = task.runs[0].id
        // Handed to a poll nobody reads (the agent stopped): still queued, offered again at once.
        #expect(try db.nextTaskRun(agentID: a, now: t0) != nil)
        #expect(try db.task(id: task.id)?.runs[0].state == .queued)
        #expect(try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(0.1)) != nil, "no 120 s wait")
        // Acknowledged but not started (the agent died before its journal): still offered;
        // the agent's own records decide whether it runs.
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .delivered, at: t0), now: t0) == .accepted(.delivered))
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .delivered, at: t0), now: t0) == .accepted(.delivered), "a repeated acknowledgement is fine")
        #expect(try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(1)) != nil)
        // Started: never handed out again.
        #expect(try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .running, at: t0), now: t0) == .accepted(.running))
        #expect(try db.nextTaskRun(agentID: a, now: t0.addingTimeInterval(500)) == nil)
        guard case .conflict = try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .delivered, at: t0), now: t0) else {
            Issue.record("a running task went back to delivered"); return
        }
        #expect(try db.task(id: task.id)?.runs[0].events.map(\.state) == [.queued, .delivered, .running])
    }

    @Test func approvingATaskThatCannotRunIsRefusedWithItsStateAndNotAudited() throws {
        let a = try db.testAgent(at: t0)
        let cancelled = try push(.agent(a), approval: true)
        _ = try db.cancelTask(id: cancelled.id, actor: "operator:alice", now: t0)
        do {
            _ = try db.approveTask(id: cancelled.id, actor: "operator:bob", now: t0, sign: sign)
            Issue.record("a cancelled task was approved")
        } catch let error as CoordinatorError {
            #expect(error == .conflict && error.reason.contains("cancelled"), "\(error.reason)")
        }
        let expired = try push(.agent(a), approval: true, expires: 60)
        #expect(throws: CoordinatorError.conflict) { try db.approveTask(id: expired.id, actor: "operator:bob", now: t0.addingTimeInterval(61), sign: sign) }
        #expect(try db.auditEntries().filter { $0.action == "task.approve" }.isEmpty, "nothing is audited as an approval")
        #expect(try db.task(id: cancelled.id)?.approvedBy == nil)
        #expect(try db.signedLists(taskID: cancelled.id).isEmpty, "nothing was signed")
    }

    @Test func escrowedSecretsAreKeptOnlyForTheAccountsTheTaskRotates() throws {
        let a = try db.testAgent(at: t0)
        let escrow = Curve25519.KeyAgreement.PrivateKey()
        let genuine = try push(.agent(a), actions: [.rotatePassword(user: "root", length: 24)])
        let secret = try Escrow.seal(password: "genuine-password", user: "root", agentID: a, to: escrow.publicKey, at: t0)
        _ = try db.updateTaskRun(agentID: a, runID: genuine.runs[0].id, update: .init(state: .succeeded, at: t0, secrets: [secret]), now: t0)
        // A rescan task that carries six junk "secrets" for root, and one for another account.
        let rescan = try push(.agent(a), actions: [.rescan])
        let junk = (0..<6).map { EscrowedSecret(user: "root", encapsulatedKey: Data(repeating: 1, count: 32), ciphertext: Data([UInt8($0)]), rotatedAt: t0.addingTimeInterval(Double($0 + 1))) }
        _ = try db.updateTaskRun(agentID: a, runID: rescan.runs[0].id, update: .init(state: .succeeded, at: t0, secrets: junk), now: t0)
        let stored = try db.read { try SecretRecord.fetchAll($0) }
        #expect(stored.count == 1 && stored[0].runID == genuine.runs[0].id)
        #expect(try Escrow.open(try #require(try db.escrowedSecrets(agentID: a, user: "root", actor: "operator:alice").secrets.first),
                                agentID: a, with: escrow) == "genuine-password")
    }

    @Test func aLocalRefusalIsAuditedOnceAndNotedOnTheRunItClaims() throws {
        let a = try db.testAgent(at: t0)
        let task = try push(.agent(a))
        let refusal = LocalRefusal(id: "lr-1", at: t0, source: "apply", file: "/media/usb/list.json", fileSHA256: String(repeating: "a", count: 64),
                                   claimedTaskID: task.runs[0].id, claimedAgentID: a, reason: "the signature does not verify with the coordinator's task key")
        #expect(try db.recordLocalRefusal(agentID: a, refusal, now: t0))
        #expect(try !db.recordLocalRefusal(agentID: a, refusal, now: t0), "the same refusal again is a duplicate")
        let audited = try db.auditEntries().filter { $0.action == "task.refused-locally" }
        #expect(audited.count == 1 && audited[0].actor == "agent:\(a)" && audited[0].detail.contains("signature"))
        let run = try #require(try db.task(id: task.id)?.runs.first)
        #expect(run.state == .queued, "the genuine list is untouched")
        #expect(run.events.last?.message?.contains("refused on the jump host") == true)
        // Another agent's run is not noted.
        let b = try db.testAgent(at: t0)
        var other = refusal
        other.id = "lr-2"
        #expect(try db.recordLocalRefusal(agentID: b, other, now: t0))
        #expect(try db.task(id: task.id)?.runs.first?.events.count == run.events.count)
    }

    @Test func secretsAreKeptEncryptedLastFivePerAccountAndReadsAreAudited() throws {
        let a = try db.testAgent(at: t0)
        let escrow = Curve25519.KeyAgreement.PrivateKey()
        for i in 0..<7 {
            let task = try push(.agent(a), actions: [.rotatePassword(user: "root", length: 24)])
            let run = task.runs[0].id
            let secret = try Escrow.seal(password: "password-\(i)", user: "root", agentID: a, to: escrow.publicKey, at: t0.addingTimeInterval(Double(i)))
            _ = try db.updateTaskRun(agentID: a, runID: run, update: .init(state: .succeeded, at: t0, secrets: [secret]), now: t0)
        }
        let stored = try db.read { try SecretRecord.fetchAll($0) }
        #expect(stored.count == CoordinatorDatabase.secretsKept)
        #expect(!stored.contains { $0.ciphertext.range(of: Data("password-".utf8)) != nil }, "only ciphertext at rest")
        let read = try db.escrowedSecrets(agentID: a, user: "root", actor: "operator:alice", now: t0)
        #expect(try read.secrets.map { try Escrow.open($0, agentID: a, with: escrow) } == ["password-6", "password-5", "password-4", "password-3", "password-2"])
        #expect(try db.auditEntries().last?.action == "secret.read")
        #expect(throws: CoordinatorError.notFound) { try db.escrowedSecrets(agentID: a, user: "nobody", actor: "operator:alice") }
    }
}

@Suite struct TaskDispatcherTests {
    @Test func aNotifyWakesTheWaiterAtOnce() async throws {
        let dispatcher = TaskDispatcher()
        let start = ContinuousClock.now
        async let waited = dispatcher.wait(agentID: "agt-1", timeout: .seconds(30))
        while await dispatcher.waitingAgents == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await dispatcher.notify(["agt-1"])
        _ = await waited
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aWaitEndsAtItsTimeout() async {
        let dispatcher = TaskDispatcher()
        let start = ContinuousClock.now
        await dispatcher.wait(agentID: "agt-1", timeout: .milliseconds(200))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(190) && elapsed < .seconds(5))
        #expect(await dispatcher.waitingAgents == 0)
    }
}

@Suite struct PlannerTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func confickerIndicatorsLeadToTheGuidesSteps() throws {
        let db = try CoordinatorDatabase.inMemory()
        let agent = try db.testAgent(segment: "dmz", at: t0)
        let inventory = Make.inventory(at: t0, accounts: [Make.account("root", uid: 0, admin: true), Make.account("alice", admin: true),
                                                          Make.account("bob"), Make.account("ops", admin: true, locked: true)],
                                       tasks: [Make.task("cron:aaaaaaaaaaaaaaaa")], firewall: Make.allWormPorts(.notBlocked))
        try db.testReport(agent: agent, at: t0, inventory: inventory)
        var later = inventory
        later.collectedAt = t0.addingTimeInterval(60)
        later.scheduledTasks = .ok(ScheduledTaskInventory(entries: [Make.task("cron:aaaaaaaaaaaaaaaa"), Make.task("at:bbbbbbbbbbbbbbbb")],
                                                          sources: [], unreadable: [], truncated: false, skippedLines: 0, notes: []))
        try db.testReport(agent: agent, at: t0.addingTimeInterval(60), scan: Make.scan(at: t0.addingTimeInterval(60), hosts: [
            Make.host("198.18.1.40", findings: [FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 3456, proto: .tcp, evidence: "reply"),
                                                FindingObservation(detectionID: DetectionCatalogue.wannacrySMBv1, port: 445, proto: .tcp, evidence: "NT LM 0.12")]),
            Make.host("198.18.1.41", findings: []),
        ]), inventory: later)

        let plan = RemediationPlanner.plan(segment: "dmz",
                                           jumpHosts: [.init(agentID: agent, hostName: "jump-dmz", inventory: try db.inventory(agentID: agent)?.inventory)],
                                           findings: try db.findings(FindingFilter(segment: "dmz")), hosts: try db.hosts(segment: "dmz"), now: t0)
        let actions = try #require(plan.agents.first).actions.map(\.action)
        #expect(actions == [
            .rotatePassword(user: "root", length: 24), .rotatePassword(user: "alice", length: 24),
            .removeScheduledTask(id: "at:bbbbbbbbbbbbbbbb", source: "/etc/cron.d/x"),
            .blockPorts(tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: .both),
            .refreshInventory, .rescan,
        ])
        // The YAML is a valid task file with the same actions, and says why.
        let yaml = plan.agents[0].yaml
        #expect(try TaskFile.parse(yaml: yaml, origin: "plan").tasks == actions)
        #expect(yaml.contains("# indicators of compromise in the segment (198.18.1.40)"))

        #expect(plan.windowsWork.map(\.address) == ["198.18.1.40"])
        let item = plan.windowsWork[0]
        #expect(item.updates == ["KB958644", "KB957097", "KB958687", "MS17-010"])
        #expect(item.disableSMBv1 && item.disableAutoRun && item.changePasswords && item.deleteScheduledJobs)
        #expect(item.steps.first?.hasPrefix("Isolate") == true)
        #expect(plan.windowsCSV.split(separator: "\r\n").count == 2)
        #expect(plan.windowsMarkdown.contains("INFECTED: Conficker"))
        #expect(plan.windowsMarkdown.contains("- [ ] Disable SMBv1"))
    }

    @Test func hostsTheSensorCaughtSweepingComeFirstInTheWindowsWorkList() throws {
        let db = try CoordinatorDatabase.inMemory()
        let agent = try db.testAgent(segment: "dmz", at: t0)
        let sweep = FindingObservation(detectionID: DetectionCatalogue.wormSpreading, proto: .tcp,
                                       evidence: "7 connection attempts (SYN) to the jump host's tcp/445 (passive sensor)")
        try db.testReport(agent: agent, at: t0, scan: Make.scan(at: t0, hosts: [
            Make.host("198.18.1.9", findings: [FindingObservation(detectionID: DetectionCatalogue.wannacrySMBv1, port: 445, proto: .tcp, evidence: "NT LM 0.12")]),
            Make.host("198.18.1.40", findings: [FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 3456, proto: .tcp, evidence: "reply")]),
            Make.host("198.18.1.77", findings: [sweep], complete: false),
        ]))
        // Stored like a scan finding, on its host, as an indicator of compromise.
        let stored = try db.findings(FindingFilter(segment: "dmz")).filter { $0.detectionID == DetectionCatalogue.wormSpreading }
        #expect(stored.map(\.address) == ["198.18.1.77"] && stored.first?.kind == .ioc && stored.first?.source == .scan)
        let plan = RemediationPlanner.plan(segment: "dmz", jumpHosts: [], findings: try db.findings(FindingFilter(segment: "dmz")),
                                           hosts: try db.hosts(segment: "dmz"), now: t0)
        #expect(plan.windowsWork.map(\.address) == ["198.18.1.77", "198.18.1.40", "198.18.1.9"])
        #expect(plan.windowsWork[0].steps.first?.hasPrefix("Isolate the host now: it is sweeping the segment") == true)
        #expect(plan.windowsMarkdown.contains("Hosts sweeping the segment first"))
        let markdown = plan.windowsMarkdown
        let sweeping = try #require(markdown.range(of: "## 198.18.1.77")), infected = try #require(markdown.range(of: "## 198.18.1.40"))
        #expect(sweeping.lowerBound < infected.lowerBound)
    }

    @Test func aBackdoorIsLockedBaselineJobsStayAndThePolicyIsRespected() throws {
        let db = try CoordinatorDatabase.inMemory()
        let agent = try db.testAgent(segment: "dmz", at: t0)
        // Baseline: a legitimate job that mentions /var/tmp (but runs /usr/bin/find), and a backdoor.
        let cleanup = Make.task("cron:cccccccccccccccc", command: "/usr/bin/find /var/tmp -mtime +30 -delete")
        let inventory = Make.inventory(at: t0, accounts: [Make.account("root", uid: 0, admin: true), Make.account("toor", uid: 0, admin: true),
                                                          Make.account("alice", admin: true)],
                                       tasks: [cleanup], firewall: Make.allWormPorts(.notBlocked))
        try db.testReport(agent: agent, at: t0, inventory: inventory)
        var later = inventory
        later.collectedAt = t0.addingTimeInterval(60)
        var worm = Make.task("cron:dddddddddddddddd", command: "/tmp/.sysupdate/svchost", suspicious: ["/tmp/.sysupdate/svchost"])
        worm.source = "/etc/cron.d/sysupdate"
        later.scheduledTasks = .ok(ScheduledTaskInventory(entries: [cleanup, worm], sources: [], unreadable: [], truncated: false, skippedLines: 0, notes: []))
        try db.testReport(agent: agent, at: t0.addingTimeInterval(60), scan: Make.scan(at: t0.addingTimeInterval(60), hosts: [
            Make.host("198.18.1.40", findings: [FindingObservation(detectionID: DetectionCatalogue.confickerP2P, port: 3456, proto: .tcp, evidence: "reply")]),
        ]), inventory: later)
        func plan(policy: RemediationPolicy?) throws -> AgentPlan {
            try #require(RemediationPlanner.plan(segment: "dmz",
                                                 jumpHosts: [.init(agentID: agent, hostName: "jump-dmz", inventory: try db.inventory(agentID: agent)?.inventory,
                                                                   policy: policy)],
                                                 findings: try db.findings(FindingFilter(segment: "dmz")), hosts: try db.hosts(segment: "dmz"), now: t0).agents.first)
        }
        let open = try plan(policy: nil)
        let actions = open.actions.map(\.action)
        #expect(actions.contains(.lockAccount(user: "toor")))
        #expect(!actions.contains(.rotatePassword(user: "toor", length: 24)), "a backdoor gets no fresh escrowed password")
        #expect(actions.contains(.rotatePassword(user: "root", length: 24)))
        #expect(actions.contains(.removeScheduledTask(id: worm.id, source: "/etc/cron.d/sysupdate")), "the worm's job, with where it was seen")
        #expect(!actions.contains { if case .removeScheduledTask(let id, _) = $0 { return id == cleanup.id }; return false }, "the baseline cleanup job stays")
        #expect(open.yaml.contains("has not reported its local policy"))

        // A policy that protects root and does not allow block-ports: those are left out, with the reason.
        let policy = try RemediationPolicy.parse(yaml: """
            allowedActions: [rotate-password, remove-scheduled-task, lock-account, rescan, refresh-inventory]
            protectedAccounts: [root]
            """, origin: "/etc/cordon/policy.yaml")
        let respectful = try plan(policy: policy)
        let kept = respectful.actions.map(\.action)
        #expect(!kept.contains(.rotatePassword(user: "root", length: 24)))
        #expect(!kept.contains { $0.name == "block-ports" })
        #expect(kept.contains(.lockAccount(user: "toor")) && kept.contains(.rotatePassword(user: "alice", length: 24)))
        #expect(respectful.leftOut.map(\.action.name).sorted() == ["block-ports", "rotate-password"])
        #expect(respectful.yaml.contains("# Left out: block-ports") && respectful.yaml.contains("root is a protected account"))
        #expect(try TaskFile.parse(yaml: respectful.yaml, origin: "plan").tasks == kept)
        for action in kept { #expect(policy.refusal(of: action) == nil, "\(action.name) would be refused") }
    }

    @Test func aCleanSegmentPlansNothing() throws {
        let plan = RemediationPlanner.plan(segment: "dmz", jumpHosts: [.init(agentID: "agt-1", hostName: "j", inventory: Make.inventory(at: t0))],
                                           findings: [], hosts: [], now: t0)
        #expect(plan.agents[0].actions.isEmpty)
        #expect(plan.agents[0].yaml.contains("tasks: []"))
        #expect(plan.windowsWork.isEmpty)
    }
}

@Suite struct TaskDispatcherHandoverTests {
    @Test func aDeliveryHandsTheWaiterItsList() async throws {
        let dispatcher = TaskDispatcher()
        let list = Data(#"{"payload":"cA==","signature":"cw=="}"#.utf8)
        async let waited = dispatcher.wait(agentID: "agt-1", timeout: .seconds(30))
        while await dispatcher.waitingAgents == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await dispatcher.deliver([(agentID: "agt-2", signedJSON: Data()), (agentID: "agt-1", signedJSON: list)])
        #expect(await waited == list, "the waiter gets its own agent's list")
        #expect(await dispatcher.waitingAgents == 0)
    }

    /// A poll that looked before a push committed and starts waiting after the push was
    /// announced must not sleep out its wait (it used to, 25 s).
    @Test func aPollThatLookedBeforeTheAnnouncementDoesNotWait() async {
        let dispatcher = TaskDispatcher()
        let looked = ContinuousClock.now
        await dispatcher.notify(["agt-1"])
        let start = ContinuousClock.now
        #expect(await dispatcher.wait(agentID: "agt-1", timeout: .seconds(30), lookedAt: looked) == nil)
        #expect(ContinuousClock.now - start < .seconds(1))
        // A poll that looked after the announcement waits as usual.
        let later = ContinuousClock.now
        let waitStart = ContinuousClock.now
        await dispatcher.wait(agentID: "agt-1", timeout: .milliseconds(300), lookedAt: later)
        #expect(ContinuousClock.now - waitStart >= .milliseconds(290))
        // Another agent is not affected.
        let other = ContinuousClock.now
        await dispatcher.wait(agentID: "agt-2", timeout: .milliseconds(200), lookedAt: looked)
        #expect(ContinuousClock.now - other >= .milliseconds(190))
    }
}
