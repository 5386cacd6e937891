import CordonShared
import Crypto
import Foundation
import Testing

@Suite struct TaskFileTests {
    @Test func parsesEveryActionFromYAML() throws {
        let yaml = """
            description: Conficker response
            tasks:
              - rotate-password: {user: root}
              - rotate-password: {user: alice, length: 32}
              - remove-scheduled-task: {id: "cron:0123456789abcdef"}
              - purge-at-jobs: {}
              - purge-at-jobs: {user: bob}
              - block-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}
              - unblock-ports: {tcp: [445]}
              - stop-service: {unit: smbd.service}
              - disable-service: {unit: smbd.service}
              - rescan: {}
              - refresh-inventory:
              - restore: {backup: bk-20261122-abc123}
            """
        let file = try TaskFile.parse(yaml: yaml, origin: "t.yaml")
        #expect(file.tasks == [
            .rotatePassword(user: "root", length: 24), .rotatePassword(user: "alice", length: 32),
            .removeScheduledTask(id: "cron:0123456789abcdef"), .purgeAtJobs(user: nil), .purgeAtJobs(user: "bob"),
            .blockPorts(tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: .both),
            .unblockPorts(tcp: [445], udp: [], direction: .inbound), .stopService(unit: "smbd.service"), .disableService(unit: "smbd.service"),
            .rescan, .refreshInventory, .restore(backup: "bk-20261122-abc123"),
        ])
        // The plan's YAML lines parse back to the same actions.
        let regenerated = "tasks:\n" + file.tasks.map { "  " + $0.yamlLine }.joined(separator: "\n")
        #expect(try TaskFile.parse(yaml: regenerated, origin: "regen").tasks == file.tasks)
    }

    func refusal(_ yaml: String) -> String {
        do {
            _ = try TaskFile.parse(yaml: yaml, origin: "t.yaml")
            return "accepted"
        } catch let error as CordonError { return error.reason } catch { return "\(error)" }
    }

    @Test func thereIsNoShellAndBadParametersAreNamed() {
        #expect(refusal("tasks:\n  - run-shell: {command: 'rm -rf /'}\n").contains("unknown action 'run-shell'"))
        #expect(refusal("tasks:\n  - rotate-password: {user: root, command: x}\n").contains("takes no parameter 'command'"))
        #expect(refusal("tasks:\n  - rotate-password: {}\n").contains("'user'"))
        #expect(refusal("tasks:\n  - rotate-password: {user: 'root;reboot'}\n").contains("not a valid account name"))
        #expect(refusal("tasks:\n  - rotate-password: {user: root, length: 4}\n").contains("length must be"))
        #expect(refusal("tasks:\n  - block-ports: {tcp: [0]}\n").contains("not 1-65535"))
        #expect(refusal("tasks:\n  - block-ports: {}\n").contains("at least one"))
        #expect(refusal("tasks:\n  - stop-service: {unit: '../../etc/passwd'}\n").contains("systemd unit"))
        #expect(refusal("tasks:\n  - remove-scheduled-task: {id: '/etc/crontab'}\n").contains("scheduled-task ID"))
        #expect(refusal("tasks:\n  - restore: {backup: '../x'}\n").contains("backup ID"))
        #expect(refusal("tasks: []\n").contains("empty"))
        #expect(refusal("tasks:\n  - rescan: {}\n    refresh-inventory: {}\n").contains("exactly one key"))
        #expect(refusal("tasks:\n  - rescan: {}\nextra: 1\n").contains("unknown key 'extra'"))
        #expect(refusal("tasks:\n" + String(repeating: "  - rescan: {}\n", count: 101)).contains("at most 100"))
    }
}

@Suite struct SignedTaskListTests {
    let key = Curve25519.Signing.PrivateKey()
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func list(agent: String = "agt-1", sequence: Int64 = 5, expires: Double = 600, actions: [TaskAction] = [.rescan]) -> TaskList {
        TaskList(id: "tl-1", agentID: agent, sequence: sequence, issuedAt: now, expiresAt: now.addingTimeInterval(expires), dryRun: false,
                 description: nil, actions: actions, issuedBy: "operator:alice")
    }

    @Test func aGoodListVerifies() throws {
        let signed = try SignedTaskList.sign(list(), with: key)
        let decoded = try CordonJSON.decode(SignedTaskList.self, from: try CordonJSON.encode(signed))
        #expect(try decoded.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 4, now: now).get() == list())
    }

    @Test func forgedWrongAgentExpiredAndReplayedAreRefused() throws {
        let signed = try SignedTaskList.sign(list(), with: key)
        #expect(signed.verify(key: Curve25519.Signing.PrivateKey().publicKey, agentID: "agt-1", lastSequence: 0, now: now) == .failure(.badSignature))
        var tampered = signed
        tampered.payload = try CordonJSON.encode(list(actions: [.rotatePassword(user: "root", length: 24)]))
        #expect(tampered.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 0, now: now) == .failure(.badSignature))
        #expect(signed.verify(key: key.publicKey, agentID: "agt-2", lastSequence: 0, now: now) == .failure(.otherAgent("agt-1")))
        #expect(signed.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 0, now: now.addingTimeInterval(601)) == .failure(.expired(now.addingTimeInterval(600))))
        #expect(signed.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 5, now: now) == .failure(.replayed(sequence: 5, lastSeen: 5)))
        // Signed but with an invalid action inside: refused as malformed.
        let bad = try SignedTaskList.sign(list(actions: [.rotatePassword(user: "x y", length: 24)]), with: key)
        guard case .failure(.malformed) = bad.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 0, now: now) else {
            Issue.record("invalid action accepted"); return
        }
    }
}

@Suite struct EscrowTests {
    @Test func onlyTheEscrowKeyOpensAndTheContextIsBound() throws {
        let escrow = Curve25519.KeyAgreement.PrivateKey()
        let sealed = try Escrow.seal(password: "s3cret-Pa55", user: "root", agentID: "agt-1", to: escrow.publicKey, at: Date())
        #expect(!sealed.ciphertext.contains(Data("s3cret".utf8)))
        #expect(try Escrow.open(sealed, agentID: "agt-1", with: escrow) == "s3cret-Pa55")
        #expect(throws: (any Error).self) { try Escrow.open(sealed, agentID: "agt-1", with: Curve25519.KeyAgreement.PrivateKey()) }
        #expect(throws: (any Error).self) { try Escrow.open(sealed, agentID: "agt-2", with: escrow) }
        var otherUser = sealed
        otherUser.user = "alice"
        #expect(throws: (any Error).self) { try Escrow.open(otherUser, agentID: "agt-1", with: escrow) }
    }
}
