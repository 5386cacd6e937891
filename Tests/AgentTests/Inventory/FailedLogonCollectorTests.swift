import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct FailedLogonCollectorTests {
    private func date(_ text: String) -> Date {
        SyslogLineParser.rfc3339(Substring(text))!
    }

    private func collect(_ context: CollectionContext) throws -> FailedLogonInventory {
        try #require(FailedLogonCollector.collect(context).value)
    }

    @Test func aggregatesAuthLogAndBtmpPerSourceAndAccount() throws {
        let inventory = try collect(InventoryFixtures.context(root: InventoryFixtures.path("logons")))
        #expect(inventory.sources == ["/var/log/auth.log.1", "/var/log/auth.log", "/var/log/btmp"])
        let rows = inventory.aggregates.map { "\($0.source)|\($0.account)|\($0.count)" }
        #expect(rows == [
            "198.18.0.7|root|6", "2001:db8::7|admin|2", "|alice|1", "|root|1", "198.18.0.8|from|1",
        ])
        let worm = inventory.aggregates[0]
        // 1 + 1 + "repeated 3 times" + 1 sshd lines; PAM 1 + "3 more"; two btmp records:
        // the same attempts seen three ways, so the count is the largest, not the sum.
        #expect(worm.countsByEvidence == ["sshd-failed-password": 6, "pam-authentication-failure": 4, "btmp": 2])
        #expect(worm.evidence == [.btmp, .pamFailure, .sshdFailedPassword])
        #expect(worm.first == date("2025-01-14T13:00:00.123456Z"))
        #expect(worm.last == date("2025-01-15T11:30:00Z"))
        let admin = inventory.aggregates[1]
        #expect(admin.countsByEvidence == ["sshd-failed-password": 2, "sshd-invalid-user": 1, "btmp": 1])
        #expect(admin.first == date("2025-01-14T13:00:00Z"))  // 14:00+01:00
        #expect(admin.last == date("2025-01-15T09:30:00Z"))  // the btmp record
        // Outside the 24 h window: 11:00 on the 14th, Dec 31 (last year), btmp's Jan 10 record.
        #expect(!inventory.aggregates.contains { $0.source == "198.18.0.66" || $0.account == "oracle" })
        // Not counted: "Connection closed by authenticating user ... [preauth]", "Accepted ...".
        #expect(!inventory.aggregates.contains { $0.source == "198.18.0.20" })
        // Month 13, "garbage line", hour 25, a 0xff btmp record, and the truncated btmp tail.
        #expect(inventory.skippedLines == 5)
        #expect(inventory.notes.contains("/var/log/btmp: truncated trailing record of 100 bytes ignored"))
        #expect(inventory.windowStart == InventoryFixtures.now.addingTimeInterval(-86400))
    }

    @Test func yearLessTimestampsInJanuaryBelongToLastDecember() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        try scratch.write("var/log/auth.log", """
            Dec 31 23:50:00 jump sshd[1]: Failed password for root from 198.18.0.5 port 1 ssh2
            Jan  1 05:00:00 jump sshd[2]: Failed password for root from 198.18.0.5 port 2 ssh2
            Jan  2 05:00:00 jump sshd[3]: Failed password for root from 198.18.0.5 port 3 ssh2

            """)
        let now = date("2025-01-01T06:00:00Z")
        let inventory = try collect(InventoryFixtures.context(root: scratch.path, now: now))
        let aggregate = try #require(inventory.aggregates.first)
        #expect(aggregate.count == 2)
        #expect(aggregate.first == date("2024-12-31T23:50:00Z"))
        #expect(aggregate.last == date("2025-01-01T05:00:00Z"))

        let parser = SyslogLineParser(now: now, timeZone: TimeZone(identifier: "Europe/Berlin")!)
        #expect(parser.parse("Dec 31 23:50:00 h sshd[1]: x")?.date == date("2024-12-31T22:50:00Z"))
        #expect(parser.parse("Feb 29 10:00:00 h sshd[1]: x")?.date == date("2024-02-29T09:00:00Z"))
    }

    @Test func journalIsUsedWhenThereIsNoAuthLog() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let journal = InventoryFixtures.path("logons/journal.json")
        let inventory = try collect(InventoryFixtures.context(root: scratch.path, journal: .file(journal)))
        #expect(inventory.sources == ["journal (\(journal))"])
        let rows = inventory.aggregates.map { "\($0.source)|\($0.account)|\($0.count)" }
        #expect(rows == ["198.18.0.7|root|2", "198.18.0.10|\u{FFFD}adm|1"])
        // No timestamp, truncated JSON, not JSON.
        #expect(inventory.skippedLines == 3)
    }

    @Test func productionJournalctlCallIsBoundedAndRooted() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let output = try Data(contentsOf: URL(fileURLWithPath: InventoryFixtures.path("logons/journal.json")))
        let runner = StubInventoryCommandRunner(tools: ["journalctl": InventoryCommandResult(termination: .exited(0), standardOutput: output)])
        var limits = InventoryLimits()
        limits.commandTimeout = .seconds(3)
        let context = InventoryFixtures.context(root: scratch.path, limits: limits, journal: .journalctl, runner: runner)
        let inventory = try collect(context)
        #expect(inventory.sources == ["journal"])
        #expect(inventory.aggregates.first?.count == 2)
        let call = try #require(runner.recordedCalls.first)
        #expect(call.contains("--directory=\(scratch.path)/var/log/journal"))
        #expect(call.contains("--output=json"))
        #expect(call.contains("--since=@\(Int(InventoryFixtures.now.timeIntervalSince1970) - 86400)"))
        #expect(call.contains("_COMM=sshd"))
    }

    @Test func failingJournalctlAndNoOtherSourceIsUnavailable() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let runner = StubInventoryCommandRunner(tools: ["journalctl": InventoryCommandResult(
            termination: .exited(1), standardOutput: Data(), standardError: Data("Failed to open journal: Permission denied\n".utf8)
        )])
        let section = FailedLogonCollector.collect(InventoryFixtures.context(root: scratch.path, journal: .journalctl, runner: runner))
        #expect(section.unavailableReason == "journal: journalctl exit status 1: Failed to open journal: Permission denied")
    }

    @Test func btmpRecordsFromUtmpdump() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: InventoryFixtures.path("logons/var/log/btmp")))
        let parsed = BtmpParser.parse(data)
        #expect(parsed.records.map(\.user) == ["root", "root", "admin", "oracle", "alice"])
        #expect(parsed.records.map(\.address) == ["198.18.0.7", "198.18.0.7", "2001:db8::7", "198.18.0.9", nil])
        #expect(parsed.records.map(\.line) == ["ssh:notty", "ssh:notty", "ssh:notty", "ssh:notty", "tty1"])
        #expect(parsed.records.first?.date == date("2025-01-15T08:00:00Z"))
        #expect(parsed.records.first?.pid == 4101)
        #expect(parsed.skipped == 2)
        #expect(parsed.trailingBytes == 100)
        #expect(BtmpParser.parse(Data(repeating: 0x41, count: 383)).records.isEmpty)
    }

    @Test func onlyTheTailOfBigLogsIsRead() throws {
        var limits = InventoryLimits()
        limits.maxLogBytes = 1000
        let inventory = try collect(InventoryFixtures.context(root: InventoryFixtures.path("logons"), limits: limits))
        #expect(inventory.truncated)
        #expect(inventory.notes.contains("/var/log/auth.log: only the last 1000 bytes read"))
        // btmp's tail starts on a record boundary: the 5th record (alice) and the garbage one.
        let btmpOnly = inventory.aggregates.filter { $0.evidence == [.btmp] }
        #expect(btmpOnly.map(\.account) == ["alice"])
        // auth.log's tail holds the 11:30 attempt but not the 08:00 ones.
        let worm = try #require(inventory.aggregates.first { $0.source == "198.18.0.7" })
        #expect(worm.last == date("2025-01-15T11:30:00Z"))
        #expect(!inventory.aggregates.contains { $0.source == "2001:db8::7" && $0.countsByEvidence["sshd-invalid-user"] != nil })
    }

    @Test func unprivilegedSaysWhichLogsItCouldNotRead() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "logons")
        defer { scratch.remove() }
        scratch.chmod("var/log/auth.log", 0o600)
        scratch.chmod("var/log/auth.log.1", 0o600)
        scratch.chmod("var/log/btmp", 0o600)
        let section = Unprivileged.run {
            FailedLogonCollector.collect(InventoryFixtures.context(root: scratch.path, isRoot: false))
        }
        #expect(section.unavailableReason == "/var/log/auth.log.1: permission denied; /var/log/auth.log: permission denied; /var/log/btmp: permission denied")
    }

    @Test func classifierDecisions() {
        let now = InventoryFixtures.now
        #expect(AuthMessageClassifier.classify(program: "sshd", message: "Connection closed by authenticating user root 198.18.0.7 port 1 [preauth]", date: now) == nil)
        #expect(AuthMessageClassifier.classify(program: "sshd", message: "Invalid user  from 198.18.0.3 port 9", date: now)
            == FailedLogonEvent(date: now, source: "198.18.0.3", account: "", evidence: .sshdInvalidUser))
        #expect(AuthMessageClassifier.classify(program: "sshd", message: "Failed keyboard-interactive/pam for invalid user a b from ::1 port 2 ssh2", date: now)
            == FailedLogonEvent(date: now, source: "::1", account: "a b", evidence: .sshdFailedPassword))
        #expect(AuthMessageClassifier.classify(program: "sshd", message: "Failed password for root from", date: now) == nil)
    }
}
