@testable import CordonCoordinator
import CordonShared
import Foundation

/// Builders for inventories and scans in tests.
enum Make {
    static func account(_ name: String, uid: UInt32 = 1000, shell: String = "/bin/bash", admin: Bool = false, empty: Bool = false,
                        locked: Bool = false, ageDays: Int? = 10, lastChanged: Date? = Date(timeIntervalSince1970: 1_700_000_000)) -> AccountEntry {
        AccountEntry(name: name, uid: uid, gid: uid, home: "/home/\(name)", shell: shell, loginCapable: !shell.hasSuffix("nologin"),
                     password: PasswordInfo(locked: locked, empty: empty, algorithm: empty ? nil : "yescrypt", lastChanged: lastChanged,
                                            mustChangeAtNextLogin: false, ageDays: ageDays, maxDays: nil, passwordExpiresOn: nil,
                                            accountExpiresOn: nil, accountExpired: false),
                     isAdmin: admin, adminVia: admin ? ["group:sudo"] : [], duplicateUIDZero: uid == 0 && name != "root")
    }

    static func task(_ id: String, command: String = "/usr/bin/true", suspicious: [String] = []) -> ScheduledTaskEntry {
        ScheduledTaskEntry(id: id, kind: .cron, source: "/etc/cron.d/x", line: 1, user: "root", schedule: "* * * * *", command: command,
                           enabled: true, suspiciousPaths: suspicious)
    }

    static func port(_ transport: String, _ port: Int, inbound: PortFilterVerdict.State, outbound: PortFilterVerdict.State) -> WormPortFilter {
        WormPortFilter(transport: transport, port: port, inbound: .init(state: inbound, evidence: []), forwarded: .init(state: .notBlocked, evidence: []),
                       outbound: .init(state: outbound, evidence: []))
    }

    static func allWormPorts(_ state: PortFilterVerdict.State) -> [WormPortFilter] {
        [("tcp", 135), ("tcp", 139), ("tcp", 445), ("tcp", 593), ("udp", 135), ("udp", 137), ("udp", 138), ("udp", 445)].map {
            port($0.0, $0.1, inbound: state, outbound: state)
        }
    }

    static func inventory(at: Date, accounts: [AccountEntry]? = [account("root", uid: 0, admin: true)], shadowReadable: Bool = true,
                          tasks: [ScheduledTaskEntry]? = [], logons: [FailedLogonAggregate]? = [], firewall: [WormPortFilter]? = allWormPorts(.blocked),
                          sockets: [ListeningSocket]? = []) -> InventoryReport {
        InventoryReport(
            collectedAt: at,
            packages: .ok(PackageInventory(packages: [], sources: [], truncated: false, skippedLines: 0, notes: [])),
            listeningSockets: sockets.map { .ok(SocketInventory(sockets: $0, ownersComplete: true, sources: [], truncated: false, skippedLines: 0, notes: [])) }
                ?? .unavailable(reason: "test"),
            accounts: accounts.map { .ok(AccountInventory(accounts: $0, shadowReadable: shadowReadable, sudoersReadable: true,
                                                          duplicateUIDZeroAccounts: $0.filter { $0.uid == 0 && $0.name != "root" }.map(\.name),
                                                          truncated: false, skippedLines: 0, notes: [])) } ?? .unavailable(reason: "test"),
            sshKeys: .ok(SSHKeyInventory(files: [], unreadable: [], truncated: false, skippedLines: 0, notes: [])),
            scheduledTasks: tasks.map { .ok(ScheduledTaskInventory(entries: $0, sources: [], unreadable: [], truncated: false, skippedLines: 0, notes: [])) }
                ?? .unavailable(reason: "test"),
            failedLogons: logons.map { .ok(FailedLogonInventory(windowStart: at.addingTimeInterval(-86400), windowEnd: at, aggregates: $0, sources: [],
                                                               unavailableSources: [], truncated: false, skippedLines: 0, notes: [])) } ?? .unavailable(reason: "test"),
            firewall: firewall.map { .ok(FirewallInventory(tables: [], cordonTablePresent: false, wormPorts: $0, skippedObjects: 0, notes: [])) }
                ?? .unavailable(reason: "test"))
    }

    static func logon(_ source: String, _ account: String, _ count: Int, at: Date) -> FailedLogonAggregate {
        FailedLogonAggregate(source: source, account: account, count: count, first: at.addingTimeInterval(-60), last: at,
                             countsByEvidence: ["sshd-failed-password": count], evidence: [.sshdFailedPassword])
    }

    static func host(_ address: String, findings: [FindingObservation], services: [ServiceObservation] = [], complete: Bool = true) -> ScannedHost {
        ScannedHost(address: address, reason: "syn-ack tcp/445", netbiosName: "HOST-\(address.split(separator: ".").last ?? "")",
                    services: services, findings: findings, complete: complete)
    }

    static func scan(at: Date, hosts: [ScannedHost], complete: Bool = true) -> ScanReport {
        ScanReport(profile: "worms", scope: ["198.18.1.0/24"], exclude: [], startedAt: at.addingTimeInterval(-30), finishedAt: at, complete: complete,
                   addressesScanned: 254, hostsDown: 254 - hosts.count, hosts: hosts)
    }

    static let facts = AgentFacts(hostname: "jump", osRelease: "Debian 12", kernel: "6.1", agentVersion: "0.1.0", uptimeSeconds: 5, addresses: [])
}

extension CoordinatorDatabase {
    /// Enrolls an agent directly in storage.
    func testAgent(segment: String = "dmz", at: Date) throws -> String {
        let token = try createToken(segment: segment, ttl: 600, uses: 1, actor: "test", now: at)
        guard case .enrolled(let id, _, _) = try enroll(token: token.token, hostname: "jump-\(segment)", agentVersion: "v", now: at, issue: { _, _ in
            IssuedCertificate(serial: UUID().uuidString, notAfter: at.addingTimeInterval(86400), pem: "") })
        else { throw CoordinatorError.token("not enrolled") }
        return id
    }

    @discardableResult
    func testReport(agent: String, at: Date, scan: ScanReport? = nil, inventory: InventoryReport? = nil, policy: InventoryPolicy = .init()) throws -> ReportAck {
        let report = AgentReport(createdAt: at, facts: Make.facts, scan: scan, inventory: inventory)
        return try ingest(report: report, body: try CordonJSON.encode(report), agentID: agent, policy: policy, now: at)
    }
}
