import CordonShared
import Foundation
import Testing

/// Tasks pushed while the agent is away (stopped with SIGTERM, or killed with SIGKILL while its
/// long-poll was held) are not lost: the coordinator keeps them queued until the agent says
/// they arrived, and the agent runs each exactly once as soon as it is back. The real
/// `cordon serve` and `cordon-agent run`.
@Suite(.serialized) struct TaskRestartLiveTests {
    struct Site {
        let root: String
        let serve: Child
        let profile: String
        let agentConfig: String
        let agentID: String
    }

    func startSite() async throws -> Site {
        let root = NSTemporaryDirectory() + "cordon-restart-\(UUID().uuidString.prefix(8))"
        let state = root + "/coordinator"
        let initResult = try await Child.run(Binaries.cordon, ["init", "--state-dir", state, "--name", "127.0.0.1", "--json"])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        struct InitOutput: Decodable { var caFingerprint: String }
        let fingerprint = try JSONDecoder().decode(InitOutput.self, from: Data(initResult.stdout.utf8)).caFingerprint
        let serve = try Child(Binaries.cordon, ["serve", "--state-dir", state, "--host", "127.0.0.1", "--port", "0"])
        guard await serve.waitForOutput(timeout: 30, { $0.contains("coordinator listening") }),
              let port = serve.stderr.firstMatch(of: /127\.0\.0\.1:(\d+)/).map({ String($0.1) }) else {
            serve.signal(SIGKILL)
            throw CordonError.io("cordon serve did not start: \(serve.stderr.suffix(1000))")
        }
        let url = "https://127.0.0.1:\(port)"
        _ = try await Child.run(Binaries.cordon, ["operators", "add", "alice", "--state-dir", state, "--coordinator", url, "--out", root + "/op"])
        let profile = root + "/op/alice.yaml"
        let token = try await Child.run(Binaries.cordon, ["tokens", "create", "--segment", "dmz", "--ttl", "10m", "--profile", profile])
        // Only harmless actions: a rescan request changes nothing on this machine.
        try "allowedActions: [rescan, refresh-inventory]\n".write(toFile: root + "/policy.yaml", atomically: true, encoding: .utf8)
        let agentConfig = root + "/agent.yaml"
        try "stateDir: \(root)/agent\nheartbeatInterval: 1s\nreportInterval: 30s\nmaxBackoff: 1s\npolicyFile: \(root)/policy.yaml\n"
            .write(toFile: agentConfig, atomically: true, encoding: .utf8)
        let enroll = try await Child.run(Binaries.agent, ["enroll", "--config", agentConfig, "--coordinator", url,
                                                          "--token", token.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                                          "--ca-fingerprint", fingerprint, "--json"])
        #expect(enroll.status == 0, "\(enroll.stderr)")
        struct Enrolled: Decodable { var agentID: String }
        let agentID = try JSONDecoder().decode(Enrolled.self, from: Data(enroll.stdout.utf8)).agentID
        return Site(root: root, serve: serve, profile: profile, agentConfig: agentConfig, agentID: agentID)
    }

    func push(_ site: Site, _ name: String) async throws -> String {
        let file = site.root + "/\(name).yaml"
        try "description: \(name)\ntasks:\n  - rescan: {}\n".write(toFile: file, atomically: true, encoding: .utf8)
        let pushed = try await Child.run(Binaries.cordon, ["tasks", "push", "--agent", site.agentID, file, "--json", "--profile", site.profile])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        return try CordonJSON.decode(TaskView.self, from: Data(pushed.stdout.utf8)).id
    }

    func task(_ site: Site, _ id: String) async throws -> TaskRunView {
        let shown = try await Child.run(Binaries.cordon, ["tasks", "show", id, "--json", "--profile", site.profile])
        return try #require(try CordonJSON.decode(TaskView.self, from: Data(shown.stdout.utf8)).runs.first)
    }

    /// Waits until the run is final; returns it and the seconds since `since`.
    func waitFinal(_ site: Site, _ id: String, since: Date, timeout: Double = 30) async throws -> (TaskRunView, Double) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let run = try await task(site, id)
            if run.state.isFinal || Date() > deadline { return (run, Date().timeIntervalSince(since)) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func startAgent(_ site: Site) throws -> Child {
        try Child(Binaries.agent, ["run", "--config", site.agentConfig, "--log-level", "info"])
    }

    /// Gives a freshly started agent time to report and settle into its long-poll.
    func settle() async throws { try await Task.sleep(for: .seconds(2)) }

    func checkRanOnce(_ run: TaskRunView, seconds: Double, agent: Child, what: String) {
        #expect(run.state == .succeeded, "\(what): \(run.state) \(run.message ?? "")")
        #expect(run.events.map(\.state) == [.queued, .delivered, .running, .succeeded], "\(what): \(run.events.map(\.state))")
        #expect(run.events.filter { $0.state == .running }.count == 1, "\(what): it ran exactly once")
        #expect(seconds < 2.0, "\(what): finished \(seconds)s after the agent started again")
        print("TaskRestartLiveTests: \(what): the task ran \(String(format: "%.2f", seconds)) s after the agent process started again")
    }

    @Test func aTaskPushedWhileTheAgentIsStoppedOrKilledRunsOnceWhenItIsBack() async throws {
        let site = try await startSite()
        defer {
            site.serve.signal(SIGKILL)
            try? FileManager.default.removeItem(atPath: site.root)
        }

        // SIGTERM: the agent stops cleanly; its held poll is abandoned.
        let first = try startAgent(site)
        try await settle()
        first.signal(SIGTERM)
        #expect(await first.wait(timeout: 15) == 0, "SIGTERM ends the agent: \(first.stderr.suffix(500))")
        let stopped = try await push(site, "while-stopped")
        try await Task.sleep(for: .seconds(1))
        #expect(try await task(site, stopped).state == .queued, "nobody acknowledged it, so it is not delivered")
        var started = Date()
        let second = try startAgent(site)
        defer { second.signal(SIGKILL) }
        let (afterStop, stopSeconds) = try await waitFinal(site, stopped, since: started)
        checkRanOnce(afterStop, seconds: stopSeconds, agent: second, what: "after SIGTERM")
        try await settle()

        // SIGKILL while the poll is held: the coordinator's poll handler may answer into a
        // connection nobody reads; the list stays queued.
        second.signal(SIGKILL)
        _ = await second.wait(timeout: 10)
        let killed = try await push(site, "while-killed")
        try await Task.sleep(for: .seconds(1))
        #expect(try await task(site, killed).state == .queued)
        started = Date()
        let third = try startAgent(site)
        defer { third.signal(SIGKILL) }
        let (afterKill, killSeconds) = try await waitFinal(site, killed, since: started)
        checkRanOnce(afterKill, seconds: killSeconds, agent: third, what: "after SIGKILL")

        // Neither list runs again, and the first is still as it was.
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await task(site, stopped).events.filter { $0.state == .running }.count == 1)
        #expect(try await task(site, killed).events.filter { $0.state == .running }.count == 1)
        third.signal(SIGTERM)
        _ = await third.wait(timeout: 15)
    }
}
