@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

@Suite struct InventoryFindingRulesTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func ids(_ evaluation: InventoryFindingRules.Evaluation) -> [String] { evaluation.findings.map { "\($0.detectionID) \($0.item)" }.sorted() }

    @Test func accountsYieldAgeEmptyAndUID0Findings() {
        let inventory = Make.inventory(at: t0, accounts: [
            Make.account("root", uid: 0, admin: true, ageDays: 400),
            Make.account("toor", uid: 0, shell: "/bin/sh"),
            Make.account("alice", admin: true, ageDays: 91),
            Make.account("bob", ageDays: 90),
            Make.account("guest", empty: true),
            Make.account("svc", shell: "/usr/sbin/nologin", ageDays: 500),
            Make.account("old-locked", locked: true, ageDays: 900),
        ])
        let evaluation = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: nil, policy: .init())
        #expect(ids(evaluation) == [
            "jumphost.empty-password account:guest",
            "jumphost.password-age account:alice",
            "jumphost.password-age account:root",
            "jumphost.unexpected-uid0 account:toor",
        ])
        #expect(evaluation.evaluated.isSuperset(of: [DetectionCatalogue.passwordAge, DetectionCatalogue.emptyPassword, DetectionCatalogue.unexpectedUID0]))
        // A stricter policy finds bob too, and allowing toor silences it.
        let strict = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: nil,
                                                    policy: .init(passwordMaxAge: .init(seconds: 30 * 86400), failedLogonBurst: 10, allowedUID0: ["root", "toor"]))
        #expect(ids(strict).contains("jumphost.password-age account:bob"))
        #expect(!ids(strict).contains("jumphost.unexpected-uid0 account:toor"))
    }

    @Test func passwordRulesNeedShadow() {
        let inventory = Make.inventory(at: t0, accounts: [Make.account("guest", empty: true), Make.account("toor", uid: 0)], shadowReadable: false)
        let evaluation = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: nil, policy: .init())
        #expect(ids(evaluation) == ["jumphost.unexpected-uid0 account:toor"])
        #expect(!evaluation.evaluated.contains(DetectionCatalogue.emptyPassword), "without shadow, password findings are not decided")
    }

    @Test func tasksSinceTheBaselineAndFromWritablePaths() {
        let inventory = Make.inventory(at: t0, tasks: [Make.task("cron:a"), Make.task("cron:b"), Make.task("cron:c", command: "/tmp/x", suspicious: ["/tmp/x"])])
        let noBaseline = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: nil, policy: .init())
        #expect(ids(noBaseline) == ["jumphost.task-writable-path task:cron:c"])
        let withBaseline = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: ["cron:a"], policy: .init())
        #expect(ids(withBaseline) == ["jumphost.new-scheduled-task task:cron:b", "jumphost.new-scheduled-task task:cron:c", "jumphost.task-writable-path task:cron:c"])
    }

    @Test func failedLogonBurstsAreCountedPerSource() {
        let inventory = Make.inventory(at: t0, logons: [
            Make.logon("198.18.1.50", "root", 6, at: t0), Make.logon("198.18.1.50", "admin", 5, at: t0),
            Make.logon("198.18.1.60", "root", 9, at: t0),
        ])
        let evaluation = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: nil, policy: .init())
        #expect(ids(evaluation) == ["jumphost.failed-logon-burst source:198.18.1.50"])
        #expect(evaluation.findings[0].evidence.contains("11 failed logons"))
    }

    @Test func unblockedWormPortsPerDirection() {
        var ports = Make.allWormPorts(.blocked)
        ports[2] = Make.port("tcp", 445, inbound: .notBlocked, outbound: .blocked)
        ports[5] = Make.port("udp", 137, inbound: .partial, outbound: .partial)
        let evaluation = InventoryFindingRules.evaluate(Make.inventory(at: t0, firewall: ports), baselineTaskIDs: nil, policy: .init())
        #expect(ids(evaluation) == ["jumphost.worm-ports-unblocked firewall:inbound", "jumphost.worm-ports-unblocked firewall:outbound"])
        let inbound = evaluation.findings.first { $0.item == "firewall:inbound" }
        #expect(inbound?.evidence == "inbound not blocked: tcp/445, udp/137 (partial)")
        let allBlocked = InventoryFindingRules.evaluate(Make.inventory(at: t0), baselineTaskIDs: nil, policy: .init())
        #expect(allBlocked.findings.isEmpty)
    }

    @Test func unavailableSectionsDecideNothing() {
        let inventory = Make.inventory(at: t0, accounts: nil, tasks: nil, logons: nil, firewall: nil)
        let evaluation = InventoryFindingRules.evaluate(inventory, baselineTaskIDs: ["x"], policy: .init())
        #expect(evaluation.findings.isEmpty)
        #expect(evaluation.evaluated.isEmpty)
    }
}

@Suite struct InventoryDiffTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func reportsEachKindOfChange() {
        let before = Make.inventory(at: t0, accounts: [Make.account("root", uid: 0), Make.account("alice"), Make.account("bob")],
                                    tasks: [Make.task("cron:a"), Make.task("cron:b")], firewall: Make.allWormPorts(.notBlocked),
                                    sockets: [ListeningSocket(transport: .tcp, family: .ipv4, localAddress: "0.0.0.0", mappedIPv4Address: nil, port: 22, inode: 1, owner: nil)])
        var alice = Make.account("alice", lastChanged: t0)
        alice.password?.ageDays = 0
        let after = Make.inventory(at: t0.addingTimeInterval(60), accounts: [Make.account("root", uid: 0), alice, Make.account("mallory", uid: 0)],
                                   tasks: [Make.task("cron:a"), Make.task("cron:c")], firewall: Make.allWormPorts(.blocked),
                                   sockets: [ListeningSocket(transport: .tcp, family: .ipv4, localAddress: "0.0.0.0", mappedIPv4Address: nil, port: 4444, inode: 2, owner: nil)])
        let changes = InventoryDiff.changes(from: before, to: after).map { "\($0.kind.rawValue) \($0.subject)" }
        #expect(changes.contains("task.added cron:c"))
        #expect(changes.contains("task.removed cron:b"))
        #expect(changes.contains("account.added mallory"))
        #expect(changes.contains("account.uid0 mallory"))
        #expect(changes.contains("account.removed bob"))
        #expect(changes.contains("password.changed alice"))
        #expect(changes.contains("port.opened tcp/0.0.0.0:4444"))
        #expect(changes.contains("port.closed tcp/0.0.0.0:22"))
        #expect(changes.contains("firewall.changed tcp/445"))
        #expect(!changes.contains("password.changed root"))
    }

    @Test func anUnreadableSectionIsNotARemoval() {
        let before = Make.inventory(at: t0, tasks: [Make.task("cron:a")])
        let after = Make.inventory(at: t0.addingTimeInterval(60), tasks: nil)
        #expect(InventoryDiff.changes(from: before, to: after).isEmpty)
    }
}
