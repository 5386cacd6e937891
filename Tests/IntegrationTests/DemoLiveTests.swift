import CordonShared
import Crypto
import Foundation
import Testing

/// `cordon demo`, the built binary, end to end: the fleet's findings, then the remediation
/// loop (plan, push, the agent verifies and runs it, rescan, new inventory) with the jump host's
/// findings resolved, and nothing of this machine's accounts, cron or firewall touched.
@Suite(.serialized) struct DemoLiveTests {
    static func digest(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    /// What remediation could touch on this machine, as bytes and listings.
    static func machineFingerprint() async throws -> String {
        var parts: [String] = []
        for path in ["/etc/shadow", "/etc/passwd", "/etc/group", "/etc/crontab"] {
            parts.append(path + ":" + ((FileManager.default.contents(atPath: path)).map { Self.digest($0) } ?? "absent"))
        }
        for directory in ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron/atjobs"] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            for name in names {
                parts.append(directory + "/" + name + ":" + ((FileManager.default.contents(atPath: directory + "/" + name)).map { Self.digest($0) } ?? "?"))
            }
        }
        for nft in ["/usr/sbin/nft", "/sbin/nft"] where FileManager.default.isExecutableFile(atPath: nft) {
            let ruleset = try await Child.run(nft, ["list", "ruleset"], timeout: 30)
            parts.append("nft:" + Self.digest(Data(ruleset.stdout.utf8)))
            break
        }
        return parts.joined(separator: "\n")
    }

    struct Output: Decodable {
        struct Loop: Decodable {
            var segment: String
            var plan: AgentPlan
            var task: TaskView
            var before: [FindingView]
            var after: [FindingView]
        }
        var findings: [FindingView]
        var remediation: Loop?
    }

    @Test func theDemoRunsTheRemediationLoopInItsSandbox() async throws {
        let root = NSTemporaryDirectory() + "cordon-demo-test-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let machineBefore = try await Self.machineFingerprint()

        let demo = try await Child.run(Binaries.cordon, ["demo", "--state-dir", root, "--json"], timeout: 180)
        #expect(demo.status == 0, "\(demo.stderr.suffix(3000))")
        let output = try CordonJSON.decode(Output.self, from: Data(demo.stdout.utf8))
        let loop = try #require(output.remediation)
        #expect(loop.segment == "office")
        let actions = loop.plan.actions.map(\.action)
        #expect(actions.contains(.lockAccount(user: "toor")), "the UID 0 backdoor is locked, not given a password")
        #expect(actions.contains { $0.name == "remove-scheduled-task" } && actions.contains { $0.name == "block-ports" })
        let run = try #require(loop.task.runs.first)
        #expect(run.state == .succeeded, "\(run.state): \(run.message ?? "")")
        #expect(run.events.map(\.state) == [.queued, .delivered, .running, .succeeded])
        #expect(run.results.allSatisfy { [.changed, .unchanged].contains($0.outcome) }, "\(run.results.map { "\($0.action.name) \($0.outcome.rawValue) \($0.detail)" })")

        // The findings the plan answered are resolved by the rescan and the new inventory.
        let before = Set(loop.before.map(\.detectionID)), after = Set(loop.after.map(\.detectionID))
        for resolved in [DetectionCatalogue.unexpectedUID0, DetectionCatalogue.newScheduledTask, DetectionCatalogue.taskFromWritablePath,
                         DetectionCatalogue.wormPortsUnblocked, DetectionCatalogue.passwordAge] {
            #expect(before.contains(resolved) && !after.contains(resolved), "\(resolved): before \(before.sorted()), after \(after.sorted())")
        }
        #expect(loop.after.count < loop.before.count)

        // The sandbox changed, the machine did not.
        let shadow = try String(contentsOfFile: root + "/jumphosts/office/etc/shadow", encoding: .utf8)
        #expect(shadow.contains("toor:!"), "locked in the demo's own /etc/shadow")
        let cronFile = root + "/jumphosts/office/etc/cron.d/sysupdate"
        let cronText = FileManager.default.fileExists(atPath: cronFile) ? try String(contentsOfFile: cronFile, encoding: .utf8) : ""
        #expect(!cronText.contains("svchost"), "the worm's cron line is gone from the demo's jump host")
        #expect(try await Self.machineFingerprint() == machineBefore, "the machine's accounts, crontabs and firewall are unchanged")

        // --no-remediate stops after the findings.
        let plain = try await Child.run(Binaries.cordon, ["demo", "--no-remediate", "--json"], timeout: 180)
        #expect(plain.status == 0, "\(plain.stderr.suffix(2000))")
        #expect(try CordonJSON.decode(Output.self, from: Data(plain.stdout.utf8)).remediation == nil)
    }
}
