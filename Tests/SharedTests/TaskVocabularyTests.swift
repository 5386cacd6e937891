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
        let late = now.addingTimeInterval(601)
        let refusal = signed.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 0, now: late)
        guard case .failure(.expired) = refusal else { Issue.record("not refused as expired: \(refusal)"); return }
        // The reason says whose clock and by how much it is ahead if the list came at once.
        let reason: String
        if case .failure(let why) = refusal { reason = why.reason } else { reason = "" }
        #expect(reason.contains("by this host's clock"), "\(reason)")
        #expect(reason.contains("about 10m ahead"), "\(reason)")
        #expect(signed.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 5, now: now) == .failure(.replayed(sequence: 5, lastSeen: 5)))
        // Signed but with an invalid action inside: refused as malformed.
        let bad = try SignedTaskList.sign(list(actions: [.rotatePassword(user: "x y", length: 24)]), with: key)
        guard case .failure(.malformed) = bad.verify(key: key.publicKey, agentID: "agt-1", lastSequence: 0, now: now) else {
            Issue.record("invalid action accepted"); return
        }
    }
}

@Suite struct SequenceSetTests {
    @Test func onlyAcceptedNumbersAreReplaysWhateverTheHighest() throws {
        var set = SequenceSet()
        #expect(!set.contains(1) && set.highest == 0)
        for n: Int64 in [1, 2, 3, 7, 5] { set.insert(n) }
        #expect(set.ranges == [[1, 3], [5, 5], [7, 7]])
        #expect(!set.contains(4) && !set.contains(6) && set.contains(5) && set.highest == 7)
        set.insert(6)
        #expect(set.ranges == [[1, 3], [5, 7]])
        set.insert(4)
        #expect(set.ranges == [[1, 7]])
        set.insert(4)
        #expect(set.ranges == [[1, 7]], "inserting twice changes nothing")
        set.insert(0)
        set.insert(-3)
        #expect(set.ranges == [[1, 7]], "non-positive numbers are never recorded")
        #expect(SequenceSet(through: 5).ranges == [[1, 5]] && SequenceSet(through: 0).ranges.isEmpty)
    }

    @Test func itRoundTripsAndRefusesMalformedRanges() throws {
        var set = SequenceSet()
        for n: Int64 in [2, 9, 10] { set.insert(n) }
        #expect(try CordonJSON.decode(SequenceSet.self, from: try CordonJSON.encode(set)) == set)
        for bad in ["[[3, 1]]", "[[1, 2], [3, 4]]", "[[5, 6], [1, 2]]", "[[0, 1]]", "[[1]]", "[[1, 2, 3]]"] {
            #expect(throws: (any Error).self, "\(bad)") { try CordonJSON.decode(SequenceSet.self, from: Data(bad.utf8)) }
        }
    }

    @Test func itStaysBoundedByCountingTheOldestGapsAsSeen() {
        var set = SequenceSet()
        for n in stride(from: Int64(1), through: Int64(2 * SequenceSet.maxRanges + 10), by: 2) { set.insert(n) }
        #expect(set.ranges.count == SequenceSet.maxRanges)
        #expect(set.contains(2), "the oldest gap was closed: refused if it ever comes")
        #expect(!set.contains(Int64(2 * SequenceSet.maxRanges + 8)), "recent gaps stay open")
    }
}

@Suite struct SignedListStrictnessTests {
    let key = Curve25519.Signing.PrivateKey()
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func list(sequence: Int64) -> TaskList {
        TaskList(id: "tl-\(sequence)", agentID: "agt-1", sequence: sequence, issuedAt: now, expiresAt: now.addingTimeInterval(600), dryRun: false,
                 description: nil, actions: [.rescan], issuedBy: "operator:alice")
    }

    @Test func aListNeverAcceptedRunsEvenBelowTheHighestAcceptedNumber() throws {
        var accepted = SequenceSet()
        accepted.insert(1)
        accepted.insert(3)
        let two = try SignedTaskList.sign(list(sequence: 2), with: key)
        #expect(try two.verify(key: key.publicKey, agentID: "agt-1", accepted: accepted, now: now).get().sequence == 2)
        let three = try SignedTaskList.sign(list(sequence: 3), with: key)
        #expect(three.verify(key: key.publicKey, agentID: "agt-1", accepted: accepted, now: now) == .failure(.replayed(sequence: 3, lastSeen: 3)))
        let zero = try SignedTaskList.sign(list(sequence: 0), with: key)
        #expect(zero.verify(key: key.publicKey, agentID: "agt-1", accepted: accepted, now: now) == .failure(.badSequence(0)))
    }

    @Test func aSignedListWithAnUnknownFieldIsRefused() throws {
        var object = try JSONSerialization.jsonObject(with: try CordonJSON.encode(list(sequence: 1))) as! [String: Any]
        object["runAsShell"] = "rm -rf /"
        let payload = try JSONSerialization.data(withJSONObject: object)
        let signed = SignedTaskList(payload: payload, signature: try key.signature(for: payload))
        guard case .failure(.malformed(let why)) = signed.verify(key: key.publicKey, agentID: "agt-1", accepted: SequenceSet(), now: now) else {
            Issue.record("a signed list with an unknown field was accepted"); return
        }
        #expect(why.contains("runAsShell"), "\(why)")
        // An unknown parameter inside an action too.
        var withParam = try JSONSerialization.jsonObject(with: try CordonJSON.encode(list(sequence: 1))) as! [String: Any]
        withParam["actions"] = [["rescan": ["force": true]]]
        let payload2 = try JSONSerialization.data(withJSONObject: withParam)
        let signed2 = SignedTaskList(payload: payload2, signature: try key.signature(for: payload2))
        guard case .failure(.malformed) = signed2.verify(key: key.publicKey, agentID: "agt-1", accepted: SequenceSet(), now: now) else {
            Issue.record("an unknown action parameter was accepted"); return
        }
    }

    @Test func lockAccountAndTheSourceOfARemovalRoundTrip() throws {
        let file = try TaskFile.parse(yaml: """
            tasks:
              - lock-account: {user: toor}
              - remove-scheduled-task: {id: "cron:0123456789abcdef", source: /etc/cron.d/sysupdate}
            """, origin: "t.yaml")
        #expect(file.tasks == [.lockAccount(user: "toor"), .removeScheduledTask(id: "cron:0123456789abcdef", source: "/etc/cron.d/sysupdate")])
        #expect(try CordonJSON.decode([TaskAction].self, from: try CordonJSON.encode(file.tasks)) == file.tasks)
        #expect(try TaskFile.parse(yaml: "tasks:\n" + file.tasks.map { "  " + $0.yamlLine }.joined(separator: "\n"), origin: "y").tasks == file.tasks)
        for bad in ["  - lock-account: {user: \"a b\"}", "  - lock-account: {}", "  - remove-scheduled-task: {id: \"cron:0123456789abcdef\", source: etc/x}",
                    "  - remove-scheduled-task: {id: \"cron:0123456789abcdef\", source: /etc/../shadow}"] {
            #expect(throws: CordonError.invalidArgument, "\(bad)") { try TaskFile.parse(yaml: "tasks:\n" + bad, origin: "t.yaml") }
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
