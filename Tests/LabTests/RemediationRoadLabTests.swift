import CordonShared
import Foundation
import Testing

/// The whole road of a remediation in the lab: a coordinator in its namespace, an agent on
/// the jump host enrolled over mTLS, an operator pushing `block-ports`; the jump host's own
/// scanner then sees the worm ports filtered, and `unblock-ports` gives them back.
@Suite(.serialized) struct RemediationRoadLabTests {
    static var cordon: String { LabEnvironment.repoRoot.appendingPathComponent(".build/debug/cordon").path }
    static var agent: String { LabEnvironment.repoRoot.appendingPathComponent(".build/debug/cordon-agent").path }

    func portState(_ lab: Lab, _ jump: String, _ address: String, _ port: Int) async throws -> PortState? {
        let result = try await lab.exec(jump, [Self.agent, "scan", "--scope", address, "--profile", "ports", "--json", "--quiet",
                                               "--timeout", "300ms", "--retries", "1"], timeout: .seconds(60))
        guard result.succeeded, let report = try? CordonJSON.decode(ScanReport.self, from: Data(result.stdout.utf8)) else {
            Issue.record("scan failed: \(result)")
            return nil
        }
        guard let host = report.hosts.first(where: { $0.address == address }) else { return .filtered }  // nothing answered at all
        return host.services.first { $0.proto == .tcp && $0.port == port }?.state ?? .closed
    }

    @Test func blockingTheWormPortsMakesThemFilteredFromTheJumpHost() async throws {
        try await withLab(LabOptions(segments: 1, roles: ["smb1-null", "backdoor"])) { lab in
            let coord = lab.coordinator.namespace, jump = lab.jumpNamespace()
            let work = lab.stateDir + "/remediation"
            let coordinatorURL = "https://\(lab.coordinator.address):8443"

            // Coordinator in its namespace.
            let initResult = try await lab.exec(coord, [Self.cordon, "init", "--state-dir", work + "/coordinator", "--name", lab.coordinator.address, "--json"])
            #expect(initResult.succeeded, "\(initResult)")
            struct InitOutput: Decodable { var caFingerprint: String }
            let fingerprint = try JSONDecoder().decode(InitOutput.self, from: Data(initResult.stdout.utf8)).caFingerprint
            try lab.spawn(coord, name: "coordinator", [Self.cordon, "serve", "--state-dir", work + "/coordinator", "--host", lab.coordinator.address, "--port", "8443"])
            let op = try await lab.exec(coord, [Self.cordon, "operators", "add", "alice", "--state-dir", work + "/coordinator", "--coordinator", coordinatorURL,
                                                "--out", work + "/operator"])
            #expect(op.succeeded, "\(op)")
            let profile = work + "/operator/alice.yaml"
            var token: LabCommandResult?
            for _ in 0..<300 {  // the coordinator starts in the background: up to 30 s
                token = try await lab.exec(coord, [Self.cordon, "tokens", "create", "--segment", lab.segment(1).name, "--profile", profile])
                if token?.succeeded == true { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let tokenValue = try #require(token).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard tokenValue.hasPrefix("ct_") else {
                Issue.record("no token: \(String(describing: token))\ncoordinator log:\n\(lab.log(of: "coordinator").suffix(3000))")
                return
            }

            // The agent on the jump host, with a policy that allows port blocking.
            try SecureFile.makeDirectory(work + "/agent")
            try """
                stateDir: \(work)/agent/state
                heartbeatInterval: 1s
                reportInterval: 5s
                maxBackoff: 1s
                policyFile: \(work)/agent/policy.yaml
                inventory:
                  enabled: false

                """.write(toFile: work + "/agent/agent.yaml", atomically: true, encoding: .utf8)
            try "allowedActions: [block-ports, unblock-ports, rescan]\n".write(toFile: work + "/agent/policy.yaml", atomically: true, encoding: .utf8)
            let enroll = try await lab.exec(jump, [Self.agent, "enroll", "--config", work + "/agent/agent.yaml", "--coordinator", coordinatorURL,
                                                   "--token", tokenValue, "--ca-fingerprint", fingerprint, "--json"])
            #expect(enroll.succeeded, "\(enroll)")
            struct Enrolled: Decodable { var agentID: String }
            let agentID = try JSONDecoder().decode(Enrolled.self, from: Data(enroll.stdout.utf8)).agentID
            try lab.spawn(jump, name: "agent", [Self.agent, "run", "--config", work + "/agent/agent.yaml"])

            let target = try lab.host("smb1-null").address
            #expect(try await portState(lab, jump, target, 445) == .open)

            func pushAndWait(_ yaml: String, _ name: String) async throws -> LabCommandResult {
                let file = work + "/\(name).yaml"
                try yaml.write(toFile: file, atomically: true, encoding: .utf8)
                let pushed = try await lab.exec(coord, [Self.cordon, "tasks", "push", "--agent", agentID, file, "--json", "--profile", profile])
                #expect(pushed.succeeded, "\(pushed)")
                let view = try CordonJSON.decode(TaskView.self, from: Data(pushed.stdout.utf8))
                return try await lab.exec(coord, [Self.cordon, "tasks", "wait", view.id, "--timeout", "60s", "--profile", profile], timeout: .seconds(90))
            }

            let block = try await pushAndWait("tasks:\n  - block-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}\n", "block")
            #expect(block.succeeded, "\(block)\n\(lab.log(of: "agent"))")
            let table = try await lab.exec(jump, ["nft", "list", "table", "inet", "cordon"])
            #expect(table.stdout.contains("445"), "\(table)")
            #expect(try await portState(lab, jump, target, 445) == .filtered, "blocked: the jump host's scanner sees 445 filtered")
            #expect(try await portState(lab, jump, try lab.host("backdoor").address, 4444) == .open, "ports not named stay open")

            let unblock = try await pushAndWait("tasks:\n  - unblock-ports: {tcp: [135, 139, 445, 593], udp: [135, 137, 138, 445], direction: both}\n", "unblock")
            #expect(unblock.succeeded, "\(unblock)")
            #expect(try await portState(lab, jump, target, 445) == .open, "unblocked: open again")
            let gone = try await lab.exec(jump, ["nft", "list", "table", "inet", "cordon"])
            #expect(!gone.succeeded, "Cordon's table is removed when empty")
            // The machine's own ruleset was never touched.
            let rootRuleset = try await LabCommand.run(["nft", "list", "tables"])
            #expect(!rootRuleset.stdout.contains("cordon"))
        }
    }
}
