import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct InventoryReportTests {
    @Test func sectionEncodesStatusDataOrReason() throws {
        let ok = InventorySection<[Int]>.ok([1, 2])
        let down = InventorySection<[Int]>.unavailable(reason: "/etc/shadow: permission denied")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(ok), as: UTF8.self) == #"{"data":[1,2],"status":"ok"}"#)
        #expect(String(decoding: try encoder.encode(down), as: UTF8.self) == #"{"reason":"\/etc\/shadow: permission denied","status":"unavailable"}"#)
        #expect(try JSONDecoder().decode(InventorySection<[Int]>.self, from: encoder.encode(down)) == down)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(InventorySection<[Int]>.self, from: Data(#"{"status":"maybe"}"#.utf8))
        }
    }

    /// Every fixture tree laid into one root: the report has every section, and round-trips.
    @Test func collectAllOverACombinedTreeRoundTrips() throws {
        let scratch = try ScratchTree(copying: "accounts")
        defer { scratch.remove() }
        let manager = FileManager.default
        for fixture in ["packages", "sockets", "scheduled", "logons"] {
            let source = InventoryFixtures.path(fixture)
            for item in try manager.subpathsOfDirectory(atPath: source) {
                let from = source + "/" + item
                let to = scratch.path + "/" + item
                var isDirectory: ObjCBool = false
                if (try? manager.destinationOfSymbolicLink(atPath: from)) == nil,
                   manager.fileExists(atPath: from, isDirectory: &isDirectory), isDirectory.boolValue {
                    try manager.createDirectory(atPath: to, withIntermediateDirectories: true)
                } else if !manager.fileExists(atPath: to) && (try? manager.destinationOfSymbolicLink(atPath: to)) == nil {
                    try manager.copyItem(atPath: from, toPath: to)
                }
            }
        }
        let context = InventoryFixtures.context(
            root: scratch.path, ruleset: .file(InventoryFixtures.path("firewall/cordon.json"))
        )
        let report = InventoryCollector.collectAll(context)
        #expect(report.collectedAt == InventoryFixtures.now)
        #expect(report.packages.value?.packages.isEmpty == false)
        #expect(report.listeningSockets.value?.sockets.count == 8)
        #expect(report.accounts.value?.accounts.count == 11)
        #expect(report.sshKeys.value?.files.count == 3)
        #expect(report.scheduledTasks.value?.entries.isEmpty == false)
        #expect(report.failedLogons.value?.aggregates.first?.count == 6)
        #expect(report.firewall.value?.cordonTablePresent == true)

        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(InventoryReport.self, from: data) == report)
        #expect(InventoryCollector.collectAll(context) == report, "a fixture tree must give the same report twice")
    }

    @Test func oneFailingSectionDoesNotStopTheOthers() throws {
        let scratch = try ScratchTree(copying: "scheduled")
        defer { scratch.remove() }
        let report = InventoryCollector.collectAll(InventoryFixtures.context(
            root: scratch.path, ruleset: .file(InventoryFixtures.path("firewall/garbage.json"))
        ))
        #expect(report.packages.unavailableReason != nil)
        #expect(report.listeningSockets.unavailableReason != nil)
        #expect(report.firewall.unavailableReason?.hasPrefix("invalid nft JSON") == true)
        #expect(report.failedLogons.unavailableReason == "journal: not configured")
        #expect(report.accounts.value?.accounts.map(\.name) == ["root", "alice"])
        #expect(report.scheduledTasks.value?.entries.isEmpty == false)
    }

    @Test func rootedResolutionNeverLeavesTheRoot() throws {
        let outside = try ScratchTree()
        let tree = try ScratchTree()
        defer {
            outside.remove()
            tree.remove()
        }
        try outside.write("secret", "root:x:0:0::/root:/bin/sh\n")
        try FileManager.default.createDirectory(atPath: tree.path + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tree.path + "/etc/passwd", withDestinationPath: outside.path + "/secret")
        let fileSystem = RootedFileSystem(root: tree.path)
        #expect(fileSystem.resolve("/etc/passwd") == .failure(.missing))
        #expect(fileSystem.resolve("/../../..\(outside.path)/secret") == .failure(.missing))
        try FileManager.default.createSymbolicLink(atPath: tree.path + "/loop", withDestinationPath: "/loop")
        #expect(fileSystem.read("/loop", maxBytes: 10).map(\.data) == .failure(.tooManySymlinks))
        #expect(fileSystem.read("/dev/zero", maxBytes: 10).map(\.data) == .failure(.missing))
    }
}
