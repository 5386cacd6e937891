import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct ScheduledTaskCollectorTests {
    private func collect(_ root: String, isRoot: Bool = true, limits: InventoryLimits = .standard) throws -> ScheduledTaskInventory {
        try #require(ScheduledTaskCollector.collect(InventoryFixtures.context(root: root, isRoot: isRoot, limits: limits)).value)
    }

    private var fixture: String { InventoryFixtures.path("scheduled") }

    @Test func cronTablesWithAndWithoutUserField() throws {
        let inventory = try collect(fixture)
        let cron = inventory.entries.filter { $0.kind == .cron }
        let system = cron.filter { $0.source == "/etc/crontab" }
        #expect(system.count == 7)
        #expect(system.allSatisfy { $0.user == "root" && $0.enabled })
        #expect(system.first?.schedule == "17 * * * *")
        #expect(system.first?.command == "cd / && run-parts --report /etc/cron.hourly")
        let reboot = try #require(system.first { $0.schedule == "@reboot" })
        #expect(reboot.command == "/usr/local/sbin/cordon-check")
        #expect(reboot.line == 24)

        let backup = cron.filter { $0.source == "/etc/cron.d/backup" }
        #expect(backup.map(\.user) == ["root", "root", "backup"])
        #expect(backup.last?.schedule == "@weekly")

        // Written by the real crontab(1): no user field, the user is the file name.
        let rootSpool = cron.filter { $0.source == "/var/spool/cron/crontabs/root" }
        #expect(rootSpool.map(\.schedule) == ["*/5 * * * *", "@reboot", "@daily", "0 3 * * 1"])
        #expect(rootSpool.allSatisfy { $0.user == "root" })
        #expect(rootSpool.first?.command == "/dev/shm/.kworker >/dev/null 2>&1")
        let alice = cron.filter { $0.source == "/var/spool/cron/crontabs/alice" }
        #expect(alice.count == 2 && alice.allSatisfy { $0.user == "alice" && $0.command == "/home/alice/bin/report.sh --mail" })

        // "this line is not a cron entry" and "* * * *" in /etc/crontab; "@every5min" in cron.d.
        #expect(inventory.skippedLines == 3)
    }

    @Test func cronIgnoresBadlyNamedCronDFiles() throws {
        let inventory = try collect(fixture)
        let planted = try #require(inventory.entries.first { $0.source == "/etc/cron.d/worm.dpkg-old" })
        #expect(!planted.enabled)
        #expect(planted.suspiciousPaths == ["/dev/shm/.x/miner"])
    }

    @Test func atJobsWrittenByTheRealAt() throws {
        let inventory = try collect(fixture)
        let jobs = inventory.entries.filter { $0.kind == .at }
        #expect(jobs.map(\.source) == [
            "/var/spool/cron/atjobs/a0000101e18ab0", "/var/spool/cron/atjobs/a0000401e23c5a",
            "/var/spool/cron/atjobs/b0000201e52a3a", "/var/spool/cron/atjobs/z000030211ac3f",
        ])
        #expect(jobs.map(\.atQueue) == ["a", "a", "b", "z"])
        #expect(jobs.map(\.atJobNumber) == [1, 4, 2, 3])
        // Run times as at(1) reported them: Tue Jan 1 12:00 2030, Sat Feb 2 02:02 2030, ... (UTC).
        #expect(jobs.map(\.schedule) == ["2030-01-01T12:00:00Z", "2030-02-02T02:02:00Z", "2030-06-15T09:30:00Z", "2035-12-31T23:59:00Z"])
        #expect(jobs.map(\.user) == ["root", "alice", "root", "root"])
        #expect(jobs[0].command == "/tmp/.x/worm --spread 198.18.0.0/15")
        #expect(jobs[2].command == "cd /var/tmp\n./payload.sh\nrm -f /var/tmp/payload.sh")
        #expect(jobs[3].command == #"printf "%s\n" "hello world" > /dev/null"#)
        #expect(jobs[0].suspiciousPaths == ["/tmp/.x/worm"])
        #expect(jobs[2].suspiciousPaths == ["/var/tmp/payload.sh"], "what it runs: ./payload.sh after cd /var/tmp")
        #expect(jobs.allSatisfy { $0.enabled })
        #expect(jobs.allSatisfy { $0.id.hasPrefix("at:") })
    }

    @Test func atSpoolNameDecoding() throws {
        let name = try #require(AtJobParser.parseName("b0000201e52a3a"))
        #expect(name.queue == "b")
        #expect(name.jobNumber == 2)
        #expect(name.runTime == Date(timeIntervalSince1970: 0x1e52a3a * 60))
        #expect(AtJobParser.parseName(".SEQ") == nil)
        #expect(AtJobParser.parseName("a0000101e18ab") == nil)
        #expect(AtJobParser.parseName("a00001zze18ab0") == nil)
    }

    @Test func systemdTimersWithServiceAndEnablement() throws {
        let inventory = try collect(fixture)
        let timers = inventory.entries.filter { $0.kind == .systemdTimer }
        #expect(timers.map(\.source) == [
            "/etc/systemd/system/sysupdate.timer", "/lib/systemd/system/logrotate.timer", "/usr/lib/systemd/system/fstrim.timer",
        ])
        let planted = timers[0]
        #expect(planted.schedule == "OnBootSec=5min; OnUnitActiveSec=15min")
        #expect(planted.command == "/tmp/.cache/sysupdate --quiet")
        #expect(planted.user == "nobody")
        #expect(planted.enabled)
        #expect(planted.suspiciousPaths == ["/tmp/.cache/sysupdate"])
        #expect(timers[1].command == "/usr/sbin/logrotate /etc/logrotate.conf")
        #expect(timers[1].enabled)
        #expect(timers[2].schedule == "OnCalendar=weekly")
        #expect(!timers[2].enabled)
        // apt-daily.timer is masked in /etc: the /lib copy does not run.
        #expect(inventory.notes.contains("/etc/systemd/system/apt-daily.timer is masked"))
    }

    @Test func stableIDsAcrossRuns() throws {
        let first = try collect(fixture)
        let second = try collect(fixture)
        #expect(first.entries.map(\.id) == second.entries.map(\.id))
        #expect(Set(first.entries.map(\.id)).count == first.entries.count, "IDs must be unique")
        #expect(first.entries.allSatisfy { $0.id.wholeMatch(of: /(cron|at|systemd-timer):[0-9a-f]{16}/) != nil })
        // Identical lines in one file: different IDs.
        let backup = first.entries.filter { $0.source == "/etc/cron.d/backup" }
        #expect(backup[0].command == backup[1].command && backup[0].id != backup[1].id)
    }

    @Test func changingOneLineChangesOnlyThatID() throws {
        let before = try collect(fixture)
        let scratch = try ScratchTree(copying: "scheduled")
        defer { scratch.remove() }
        let path = scratch.path + "/etc/cron.d/backup"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try scratch.write("etc/cron.d/backup", text.replacingOccurrences(of: "@weekly      backup /opt/backup/rotate.sh", with: "@weekly      backup /opt/backup/rotate.sh --keep 4"))
        let after = try collect(scratch.path)
        let removed = Set(before.entries.map(\.id)).subtracting(after.entries.map(\.id))
        let added = Set(after.entries.map(\.id)).subtracting(before.entries.map(\.id))
        #expect(removed.count == 1 && added.count == 1)
        #expect(before.entries.first { removed.contains($0.id) }?.command == "/opt/backup/rotate.sh")
        #expect(after.entries.first { added.contains($0.id) }?.command == "/opt/backup/rotate.sh --keep 4")
        // Whitespace alone does not change an ID.
        try scratch.write("etc/cron.d/backup", text.replacingOccurrences(of: "30 1 * * *   root", with: "30 1 * * *\troot"))
        let respaced = try collect(scratch.path)
        #expect(Set(respaced.entries.map(\.id)) == Set(before.entries.map(\.id)))
    }

    @Test func megabyteLineIsSkippedAndTheRestParsed() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let huge = "* * * * * /bin/echo " + String(repeating: "A", count: 1 << 20)
        try scratch.write("var/spool/cron/crontabs/big", "# header\n" + huge + "\n0 1 * * * /bin/echo ok\n\u{0}\u{1}garbage\n")
        let inventory = try collect(scratch.path)
        #expect(inventory.entries.map(\.command) == ["/bin/echo ok"])
        #expect(inventory.entries.first?.line == 3)
        #expect(inventory.skippedLines == 2)
    }

    @Test func fileSizeAndEntryLimitsHold() throws {
        var limits = InventoryLimits()
        limits.maxEntries = 5
        let inventory = try collect(fixture, limits: limits)
        #expect(inventory.entries.count == 5)
        #expect(inventory.truncated)
    }

    @Test func worldWritablePathsAreFlagged() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        try scratch.write("opt/tools/run.sh", "#!/bin/sh\n", mode: 0o777)
        try scratch.write("srv/drop/job.sh", "#!/bin/sh\n", mode: 0o755)
        scratch.chmod("srv/drop", 0o777)
        try scratch.write("usr/local/bin/safe.sh", "#!/bin/sh\n", mode: 0o755)
        try scratch.write("etc/cron.d/mixed", """
            0 * * * * root /opt/tools/run.sh && /srv/drop/job.sh; /usr/local/bin/safe.sh >/dev/null 2>&1
            0 * * * * root cd /dev/shm && ./x; cat /var/tmp/y > /tmp/z
            """)
        let inventory = try collect(scratch.path)
        #expect(inventory.entries.map(\.suspiciousPaths) == [
            ["/opt/tools/run.sh", "/srv/drop/job.sh"],
            ["/dev/shm/x"],
        ])
    }

    @Test func onlyWhatAJobRunsCountsNotWhatItMentions() {
        func exe(_ command: String) -> [String] { SuspiciousPathScanner.executables(in: command) }
        // Legitimate baseline jobs that mention scratch paths run system programs.
        #expect(exe("/usr/bin/find /var/tmp -mtime +30 -delete") == ["/usr/bin/find"])
        #expect(exe("/usr/local/bin/db-backup >/tmp/db-backup.log 2>&1") == ["/usr/local/bin/db-backup"])
        #expect(exe("test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )") == [])
        // Interpreters run their script; sh -c runs its command; wrappers and variables are skipped.
        #expect(exe("/bin/sh /tmp/.x/run.sh --quiet") == ["/bin/sh", "/tmp/.x/run.sh"])
        #expect(exe("python3 -u /dev/shm/z.py") == ["/dev/shm/z.py"])
        #expect(exe("bash -c '/var/tmp/y --loop'") == ["/var/tmp/y"])
        #expect(exe("nice -n 10 /tmp/w") == ["/tmp/w"])
        #expect(exe("env A=1 B=2 /tmp/e") == ["/tmp/e"])
        #expect(exe("PATH=/tmp:$PATH /tmp/.p/miner") == ["/tmp/.p/miner"])
        #expect(exe("timeout 60 /tmp/t") == ["/tmp/t"])
        // systemd ExecStart prefixes.
        #expect(exe("-/tmp/.cache/sysupdate --quiet") == ["/tmp/.cache/sysupdate"])
        // Separators, and a cd that places a relative program.
        #expect(exe("/usr/bin/true; /tmp/a && /var/tmp/b | /dev/shm/c") == ["/usr/bin/true", "/tmp/a", "/var/tmp/b", "/dev/shm/c"])
        #expect(exe("cd /tmp/.w && ./spread") == ["/tmp/.w/spread"])
        // Quotes keep a separator inside an argument.
        #expect(exe("/usr/bin/logger 'a; /tmp/not-run'") == ["/usr/bin/logger"])
    }

    @Test func unprivilegedReadsWhatItMayAndListsTheRest() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "scheduled")
        defer { scratch.remove() }
        scratch.chmod("var/spool/cron/crontabs", 0o700)
        scratch.chmod("var/spool/cron/atjobs", 0o700)
        let inventory = try Unprivileged.run { try collect(scratch.path, isRoot: false) }
        #expect(inventory.unreadable == [
            "/var/spool/cron/crontabs: permission denied", "/var/spool/cron/atjobs: permission denied",
        ])
        #expect(inventory.entries.contains { $0.source == "/etc/crontab" })
        #expect(!inventory.entries.contains { $0.kind == .at })
        #expect(inventory.notes.contains { $0.hasPrefix("not root: 2 sources unreadable") })
    }

    @Test func emptyTreeIsUnavailable() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        #expect(ScheduledTaskCollector.collect(InventoryFixtures.context(root: scratch.path)).unavailableReason != nil)
    }
}
