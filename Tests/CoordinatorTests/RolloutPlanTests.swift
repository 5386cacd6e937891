@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

/// The per-host decisions (install, upgrade, repair, unchanged, refuse) and the host state machine.
@Suite struct RolloutPlanTests {
    let host = RolloutInventory.Host(name: "j1", segment: "s1", endpoint: .init(address: "198.18.0.11", port: 22, user: "root", key: "/k"),
                                     proxyJump: nil, index: 0)
    let sha = String(repeating: "a", count: 64)

    var target: RolloutTarget {
        RolloutTarget(host: host, agentSHA256: sha, agentVersion: "0.2.0", caFingerprint: RolloutFixture.fingerprint,
                      configYAML: "scan:\n  scope: [198.18.1.0/24]\n", policySHA256: "p1", superviseSHA256: "sup", unitSHA256: "unit")
    }

    /// A host where everything is as the target wants it.
    var upToDate: RemoteAgentState {
        RemoteAgentState(systemd: false, supervisor: "plain", installed: true, sha256: sha, version: "0.2.0", enrolled: true, agentID: "agt-1",
                         segment: "s1", caFingerprint: RolloutFixture.fingerprint, running: true, pid: 42, configSHA256: target.configSHA256,
                         policySHA256: "p1", superviseSHA256: "sup", unitSHA256: nil)
    }

    func agent(_ state: AgentState, revoked: Bool = false) -> AgentSummary {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        return AgentSummary(id: "agt-1", segment: "s1", hostname: "j1", state: state, agentVersion: "0.2.0", enrolledAt: t, lastSeenAt: t,
                            lastReportAt: t, heartbeatInterval: 30, spoolDepth: 0, spoolDroppedTotal: 0, certificateNotAfter: t, revokedAt: revoked ? t : nil)
    }

    @Test func decisions() {
        let decide = { (remote: RemoteAgentState) in RolloutPlanner.decide(target: self.target, remote: remote) }
        #expect(decide(RemoteAgentState()) == .install)
        #expect(decide(upToDate) == .unchanged)

        var other = upToDate
        other.sha256 = String(repeating: "b", count: 64)
        other.version = "0.1.0"
        #expect(decide(other) == .upgrade(from: "0.1.0", to: "0.2.0"))
        other.version = "0.2.0"
        #expect(decide(other) == .upgrade(from: "0.2.0", to: "0.2.0"), "same version, other build: the binary decides")
        other.version = "0.3.0"
        guard case .refuse(let why) = decide(other) else { Issue.record("downgrade not refused"); return }
        #expect(why.contains("newer than 0.2.0") && why.contains("--allow-downgrade"))
        #expect(RolloutPlanner.decide(target: target, remote: other, options: .init(allowDowngrade: true)) == .upgrade(from: "0.3.0", to: "0.2.0"))

        var repair = upToDate
        repair.enrolled = false
        repair.segment = nil
        repair.running = false
        repair.configSHA256 = "old"
        repair.policySHA256 = nil
        #expect(decide(repair) == .repair(["not enrolled", "agent.yaml differs", "no policy.yaml", "agent not running"]))

        var supervisor = upToDate
        supervisor.superviseSHA256 = "older"
        #expect(decide(supervisor) == .repair(["cordon-agent-supervise differs"]))
        supervisor.systemd = true
        #expect(decide(supervisor) == .repair(["runs under plain, wants systemd"]))
        supervisor.supervisor = "systemd"
        supervisor.unitSHA256 = "unit"
        #expect(decide(supervisor) == .unchanged)
        supervisor.unitSHA256 = "other"
        #expect(decide(supervisor) == .repair(["systemd unit differs"]))
        var none = upToDate
        none.supervisor = nil
        none.running = false
        #expect(decide(none) == .repair(["no supervisor installed", "agent not running"]))
    }

    @Test func refusals() {
        var elsewhere = upToDate
        elsewhere.segment = "s2"
        guard case .refuse(let segment) = RolloutPlanner.decide(target: target, remote: elsewhere) else { Issue.record("other segment"); return }
        #expect(segment.contains("enrolled in segment s2 as agt-1, the inventory puts it in s1"))

        var otherCA = upToDate
        otherCA.caFingerprint = "SHA256:" + String(repeating: "cd", count: 32)
        guard case .refuse(let ca) = RolloutPlanner.decide(target: target, remote: otherCA) else { Issue.record("other CA"); return }
        #expect(ca.contains("another coordinator"))
        var sameCADifferentSpelling = upToDate
        sameCADifferentSpelling.caFingerprint = RolloutFixture.fingerprint.uppercased().replacingOccurrences(of: "SHA256:", with: "sha256:")
        #expect(RolloutPlanner.decide(target: target, remote: sameCADifferentSpelling) == .unchanged)

        guard case .refuse(let revoked) = RolloutPlanner.decide(target: target, remote: upToDate, fleetAgent: agent(.revoked, revoked: true)) else {
            Issue.record("revoked"); return
        }
        #expect(revoked.contains("revoked"))
        #expect(RolloutPlanner.decide(target: target, remote: upToDate, fleetAgent: agent(.offline)) == .unchanged)
    }

    @Test func fleetAgentMatching() {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        func a(_ id: String, _ segment: String, _ host: String, _ at: Double, revoked: Bool = false) -> AgentSummary {
            AgentSummary(id: id, segment: segment, hostname: host, state: revoked ? .revoked : .online, agentVersion: "0.1.0",
                         enrolledAt: t.addingTimeInterval(at), lastSeenAt: nil, lastReportAt: nil, heartbeatInterval: 30, spoolDepth: 0,
                         spoolDroppedTotal: 0, certificateNotAfter: t, revokedAt: revoked ? t : nil)
        }
        let agents = [a("old", "s1", "j1", 0), a("new", "s1", "j1", 10), a("revoked", "s1", "j1", 20, revoked: true), a("other", "s2", "j1", 30)]
        #expect(RolloutPlanner.fleetAgent(for: host, agentID: nil, in: agents)?.id == "new")
        #expect(RolloutPlanner.fleetAgent(for: host, agentID: "old", in: agents)?.id == "old")
        #expect(RolloutPlanner.fleetAgent(for: host, agentID: "gone", in: agents)?.id == "new")
        #expect(RolloutPlanner.fleetAgent(for: host, agentID: nil, in: [a("x", "s1", "j2", 0)]) == nil)
    }

    @Test func versions() {
        func v(_ s: String) -> SemanticVersion { SemanticVersion(s)! }
        #expect(v("0.1.0") < v("0.2.0"))
        #expect(v("0.10.0") > v("0.9.9"))
        #expect(v("1.0.0-rc1") < v("1.0.0"))
        #expect(v("1.0") == v("1.0.0"))
        #expect(v("1.0.0+build5") == v("1.0.0"))
        #expect(SemanticVersion("unknown") == nil && SemanticVersion("") == nil && SemanticVersion("1.-2") == nil)
    }

    @Test func installScriptResultLine() {
        let output = """
            installed /usr/local/bin/cordon-agent
            CORDON-INSTALL {"result":"old"}
            no systemd here: running the agent under /usr/local/bin/cordon-agent-supervise
            CORDON-INSTALL {"result":"installed","message":null,"hostname":"j1","os":"Debian GNU/Linux 12 (bookworm)","systemd":false,"supervisor":"plain","installed":true,"sha256":"ab","version":"0.1.0","enrolled":true,"agentID":"agt-1","segment":"s1","caFingerprint":null,"running":true,"pid":77,"configSHA256":null,"policySHA256":null,"superviseSHA256":"cd","unitSHA256":null,"tokenOnCommandLine":false}
            """
        let state = RemoteAgentState.parse(output: output)
        #expect(state?.result == "installed" && state?.pid == 77 && state?.supervisor == "plain" && state?.systemd == false)
        #expect(RemoteAgentState.parse(output: "bash: install-agent.sh: not found") == nil)
        #expect(RemoteAgentState.parse(output: "CORDON-INSTALL {broken") == nil)
    }

    // MARK: The machine

    func machine(_ mode: HostRolloutMachine.Mode = .apply) -> HostRolloutMachine {
        HostRolloutMachine(target: target, mode: mode, settings: .init(reportTimeout: 60, pollInterval: .seconds(1)))
    }

    @Test func aFreshHostGoesThroughEveryStep() {
        var m = machine()
        #expect(m.start() == .probe)
        #expect(m.event(.probed(RemoteAgentState(), fleetAgent: nil)) == .createToken(segment: "s1"))
        #expect(m.event(.tokenCreated("ct_x")) == .makeDirectory)
        #expect(m.tokenToUpload == "ct_x")
        let dir = "/tmp/cordon-rollout.x"
        #expect(m.event(.directoryMade(dir)) == .upload(.binary, directory: dir))
        for next: RolloutUpload in [.installScript, .supervise, .unit, .config, .policy, .token] {
            #expect(m.event(.uploaded) == .upload(next, directory: dir))
        }
        #expect(m.event(.uploaded) == .install(directory: dir, sendsBinary: true, sendsToken: true, sendsPolicy: true))
        var installed = upToDate
        installed.result = "installed"
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(m.event(.installed(installed, baselineReportAt: nil, now: t0)) == .pollFleet(agentID: "agt-1", after: .zero))
        #expect(m.event(.fleetPolled(nil, now: t0.addingTimeInterval(1))) == .pollFleet(agentID: "agt-1", after: .seconds(1)))
        #expect(m.event(.fleetFailed("unreachable", now: t0.addingTimeInterval(2))) == .pollFleet(agentID: "agt-1", after: .seconds(1)))
        guard case .finish(let result) = m.event(.fleetPolled(agent(.online), now: t0.addingTimeInterval(3))) else { Issue.record("not finished"); return }
        #expect(result.outcome == .installed && result.reporting == true && result.action == "install" && result.agentID == "agt-1")
        #expect(result.detail == "install, enroll, start; no systemd: plain supervisor")
    }

    @Test func aWaitEndsAtItsDeadlineAndReadsTheLog() {
        var m = machine()
        _ = m.start()
        var old = upToDate
        old.sha256 = "old"
        old.version = "0.1.0"
        #expect(m.event(.probed(old, fleetAgent: agent(.online))) == .makeDirectory)
        #expect(m.event(.directoryMade("/tmp/d")) == .upload(.binary, directory: "/tmp/d"))
        for _ in 0..<5 { _ = m.event(.uploaded) }
        #expect(m.event(.uploaded) == .install(directory: "/tmp/d", sendsBinary: true, sendsToken: false, sendsPolicy: true), "no token for an enrolled host")
        var upgraded = upToDate
        upgraded.result = "upgraded"
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let baseline = t0
        _ = m.event(.installed(upgraded, baselineReportAt: baseline, now: t0))
        // The report from before the restart does not count.
        #expect(m.event(.fleetPolled(agent(.online), now: t0.addingTimeInterval(30))) == .pollFleet(agentID: "agt-1", after: .seconds(1)))
        #expect(m.event(.fleetPolled(agent(.online), now: t0.addingTimeInterval(61))) == .readAgentLog)
        guard case .finish(let result) = m.event(.agentLog("x\nerror: scan.scope 198.19.0.0/16 is outside the segment's scope\n\n")) else { return }
        #expect(result.outcome == .failed && result.failedStep == "report" && result.reporting == false)
        #expect(result.error?.hasSuffix("agent log: error: scan.scope 198.19.0.0/16 is outside the segment's scope") == true, "\(result.error ?? "")")
    }

    @Test func failuresFinishTheHost() {
        var m = machine()
        _ = m.start()
        guard case .finish(let r1) = m.event(.probeFailed("cannot reach x", connect: true)) else { return }
        #expect(r1.failedStep == "connect" && r1.action == nil)

        m = machine()
        _ = m.start()
        _ = m.event(.probed(RemoteAgentState(), fleetAgent: nil))
        guard case .finish(let r2) = m.event(.tokenFailed("coordinator: refused")) else { return }
        #expect(r2.failedStep == "token")

        m = machine()
        _ = m.start()
        _ = m.event(.probed(RemoteAgentState(), fleetAgent: nil))
        _ = m.event(.tokenCreated("t"))
        _ = m.event(.directoryMade("/tmp/d"))
        guard case .removeDirectory("/tmp/d", let r3) = m.event(.uploadFailed("disk full")) else { Issue.record("no cleanup"); return }
        #expect(r3.failedStep == "upload" && r3.error == "disk full")

        // An event the machine does not expect is a failure of that host, not a crash.
        m = machine()
        _ = m.start()
        guard case .finish(let r4) = m.event(.uploaded) else { return }
        #expect(r4.failedStep == "internal")
    }

    @Test func planModeStopsAfterTheProbe() {
        var m = machine(.plan)
        _ = m.start()
        guard case .finish(let result) = m.event(.probed(upToDate, fleetAgent: agent(.online))) else { return }
        #expect(result.outcome == .planned && result.action == "unchanged" && result.running && result.reporting == nil)
        var p = machine(.plan)
        _ = p.start()
        var elsewhere = upToDate
        elsewhere.segment = "s9"
        guard case .finish(let refused) = p.event(.probed(elsewhere, fleetAgent: nil)) else { return }
        #expect(refused.action == "refuse" && refused.error?.contains("s9") == true)
    }

    @Test func unchangedHostsAreCheckedForReports() {
        var m = machine()
        _ = m.start()
        guard case .finish(let quiet) = m.event(.probed(upToDate, fleetAgent: agent(.offline))) else { return }
        #expect(quiet.outcome == .unchanged && quiet.reporting == false && !quiet.succeeded)
        #expect(quiet.detail?.contains("no recent report") == true)
    }
}
