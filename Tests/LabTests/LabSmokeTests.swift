import CordonCodecs
import CordonWormHosts
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The lab itself: it comes up as lab.json says, its hosts answer from the jump host as they
/// should, and it leaves nothing behind.
@Suite(.serialized) struct LabSmokeTests {
    @Test func labAnswersAsDescribedAndLeavesNothingBehind() async throws {
        let seen = Mutex(Seen())
        let ran: Void? = try await withLab(LabOptions(segments: 1, tools: ["nmap"])) { lab in
            let namespaces = lab.currentNamespaces()
            let pids = await lab.processesInNamespaces()
            seen.withLock { $0 = Seen(prefix: lab.prefix, namespaces: namespaces, pids: pids) }
            #expect(namespaces.count == 16) // mgmt, coord, segment bridge, jump, 12 hosts (the dead address has none)
            #expect(lab.layout.processes.allSatisfy { kill($0.pid, 0) == 0 })
            // Servers do not block SIGTERM, so `down` and their TTL stop them gracefully.
            for process in lab.layout.processes {
                #expect(!blocksSIGTERM(process.pid), "\(process.name) in \(process.namespace) blocks SIGTERM")
            }

            let segment = lab.segment(1)
            let jump = segment.jump.namespace
            // Every TCP service answers from the jump host; the filtered host's ports time out;
            // the closed host refuses; nothing answers at the dead address.
            try await withThrowingTaskGroup(of: (String, UInt16, LabSocket.ConnectOutcome, Bool).self) { group in
                for host in segment.hosts {
                    for port in host.tcpOpen {
                        group.addTask { (host.role, port, try await lab.connect(from: jump, to: host.address, port: port), true) }
                    }
                    for port in host.tcpFiltered {
                        group.addTask { (host.role, port, try await lab.connect(from: jump, to: host.address, port: port), false) }
                    }
                }
                for try await (role, port, outcome, shouldBeOpen) in group {
                    if shouldBeOpen {
                        #expect(outcome == .open, "\(role) tcp/\(port)")
                    } else {
                        #expect(outcome == .timedOut, "\(role) tcp/\(port) should be filtered")
                    }
                }
            }
            let closed = try lab.host("closed")
            #expect(try await lab.connect(from: jump, to: closed.address, port: 445) == .refused)
            let dead = try lab.host("dead")
            let deadOutcome = try await lab.connect(from: jump, to: dead.address, port: 445, timeout: 4)
            #expect(deadOutcome != .open && deadOutcome != .refused, "dead address: \(deadOutcome)")

            // No route anywhere, and the jump host cannot reach another segment's or any other range.
            for namespace in namespaces {
                let routes = try await lab.exec(namespace, ["ip", "-4", "route", "show", "default"], timeout: .seconds(10))
                #expect(routes.succeeded && routes.stdout.isEmpty, "\(namespace) has a default route")
            }
            #expect(try await lab.connect(from: jump, to: "198.18.2.10", port: 445) == .unreachable(ENETUNREACH))
            #expect(try await lab.connect(from: jump, to: lab.coordinator.address, port: 9) == .refused)

            // nmap's own Conficker.C check against the simulated host.
            let conficker = try lab.host("conficker")
            let nmap = try await lab.exec(jump, ["nmap", "-sT", "-Pn", "-p", "139,445", "--script", "p2p-conficker", conficker.address],
                                          timeout: .seconds(120))
            #expect(nmap.succeeded, "\(nmap)")
            #expect(nmap.stdout.contains("Host is likely INFECTED"), "\(nmap.stdout)")
            #expect(nmap.stdout.contains("INFECTED (Received valid data)"))

            // The codecs' clients from inside the jump namespace: Samba's nmbd answers NBSTAT, the
            // endpoint mapper of samba-dcerpcd binds, the simulated Conficker host answers its P2P probe.
            let smbNull = try lab.host("smb1-null")
            let names = try await lab.inNamespace(jump) { () -> NBStat.Response? in
                guard let socket = LabSocket.udp(smbNull.address, 137) else { return nil }
                socket.send(NBStat.query(transactionID: 0x2121))
                guard let reply = socket.receiveDatagram(timeout: 3) else { return nil }
                return try? NBStat.parseResponse(reply, expectedTransactionID: 0x2121)
            }
            #expect(names?.computerName == "S1SMB1NULL" && names?.workgroup == "CORDONLAB")
            let rpc = try lab.host("rpc")
            let bind = try await lab.inNamespace(jump) { () -> DCERPC.BindReply? in
                let (socket, _) = LabSocket.tcp(rpc.address, 135)
                guard let socket else { return nil }
                socket.send(DCERPC.bindRequest())
                let reply = socket.receive(timeout: 2, max: DCERPC.maxPDUSize)
                return try? DCERPC.parseBindReply(reply)
            }
            guard case .bindAck(let ack) = bind else { Issue.record("samba-dcerpcd: \(String(describing: bind))"); return }
            #expect(ack.accepted)
            let ports = ConfickerP2P.ports(for: try #require(IPv4Octets(conficker.address)), unixTime: Int64(Date().timeIntervalSince1970))
            #expect(Set(conficker.tcpOpen).isSuperset(of: ports.tcp) && Set(conficker.udpOpen).isSuperset(of: ports.udp))
            let p2p = try await lab.inNamespace(jump) { () -> ConfickerP2P.ReplyValidation? in
                guard let socket = LabSocket.udp(conficker.address, ports.udp2) else { return nil }
                var rng = SystemRandomNumberGenerator()
                socket.send(ConfickerP2P.makeProbe(transport: .udp, using: &rng).packet)
                return socket.receiveDatagram(timeout: 3).map { ConfickerP2P.validateReply($0, transport: .udp) }
            }
            guard case .infected = p2p else { Issue.record("conficker udp/\(ports.udp2): \(String(describing: p2p))"); return }

            // The simulated hosts' expected findings are their profiles'.
            for host in segment.hosts {
                guard let simulated = host.simulated else { continue }
                #expect(WormHostProfile.preset(named: simulated.profile)?.expectedFindings == host.expectedFindings, "\(host.role)")
            }

            // A second `up` with the same prefix is refused and leaves the lab alone.
            let again = try await LabCommand.run([LabEnvironment.upScript, "--prefix", lab.prefix, "--state-dir", lab.stateDir,
                                                  "--hosts", "closed"], timeout: .seconds(60))
            #expect(!again.succeeded && again.stderr.contains("in use"))
            #expect(lab.currentNamespaces() == namespaces)
        }
        guard ran != nil else { return }
        let after = seen.withLock { $0 }
        #expect(!after.namespaces.isEmpty && !after.pids.isEmpty)
        #expect(Lab.namespaces(prefix: after.prefix).isEmpty, "namespaces left behind")
        let listed = try await LabCommand.run(["ip", "netns", "list"], timeout: .seconds(10))
        #expect(!listed.stdout.contains(after.prefix + "-"))
        let alive = after.pids.filter { kill($0, 0) == 0 && !isZombie($0) }
        #expect(alive.isEmpty, "processes left behind: \(alive)")
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("cordon-lab-\(after.prefix)").path))
    }

    @Test func aFailedUpLeavesNothingBehind() async throws {
        guard LabEnvironment.isRoot, LabEnvironment.missing(LabEnvironment.baseTools).isEmpty else {
            Issue.record("skipped: needs root and \(LabEnvironment.baseTools)", severity: .warning)
            return
        }
        // A "cordon" whose demo-host answers --help but exits at once: the simulated host never
        // gets ready, `up` fails after building part of the lab and tears that part down.
        let prefix = "lf" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-lab-\(prefix)").path
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-fake-\(prefix)").path
        try "#!/bin/sh\n[ \"$2\" = --help ] && exit 0\nexit 3\n".write(toFile: fake, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: fake) }
        chmod(fake, 0o755)
        let up = try await LabCommand.run([LabEnvironment.upScript, "--prefix", prefix, "--state-dir", stateDir, "--segments", "1",
                                           "--ttl", "60", "--hosts", "closed,conficker", "--cordon", fake], timeout: .seconds(120))
        #expect(!up.succeeded)
        #expect(up.stderr.contains("did not get ready"), "\(up)")
        #expect(Lab.namespaces(prefix: prefix).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: stateDir + "/lab.json"))
        let down = try await LabCommand.run([LabEnvironment.downScript, "--prefix", prefix, "--state-dir", stateDir], timeout: .seconds(60))
        #expect(down.succeeded, "\(down)")
        #expect(!FileManager.default.fileExists(atPath: stateDir))
    }

    @Test func theHarnessRunsNothingOutsideTheLab() async throws {
        try await withLab(LabOptions(roles: ["closed"])) { lab in
            await #expect(throws: LabError.self) { try await lab.exec("not-ours", ["true"]) }
            await #expect(throws: LabError.self) { try await lab.connect(from: "other-s1-jump", to: "198.18.1.41", port: 1) }
            let result = try await lab.exec(lab.jumpNamespace(), ["sleep", "30"], timeout: .seconds(1))
            #expect(result.timedOut)
        }
    }
}

private struct Seen: Sendable {
    var prefix = ""
    var namespaces: [String] = []
    var pids: [Int32] = []
}

private func blocksSIGTERM(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
          let mask = UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
    return mask & (1 << (UInt64(SIGTERM) - 1)) != 0
}

private func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}
