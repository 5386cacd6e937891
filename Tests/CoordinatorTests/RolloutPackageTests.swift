@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Rollouts of what scripts/package made: the inventory's `agent.package`, the choice of the
/// .deb (hosts with dpkg) or the tarball (the others), the planner with a package-owned unit,
/// and install-agent.sh installing from a tarball.
@Suite(.serialized) struct RolloutPackageTests {
    static let deploy = RolloutScriptTests.deploy

    /// A dist/ directory as scripts/package lays it out, with a stand-in agent.
    func makeDist(_ root: String, deb: Bool = true, tarball: Bool = true) throws -> String {
        let dist = root + "/dist"
        try FileManager.default.createDirectory(atPath: dist + "/bin", withIntermediateDirectories: true)
        try "#!/bin/sh\necho 0.1.0\n".write(toFile: dist + "/bin/cordon-agent", atomically: true, encoding: .utf8)
        chmod(dist + "/bin/cordon-agent", 0o755)
        if deb { try Data("deb".utf8).write(to: URL(fileURLWithPath: dist + "/cordon-agent_0.1.0_amd64.deb")) }
        if tarball { try Data("tgz".utf8).write(to: URL(fileURLWithPath: dist + "/cordon-agent_0.1.0_linux_amd64.tar.gz")) }
        try Data("other".utf8).write(to: URL(fileURLWithPath: dist + "/cordon_0.1.0_amd64.deb"))
        return dist
    }

    @Test func theInventoryTakesAPackageDirectoryOrABinaryNotBoth() throws {
        let root = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dist = try makeDist(root)
        _ = FileManager.default.createFile(atPath: root + "/k", contents: Data("k".utf8))
        func yaml(_ agent: String) -> String {
            """
            coordinator: {url: "https://198.18.0.1:8443", caFingerprint: "\(RolloutFixture.fingerprint)"}
            agent: {\(agent)}
            ssh: {user: root, key: \(root)/k}
            segments:
              s1:
                scope: [198.18.1.0/24]
                hosts: [{name: j1, address: 198.18.1.5}]
            """
        }
        let packaged = try RolloutInventory.parse(yaml: yaml("package: dist"), origin: "i.yaml", baseDirectory: root)
        #expect(packaged.agent.package == dist)
        #expect(packaged.agent.binary == dist + "/bin/cordon-agent")
        let bare = try RolloutInventory.parse(yaml: yaml("binary: dist/bin/cordon-agent"), origin: "i.yaml", baseDirectory: root)
        #expect(bare.agent.package == nil && bare.agent.binary == dist + "/bin/cordon-agent")
        #expect(throws: CordonError.self) { try RolloutInventory.parse(yaml: yaml("package: dist, binary: x"), origin: "i.yaml", baseDirectory: root) }
        #expect(throws: CordonError.self) { try RolloutInventory.parse(yaml: yaml("policy: p.yaml"), origin: "i.yaml", baseDirectory: root) }
    }

    @Test func theDebGoesWhereDpkgIsTheTarballElsewhere() throws {
        let root = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dist = try makeDist(root)
        let (deb, tarball) = try RolloutEngine.LocalAgent.packages(in: dist, version: "0.1.0")
        #expect(deb == dist + "/cordon-agent_0.1.0_amd64.deb")
        #expect(tarball == dist + "/cordon-agent_0.1.0_linux_amd64.tar.gz")
        #expect(throws: CordonError.self) { try RolloutEngine.LocalAgent.packages(in: dist, version: "0.2.0") }

        var local = RolloutFixture.local()
        local.deb = deb
        local.tarball = tarball
        #expect(local.agentUpload(hostHasDpkg: true) == (deb!, "cordon-agent.deb", true))
        #expect(local.agentUpload(hostHasDpkg: false) == (tarball!, "cordon-agent.tar.gz", true))
        local.tarball = nil
        #expect(local.agentUpload(hostHasDpkg: false) == (deb!, "cordon-agent.deb", true), "only a .deb: install-agent.sh says when dpkg is missing")
        let bare = RolloutFixture.local()
        #expect(bare.agentUpload(hostHasDpkg: true) == ("/opt/cordon-agent", "cordon-agent", false))
    }

    @Test func aPackageOwnsItsUnitAndSupervisor() {
        let host = RolloutInventory.Host(name: "j1", segment: "s1", endpoint: .init(address: "198.18.0.11", port: 22, user: "root", key: "/k"),
                                         proxyJump: nil, index: 0)
        let sha = String(repeating: "a", count: 64)
        let target = RolloutTarget(host: host, agentSHA256: sha, agentVersion: "0.1.0", caFingerprint: RolloutFixture.fingerprint,
                                   configYAML: "scan: {}\n", policySHA256: nil, superviseSHA256: "sup", unitSHA256: "unit")
        var remote = RemoteAgentState(systemd: true, supervisor: "systemd", installed: true, sha256: sha, version: "0.1.0", enrolled: true,
                                      agentID: "agt-1", segment: "s1", caFingerprint: RolloutFixture.fingerprint, running: true, pid: 7,
                                      configSHA256: target.configSHA256, unitSHA256: "the package's unit, /usr/bin/cordon-agent",
                                      package: "deb", dpkg: true)
        #expect(RolloutPlanner.decide(target: target, remote: remote) == .unchanged)
        remote.package = "files"
        #expect(RolloutPlanner.decide(target: target, remote: remote) == .repair(["systemd unit differs"]))
        remote.package = "deb"
        remote.supervisor = nil
        #expect(RolloutPlanner.decide(target: target, remote: remote) == .repair(["no systemd unit installed"]), "the package's unit, not enabled")
    }

    /// install-agent.sh --package with a tarball: unpacked, its binary, supervisor and example
    /// config used, the output says where it came from; the probe's new fields are there.
    @Test func installScriptInstallsFromATarball() async throws {
        guard RolloutScriptTests.canRun else {
            Issue.record("skipped: install-agent.sh installs root-owned files: needs root and setsid", severity: .warning)
            return
        }
        let root = try RolloutFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let box = RolloutScriptTests.Sandbox(root: root)
        let name = "cordon-agent_0.1.0_linux_amd64"
        let dir = root + "/pack/" + name
        try FileManager.default.createDirectory(atPath: dir + "/systemd", withIntermediateDirectories: true)
        try box.makeAgent(dir + "/cordon-agent")
        for file in ["install-agent.sh", "cordon-agent-supervise", "systemd/cordon-agent.service", "agent.yaml.example"] {
            try FileManager.default.copyItem(atPath: Self.deploy + "/" + file, toPath: dir + "/" + file)
        }
        let sha = try RolloutFiles.sha256(file: dir + "/cordon-agent")
        let tarball = root + "/\(name).tar.gz"
        let tar = try await BoundedProcess.run(["tar", "-C", root + "/pack", "-czf", tarball, name], timeout: .seconds(30), workDirectory: root)
        #expect(tar.status == 0)
        try "ct_t\n".write(toFile: root + "/token", atomically: true, encoding: .utf8)

        let (out, state) = try await RolloutScriptTests().install(box, [
            "--package", tarball, "--sha256", sha, "--token-file", root + "/token", "--coordinator", "https://198.18.0.1:8443",
            "--ca-fingerprint", RolloutFixture.fingerprint, "--segment", "s1", "--no-start",
        ])
        #expect(out.status == 0, "\(out.stdout)\n\(out.stderr)")
        #expect(out.stdout.contains("installing from \(name).tar.gz (tarball)"), "\(out.stdout)")
        #expect(state?.result == "installed" && state?.sha256 == sha && state?.enrolled == true)
        #expect(state?.message == "installed from \(name).tar.gz (tarball)")
        #expect(state?.package == "files")
        #expect(state?.dpkg == FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg"))
        #expect(FileManager.default.fileExists(atPath: box.prefix + "/cordon-agent"))
        // The example config came from the tarball (no --config), its stateDir set.
        #expect((try? String(contentsOfFile: box.etc + "/agent.yaml", encoding: .utf8))?.contains("stateDir: \(box.state)") == true)

        // Again: the same binary, nothing to do; the enrollment and state stay.
        let (again, state2) = try await RolloutScriptTests().install(box, ["--package", tarball, "--sha256", sha, "--segment", "s1", "--no-start"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(state2?.result == "unchanged" && state2?.agentID == "agt-fake")

        // A damaged package is refused before anything changes.
        let (bad, badState) = try await RolloutScriptTests().install(box, ["--package", tarball, "--sha256", String(repeating: "0", count: 64), "--no-start"])
        #expect(bad.status == 1 && badState?.message?.contains("the copy is damaged") == true, "\(bad.stdout)")
        let (notOne, notOneState) = try await RolloutScriptTests().install(box, ["--package", root + "/token-less.zip", "--no-start"])
        #expect(notOne.status == 1 && notOneState?.result == "failed")
    }
}
