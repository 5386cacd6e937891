import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct PackageCollectorTests {
    @Test func readsDpkgStatusAndCountsMalformedStanzas() throws {
        let context = InventoryFixtures.context(root: InventoryFixtures.path("packages"))
        let inventory = try #require(PackageCollector.collect(context).value)
        #expect(inventory.sources == ["/var/lib/dpkg/status"])
        let openssh = try #require(inventory.packages.first { $0.name == "openssh-server" })
        #expect(openssh.status == "install ok installed")
        #expect(openssh.architecture == "amd64")
        #expect(!openssh.version.isEmpty)
        #expect(openssh.manager == .dpkg)
        let removed = try #require(inventory.packages.first { $0.name == "samba-removed" })
        #expect(removed.status == "deinstall ok config-files")
        #expect(removed.version == "2:4.17.12+dfsg-0+deb12u1")
        // A line without colon, and a stanza without Package.
        #expect(inventory.skippedLines == 2)
        #expect(inventory.packages.count == 9)
    }

    @Test func boundsFieldLengthAndPackageCount() throws {
        var limits = InventoryLimits()
        limits.maxFieldLength = 64
        limits.maxEntries = 3
        let context = InventoryFixtures.context(root: InventoryFixtures.path("packages"), limits: limits)
        let inventory = try #require(PackageCollector.collect(context).value)
        #expect(inventory.packages.count == 3)
        #expect(inventory.truncated)

        limits.maxEntries = 100
        let all = try #require(PackageCollector.collect(InventoryFixtures.context(root: InventoryFixtures.path("packages"), limits: limits)).value)
        #expect(all.packages.allSatisfy { $0.name.count <= 64 })
        #expect(all.packages.contains { $0.name == String(repeating: "x", count: 64) })
    }

    @Test func runsRpmOnlyWhenInstalledAndMergesItsOutput() throws {
        let rpmOutput = "bash\t5.1.8-6.el9\tx86_64\nbroken line\nkernel\t5.14.0-1\tx86_64\n"
        let runner = StubInventoryCommandRunner(tools: ["rpm": InventoryCommandResult(termination: .exited(0), standardOutput: Data(rpmOutput.utf8))])
        let root = InventoryFixtures.path("packages")
        let inventory = try #require(PackageCollector.collect(InventoryFixtures.context(root: root, runner: runner)).value)
        #expect(inventory.sources == ["/var/lib/dpkg/status", "rpm -qa"])
        #expect(inventory.packages.filter { $0.manager == .rpm }.map(\.name) == ["bash", "kernel"])
        #expect(inventory.skippedLines == 3)
        // The root is not "/": rpm must be told to look inside it.
        let call = try #require(runner.recordedCalls.first)
        #expect(call[1...2] == ["--root", root])
    }

    @Test func unavailableWithoutAnyDatabase() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let section = PackageCollector.collect(InventoryFixtures.context(root: scratch.path))
        let reason = try #require(section.unavailableReason)
        #expect(reason.contains("/var/lib/dpkg/status missing"))
    }

    @Test func unreadableStatusSaysPermissionDenied() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "packages")
        defer { scratch.remove() }
        scratch.chmod("var/lib/dpkg/status", 0o600)
        let section = Unprivileged.run { PackageCollector.collect(InventoryFixtures.context(root: scratch.path, isRoot: false)) }
        #expect(section.unavailableReason?.contains("permission denied") == true)
    }
}
