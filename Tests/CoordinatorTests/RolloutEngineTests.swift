@testable import CordonCoordinator
import CordonShared
import Foundation
import Synchronization
import Testing

/// The rollout engine against a fake far side and a fake coordinator: install, idempotence,
/// upgrade, failure isolation, parallel bounding, secrets kept off command lines.
@Suite struct RolloutEngineTests {
    let fast = HostRolloutMachine.Settings(reportTimeout: 0.3, pollInterval: .milliseconds(10))

    func engine(_ inventory: RolloutInventory, remote: FakeRolloutRemote, coordinator: FakeRolloutCoordinator,
                local: RolloutEngine.LocalAgent = RolloutFixture.local(), parallel: Int = 4) -> RolloutEngine {
        RolloutEngine(inventory: inventory, local: local, remote: remote, coordinator: coordinator, settings: fast, parallel: parallel)
    }

    @Test func applyInstallsEveryHostThenLeavesThemAloneThenUpgrades() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inventory = try RolloutFixture.inventory([("j1", "s1", "198.18.0.11"), ("j2", "s2", "198.18.0.12"), ("j3", "s2", "198.18.0.13")],
                                                     keyDirectory: dir)
        let coordinator = FakeRolloutCoordinator()
        let remote = FakeRolloutRemote(coordinator: coordinator)

        // First run: everything is new.
        let first = try await engine(inventory, remote: remote, coordinator: coordinator).run(mode: .apply)
        #expect(first.segments.map(\.scopeAction) == ["set", "set"])
        #expect(coordinator.state.withLock { $0.scopes } == ["s1": ["198.18.1.0/24"], "s2": ["198.18.2.0/24"]])
        #expect(first.hosts.map(\.host) == ["j1", "j2", "j3"])
        for host in first.hosts {
            #expect(host.outcome == .installed, "\(host)")
            #expect(host.installed && host.enrolled && host.reporting == true && host.running)
            #expect(host.supervisor == "plain" && host.systemd == false)
            #expect(host.agentID == "agt-\(host.host)")
            #expect(host.detail?.contains("no systemd") == true)
        }
        #expect(first.summary.installed == 3 && first.summary.reporting == 3 && first.summary.withoutSystemd == 3)
        let tokens = coordinator.state.withLock { $0.tokens }
        #expect(tokens.count == 3 && tokens.allSatisfy { $0.ttl == 900 })
        #expect(Set(tokens.map(\.segment)) == ["s1", "s2"])
        for name in ["j1", "j2", "j3"] { #expect(remote.binaryUploads(name) == 1) }
        // The tokens went on stdin only: never in a command line.
        let log = remote.log.withLock { $0 }
        for token in tokens.map(\.token) {
            #expect(!log.commands.contains { $0.command.contains(token) }, "token on a command line")
            #expect(log.stdinData.contains(Data(token.utf8)))
        }
        #expect(log.commands.contains { $0.command.contains("'--token-file' '/tmp/cordon-rollout.AbCdEf12/token'") })
        #expect(log.commands.filter { $0.command.contains("--probe") }.count == 3)
        #expect(log.commands.allSatisfy { !$0.command.contains("--token ") })
        #expect(first.renderTable().contains("3 host(s): 3 installed, 0 upgraded, 0 repaired, 0 unchanged, 0 failed; 3 reporting."))

        // Second run: nothing to do: no token, no upload, no restart.
        let commandsBefore = remote.log.withLock { $0.commands.count }
        let second = try await engine(inventory, remote: remote, coordinator: coordinator).run(mode: .apply)
        #expect(second.segments.map(\.scopeAction) == ["unchanged", "unchanged"])
        #expect(second.hosts.allSatisfy { $0.outcome == .unchanged && $0.reporting == true && $0.action == "unchanged" }, "\(second.hosts)")
        #expect(coordinator.state.withLock { $0.tokens.count } == 3)
        #expect(remote.log.withLock { $0.commands.count } == commandsBefore + 3, "only the three probes")

        // A new binary: upgraded in place, no new enrollment, a newer report awaited.
        let newer = RolloutFixture.local(sha: String(repeating: "2", count: 64))
        let third = try await engine(inventory, remote: remote, coordinator: coordinator, local: newer).run(mode: .apply)
        #expect(third.hosts.allSatisfy { $0.outcome == .upgraded && $0.reporting == true && $0.action == "upgrade" }, "\(third.hosts)")
        #expect(coordinator.state.withLock { $0.tokens.count } == 3)
        for name in ["j1", "j2", "j3"] {
            #expect(remote.binaryUploads(name) == 2)
            #expect(remote.state(of: name).sha256 == String(repeating: "2", count: 64))
        }
    }

    @Test func oneHostsFailureNeverStopsTheOthers() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inventory = try RolloutFixture.inventory([
            ("good1", "s1", "198.18.0.11"), ("wrongkey", "s1", "198.18.0.11"), ("unreachable", "s1", "198.18.0.99"),
            ("brokeninstall", "s2", "198.18.0.12"), ("silent", "s2", "198.18.0.13"), ("elsewhere", "s2", "198.18.0.14"), ("good2", "s2", "198.18.0.15"),
        ], keyDirectory: dir)
        let coordinator = FakeRolloutCoordinator()
        let remote = FakeRolloutRemote(coordinator: coordinator, behaviors: [
            "wrongkey": .sshFails("root@198.18.0.11: Permission denied (publickey).\r\n"),
            "unreachable": .sshFails("ssh: connect to host 198.18.0.99 port 22: Connection timed out\r\n"),
            "brokeninstall": .installFails("SHA-256 of /tmp/x/cordon-agent is 00, expected 11: the copy is damaged or not the one sent"),
            "silent": .neverReports,
            "elsewhere": .enrolledElsewhere("s9"),
        ])
        let report = try await engine(inventory, remote: remote, coordinator: coordinator, parallel: 3).run(mode: .apply)
        let byName = Dictionary(uniqueKeysWithValues: report.hosts.map { ($0.host, $0) })
        #expect(byName["good1"]?.outcome == .installed && byName["good1"]?.reporting == true)
        #expect(byName["good2"]?.outcome == .installed && byName["good2"]?.reporting == true)

        let wrongKey = try #require(byName["wrongkey"])
        #expect(wrongKey.outcome == .failed && wrongKey.failedStep == "connect")
        #expect(wrongKey.error?.contains("login as root to 198.18.0.11:22 refused: the key") == true, "\(wrongKey.error ?? "")")
        let unreachable = try #require(byName["unreachable"])
        #expect(unreachable.failedStep == "connect" && unreachable.error == "cannot reach 198.18.0.99:22: connection timed out")
        let broken = try #require(byName["brokeninstall"])
        #expect(broken.failedStep == "install" && broken.error?.contains("the copy is damaged") == true)
        let silent = try #require(byName["silent"])
        #expect(silent.failedStep == "report" && silent.reporting == false)
        #expect(silent.error?.contains("no report from agent agt-silent within 300ms") == true)
        #expect(silent.error?.contains("agent log: 2026-01-01 error: coordinator unreachable") == true, "\(silent.error ?? "")")
        let elsewhere = try #require(byName["elsewhere"])
        #expect(elsewhere.outcome == .failed && elsewhere.action == "refuse" && elsewhere.error?.contains("enrolled in segment s9") == true)
        #expect(remote.binaryUploads("elsewhere") == 0, "a refused host is not touched")
        #expect(report.summary.failed == 5 && report.summary.installed == 2)
        // Tokens only for hosts that got as far as needing one.
        #expect(coordinator.state.withLock { $0.tokens.count } == 4)
        let table = report.renderTable()
        #expect(table.contains("ERROR (connect): cannot reach 198.18.0.99:22: connection timed out"))
    }

    @Test func parallelBoundsTheHostsWorkedOnAtOnce() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inventory = try RolloutFixture.inventory((1...12).map { ("h\($0)", "s1", "198.18.0.\(10 + $0)") }, keyDirectory: dir)
        for limit in [1, 3] {
            let coordinator = FakeRolloutCoordinator()
            let remote = FakeRolloutRemote(coordinator: coordinator, delay: .milliseconds(15))
            let report = try await engine(inventory, remote: remote, coordinator: coordinator, parallel: limit).run(mode: .apply)
            #expect(report.hosts.allSatisfy { $0.outcome == .installed }, "\(report.hosts.filter { $0.outcome != .installed })")
            let max = remote.log.withLock { $0.maxInFlight }
            #expect(max <= limit, "parallel \(limit): \(max) at once")
            if limit > 1 { #expect(max > 1, "parallel \(limit) ran one at a time") }
        }
    }

    @Test func boundedMapKeepsOrderAndLimit() async {
        let running = Mutex((now: 0, max: 0))
        let out = await boundedMap(Array(0..<40), limit: 5) { i -> Int in
            running.withLock { $0.now += 1; $0.max = Swift.max($0.max, $0.now) }
            try? await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
            running.withLock { $0.now -= 1 }
            return i * 2
        }
        #expect(out == (0..<40).map { $0 * 2 })
        #expect(running.withLock { $0.max } <= 5)
        #expect(await boundedMap([Int](), limit: 3) { $0 }.isEmpty)
    }

    @Test func planChangesNothing() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inventory = try RolloutFixture.inventory([("j1", "s1", "198.18.0.11"), ("bad", "s1", "198.18.0.99")], keyDirectory: dir)
        let coordinator = FakeRolloutCoordinator()
        let remote = FakeRolloutRemote(coordinator: coordinator, behaviors: ["bad": .sshFails("ssh: connect to host 198.18.0.99 port 22: No route to host")])
        let report = try await engine(inventory, remote: remote, coordinator: coordinator).run(mode: .plan)
        #expect(report.command == "plan")
        #expect(report.segments.first?.scopeAction == "would-set")
        #expect(report.hosts[0].outcome == .planned && report.hosts[0].action == "install")
        #expect(report.hosts[1].outcome == .failed && report.hosts[1].error == "cannot reach 198.18.0.99:22: no route to host")
        #expect(coordinator.state.withLock { $0.tokens.isEmpty && $0.scopeWrites.isEmpty })
        #expect(remote.log.withLock { $0.commands.allSatisfy { $0.command.contains("--probe") } })
        #expect(report.renderTable().contains("Nothing was changed"))
    }

    @Test func aSegmentWhoseScopeCannotBeRecordedIsLeftAlone() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inventory = try RolloutFixture.inventory([("j1", "s1", "198.18.0.11"), ("j2", "s2", "198.18.0.12")], keyDirectory: dir)
        let coordinator = FakeRolloutCoordinator()
        coordinator.state.withLock { $0.failSegment = "s2" }
        let remote = FakeRolloutRemote(coordinator: coordinator)
        let report = try await engine(inventory, remote: remote, coordinator: coordinator).run(mode: .apply)
        #expect(report.segments.map(\.scopeAction) == ["set", "failed"])
        #expect(report.hosts[0].outcome == .installed)
        #expect(report.hosts[1].outcome == .failed && report.hosts[1].failedStep == "precheck")
        #expect(report.hosts[1].error?.contains("scope could not be recorded") == true)
        #expect(!remote.log.withLock { $0.commands.contains { $0.host == "j2" } })
    }

    @Test func anUnreadableKeyFailsBeforeAnyConnection() async throws {
        let dir = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var inventory = try RolloutFixture.inventory([("j1", "s1", "198.18.0.11")], keyDirectory: dir)
        inventory.segments[0].hosts[0].endpoint.key = dir + "/no-such-key"
        let coordinator = FakeRolloutCoordinator()
        let remote = FakeRolloutRemote(coordinator: coordinator)
        let report = try await engine(inventory, remote: remote, coordinator: coordinator).run(mode: .apply)
        #expect(report.hosts[0].failedStep == "precheck" && report.hosts[0].error == "the SSH key \(dir)/no-such-key cannot be read")
        #expect(remote.log.withLock { $0.commands.isEmpty })
    }
}
