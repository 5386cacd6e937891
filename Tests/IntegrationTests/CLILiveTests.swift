@testable import CordonCoordinator
import CordonShared
import GRDB
import Foundation
import Testing

/// The whole walk-through of the README with the built binaries: init, serve, operators add,
/// tokens create, enroll, run, status, revoke, and clean shutdown on SIGTERM.
@Suite(.serialized) struct CLILiveTests {
    @Test func theDeploymentWalkThroughWorksWithTheRealBinaries() async throws {
        let root = NSTemporaryDirectory() + "cordon-cli-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let state = root + "/coordinator"

        let initResult = try await Child.run(Binaries.cordon, ["init", "--state-dir", state, "--name", "127.0.0.1", "--san", "localhost", "--json"])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        struct InitOutput: Decodable { var caFingerprint: String }
        let fingerprint = try JSONDecoder().decode(InitOutput.self, from: Data(initResult.stdout.utf8)).caFingerprint

        let again = try await Child.run(Binaries.cordon, ["init", "--state-dir", state, "--name", "127.0.0.1"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("refusing to overwrite"))

        let serve = try Child(Binaries.cordon, ["serve", "--state-dir", state, "--host", "127.0.0.1", "--port", "0"])
        defer { serve.signal(SIGKILL) }
        #expect(await serve.waitForOutput(timeout: 20) { $0.contains("coordinator listening") }, "\(serve.stderr)")
        let port = try #require(serve.stderr.firstMatch(of: /127\.0\.0\.1:(\d+)/).map { String($0.1) })
        let url = "https://127.0.0.1:\(port)"

        let op = try await Child.run(Binaries.cordon, ["operators", "add", "alice", "--state-dir", state, "--coordinator", url, "--out", root + "/op"])
        #expect(op.status == 0, "\(op.stderr)")
        let profile = root + "/op/alice.yaml"

        let noProfile = try await Child.run(Binaries.cordon, ["status"], environment: ["CORDON_PROFILE": root + "/nowhere.yaml"])
        #expect(noProfile.status == 2)
        #expect(noProfile.stderr.contains("no operator profile"))

        let token = try await Child.run(Binaries.cordon, ["tokens", "create", "--segment", "dmz", "--ttl", "10m", "--profile", profile])
        #expect(token.status == 0, "\(token.stderr)")
        let tokenValue = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(tokenValue.hasPrefix("ct_"))

        let agentConfig = root + "/agent.yaml"
        try "stateDir: \(root)/agent\nheartbeatInterval: 1s\nreportInterval: 1s\nmaxBackoff: 1s\n".write(toFile: agentConfig, atomically: true, encoding: .utf8)
        let badPin = try await Child.run(Binaries.agent, ["enroll", "--config", agentConfig, "--coordinator", url, "--token", tokenValue,
                                                          "--ca-fingerprint", "SHA256:" + String(repeating: "0", count: 64)])
        #expect(badPin.status != 0)
        #expect(badPin.stderr.contains("not the pinned"))
        let enroll = try await Child.run(Binaries.agent, ["enroll", "--config", agentConfig, "--coordinator", url, "--token", tokenValue,
                                                          "--ca-fingerprint", fingerprint, "--json"])
        #expect(enroll.status == 0, "\(enroll.stderr)")
        struct Enrolled: Decodable { var agentID: String }
        let agentID = try JSONDecoder().decode(Enrolled.self, from: Data(enroll.stdout.utf8)).agentID

        // The coordinator records what segment dmz may scan; an agent configured to scan
        // elsewhere refuses to start, saying why.
        let scope = try await Child.run(Binaries.cordon, ["segments", "set", "dmz", "--scope", "127.0.5.0/24", "--profile", profile])
        #expect(scope.status == 0, "\(scope.stderr)")
        let badScopeConfig = root + "/agent-bad-scope.yaml"
        try "stateDir: \(root)/agent\nscan:\n  scope: [127.0.9.0/24]\n".write(toFile: badScopeConfig, atomically: true, encoding: .utf8)
        let refused = try await Child.run(Binaries.agent, ["run", "--config", badScopeConfig], timeout: 30)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("outside what this agent's segment may scan"), "\(refused.stderr)")

        let agent = try Child(Binaries.agent, ["run", "--config", agentConfig])
        defer { agent.signal(SIGKILL) }
        var reported = false
        for _ in 0..<100 where !reported {
            let status = try await Child.run(Binaries.cordon, ["status", "--json", "--profile", profile])
            if status.status == 0, let fleet = try? CordonJSON.decode(FleetStatus.self, from: Data(status.stdout.utf8)),
               fleet.agents.first?.lastReportAt != nil, fleet.agents.first?.state == .online {
                reported = true
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(reported, "the agent's report reached `cordon status`")
        let table = try await Child.run(Binaries.cordon, ["status", "--profile", profile])
        #expect(table.stdout.contains("dmz") && table.stdout.contains("Every agent is online"), "\(table.stdout)")

        let agentStatus = try await Child.run(Binaries.agent, ["status", "--config", agentConfig, "--json"])
        #expect(agentStatus.status == 0, "\(agentStatus.stdout)\(agentStatus.stderr)")
        #expect(agentStatus.stdout.contains("\"reachable\" : true"))

        agent.signal(SIGTERM)
        #expect(await agent.wait(timeout: 15) == 0, "SIGTERM ends the agent cleanly: \(agent.stderr)")

        let revoke = try await Child.run(Binaries.cordon, ["agents", "revoke", agentID, "--profile", profile])
        #expect(revoke.status == 0)
        let afterRevoke = try await Child.run(Binaries.agent, ["status", "--config", agentConfig])
        #expect(afterRevoke.status == 4, "a revoked agent is told so: \(afterRevoke.stdout)")
        #expect(afterRevoke.stdout.contains("revoked"))

        let missing = try await Child.run(Binaries.cordon, ["agents", "show", "agt-nope", "--profile", profile])
        #expect(missing.status == 5)

        let audit = try await Child.run(Binaries.cordon, ["audit", "--json", "--profile", profile])
        let entries = try CordonJSON.decode([AuditEntry].self, from: Data(audit.stdout.utf8))
        #expect(entries.map(\.action).contains("agent.revoke"))
        #expect(entries.map(\.action).contains("token.create"))

        serve.signal(SIGTERM)
        #expect(await serve.wait(timeout: 15) == 0, "SIGTERM ends the coordinator cleanly: \(serve.stderr)")
    }

    @Test func helpTeachesWithExamples() async throws {
        for (binary, args, needle) in [(Binaries.cordon, ["tokens", "create", "--help"], "cordon tokens create --segment dmz"),
                                       (Binaries.cordon, ["init", "--help"], "cordon init --state-dir"),
                                       (Binaries.agent, ["enroll", "--help"], "--ca-fingerprint SHA256:")] {
            let result = try await Child.run(binary, args)
            #expect(result.status == 0)
            #expect(result.stdout.contains(needle), "\(args)")
        }
        let bad = try await Child.run(Binaries.cordon, ["tokens", "create", "--segment", "a b"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--segment"))
    }
}

/// `cordon findings` on more findings than a screen: the table shows the most severe and says
/// there are more; an export has them all unless limited.
@Suite struct FindingsLimitCLITests {
    @Test func theTableShowsTheMostSevereAndSaysThereAreMore() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let t0 = Date()
        let critical = try #require(DetectionCatalogue.all.first { $0.severity == .critical && $0.source == .scan })
        let lower = try #require(DetectionCatalogue.all.first { $0.severity < .critical && $0.source == .scan })
        try await fleet.database.writer.write { db in
            for i in 0..<30 {
                let d = i < 3 ? critical : lower
                try db.execute(sql: """
                    INSERT INTO finding (segment, subject, address, agentID, detectionID, item, evidence, firstSeen, lastSeen)
                    VALUES ('dmz', ?, ?, ?, ?, '', 'e', ?, ?)
                    """, arguments: ["host:198.18.7.\(i + 1)", "198.18.7.\(i + 1)", agent.id, d.id, t0, t0])
            }
        }
        let profile = fleet.root + "/operator/alice.yaml"
        let limited = try await Child.run(Binaries.cordon, ["findings", "--limit", "3", "--profile", profile])
        #expect(limited.status == 0, "\(limited.stderr)")
        #expect(limited.stderr.contains("showing the 3 most severe findings; there are more (--limit 0 for all)"), "\(limited.stderr)")
        let rows = limited.stdout.split(separator: "\n").filter { $0.contains("198.18.7.") }
        #expect(rows.count == 3 && rows.allSatisfy { $0.contains(critical.id) || $0.contains(critical.title.prefix(20)) }, "\(limited.stdout)")

        let whole = try await Child.run(Binaries.cordon, ["findings", "--limit", "30", "--profile", profile])
        #expect(whole.status == 0 && !whole.stderr.contains("there are more"), "\(whole.stderr)")
        // The largest --limit stays within what the API takes (it asks for one more than shown).
        let largest = try await Child.run(Binaries.cordon, ["findings", "--limit", "10000000", "--profile", profile])
        #expect(largest.status == 0 && !largest.stderr.contains("there are more"), "\(largest.stderr)")
        let json = try await Child.run(Binaries.cordon, ["findings", "--json", "--profile", profile])
        #expect(try CordonJSON.decode([FindingView].self, from: Data(json.stdout.utf8)).count == 30, "an export has every finding")
        let bad = try await Child.run(Binaries.cordon, ["findings", "--limit=-1", "--profile", profile])
        #expect(bad.status != 0 && bad.stderr.contains("--limit must be 0-10000000"), "\(bad.stderr)")
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
