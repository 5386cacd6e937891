import CordonShared
import Foundation
import Testing
@testable import CordonAgent

/// The scheduled-task inventory against the real `crontab` and `at`, inside namespaces on
/// throwaway copies of /etc and the cron/at spools (see `NamespaceHost`): jobs come back with
/// the same IDs run after run, and a removed job's ID goes while the others stay.
@Suite(.serialized) struct InventoryLiveTests {
    func tasks(_ host: NamespaceHost, _ name: String) throws -> [ScheduledTaskEntry] {
        let section = try CordonJSON.decode(InventorySection<ScheduledTaskInventory>.self, from: Data(host.output(name).utf8))
        return try #require(section.value, "tasks section unavailable: \(section.unavailableReason ?? "")").entries
    }

    @Test func realCronAndAtJobsKeepTheirIDsAcrossRuns() async throws {
        if let reason = NamespaceHost.unavailableReason() {
            print("InventoryLiveTests skipped: \(reason)")
            return
        }
        let host = try NamespaceHost()
        defer { host.finish() }
        let inventory = "\(host.agent) inventory --section tasks --json"
        let created = try await host.run("""
            printf '*/5 * * * * /tmp/.x/svchost\\n17 3 * * * /usr/local/bin/rotate-logs\\n' > \(host.root)/root.cron
            crontab -u root \(host.root)/root.cron
            printf '*/10 * * * * root /var/tmp/update.sh\\n' > /etc/cron.d/cordon-live-test
            echo '/usr/bin/true # cordon live test' | at now + 2 hours 2>/dev/null
            echo '/tmp/dropper' | at -q b now + 3 hours 2>/dev/null
            \(inventory) > \(host.out)/run1.json
            \(inventory) > \(host.out)/run2.json
            """)
        #expect(created.status == 0, "\(created.log.suffix(2000))")
        let first = try tasks(host, "run1.json"), second = try tasks(host, "run2.json")
        let mine = first.filter { $0.command.contains("svchost") || $0.command.contains("rotate-logs") || $0.command.contains("update.sh")
            || $0.command.contains("cordon live test") || $0.command.contains("dropper") }
        #expect(mine.count == 5, "\(first.map { "\($0.id) \($0.command)" })")
        #expect(Set(mine.map(\.kind)) == [.cron, .at])
        #expect(first.map(\.id) == second.map(\.id), "the same jobs, the same IDs")
        #expect(mine.contains { $0.command.contains("svchost") && $0.suspiciousPaths.contains { $0.hasPrefix("/tmp") } })
        #expect(mine.contains { $0.kind == .at && $0.atQueue == "b" && $0.command.contains("dropper") })

        // A separate run (new namespaces, same copies): still the same IDs; remove one job with
        // the real tool and only its ID goes.
        let dropper = try #require(mine.first { $0.command.contains("dropper") })
        let later = try await host.run("""
            \(inventory) > \(host.out)/run3.json
            atrm \(dropper.atJobNumber ?? -1)
            \(inventory) > \(host.out)/run4.json
            """)
        #expect(later.status == 0, "\(later.log.suffix(2000))")
        #expect(try tasks(host, "run3.json").map(\.id) == first.map(\.id))
        let afterRemoval = try tasks(host, "run4.json").map(\.id)
        #expect(afterRemoval == first.map(\.id).filter { $0 != dropper.id })
    }
}
