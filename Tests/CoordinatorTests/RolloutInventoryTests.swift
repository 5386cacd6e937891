@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

/// The rollout inventory: what a good one gives, and a clear error naming the key for each bad one.
@Suite struct RolloutInventoryTests {
    static let full = """
        coordinator:
          url: https://cordon.example.net:8443
          caFingerprint: "SHA256:\(String(repeating: "ab", count: 32))"
        agent:
          binary: bin/cordon-agent
          policy: ~/cordon/policy.yaml
          heartbeatInterval: 30s
        ssh:
          user: root
          key: keys/rollout
          knownHosts: known_hosts
          hostKeys: strict
          connectTimeout: 5s
        bastions:
          ops:
            address: bastion.example.net
            user: ops
            key: /keys/bastion
          inner:
            address: 198.18.9.1
            proxyJump: ops
        segments:
          office:
            scope: [198.18.2.0/24]
            hosts:
              - name: office-jump1
                address: 198.18.2.5
                proxyJump: inner
          dmz:
            scope: [198.18.1.7/24, 198.18.9.0/24]
            exclude: [198.18.1.1]
            scanInterval: 2h
            hosts:
              - name: dmz-jump1
                address: 198.18.1.5
                port: 2222
              - name: dmz-jump2
                address: jump2.dmz.example.net
                user: ops
                key: /keys/ops
        """

    func parse(_ yaml: String) throws -> RolloutInventory {
        try RolloutInventory.parse(yaml: yaml, origin: "inv.yaml", baseDirectory: "/srv/rollout", home: "/home/alice")
    }

    @Test func aFullInventory() throws {
        let inv = try parse(Self.full)
        #expect(inv.coordinator.url == "https://cordon.example.net:8443")
        #expect(inv.coordinator.caFingerprint == "SHA256:" + String(repeating: "ab", count: 32))
        #expect(inv.agent.binary == "/srv/rollout/bin/cordon-agent")
        #expect(inv.agent.policy == "/home/alice/cordon/policy.yaml")
        #expect(inv.agent.heartbeatInterval == "30s")
        #expect(inv.ssh.knownHosts == "/srv/rollout/known_hosts")
        #expect(inv.ssh.hostKeys == .strict)
        #expect(inv.ssh.connectTimeout == 5)
        #expect(inv.ssh.commandTimeout == 600)
        // Segments sorted by name; hosts keep file order and get inventory-wide indexes.
        #expect(inv.segments.map(\.name) == ["dmz", "office"])
        #expect(inv.hosts.map(\.name) == ["dmz-jump1", "dmz-jump2", "office-jump1"])
        #expect(inv.hosts.map(\.index) == [0, 1, 2])
        let dmz = try #require(inv.segment(named: "dmz"))
        #expect(dmz.scope == ["198.18.1.0/24", "198.18.9.0/24"], "CIDRs come out canonical")
        #expect(dmz.exclude == ["198.18.1.1"])
        #expect(dmz.scanInterval == "2h")
        let j1 = inv.hosts[0], j2 = inv.hosts[1], office = inv.hosts[2]
        #expect(j1.endpoint == .init(address: "198.18.1.5", port: 2222, user: "root", key: "/srv/rollout/keys/rollout"))
        #expect(!j1.needsSudo)
        #expect(j2.endpoint == .init(address: "jump2.dmz.example.net", port: 22, user: "ops", key: "/keys/ops"))
        #expect(j2.needsSudo)
        #expect(office.proxyJump == "inner" && office.id == "office/office-jump1")
        #expect(inv.bastions["inner"]?.proxyJump == "ops")
        #expect(inv.bastions["inner"]?.endpoint.user == "root", "bastions take the ssh defaults too")
    }

    @Test func defaults() throws {
        let inv = try parse("""
            coordinator: {url: "https://198.18.0.1:8443"}
            agent: {binary: /opt/cordon-agent}
            ssh: {user: root, key: /k}
            segments:
              s1: {scope: [198.18.1.0/24], hosts: [{name: j1, address: 198.18.0.11}]}
            """)
        #expect(inv.coordinator.caFingerprint == nil)
        #expect(inv.agent.policy == nil)
        #expect(inv.ssh.hostKeys == .acceptNew)
        #expect(inv.ssh.knownHosts == nil)
        #expect(inv.ssh.connectTimeout == 10)
        #expect(inv.hosts.first?.endpoint.port == 22)
        #expect(inv.bastions.isEmpty)
        let seconds = try parse("""
            coordinator: {url: "https://198.18.0.1:8443"}
            agent: {binary: /opt/cordon-agent, reportInterval: 600}
            ssh: {user: root, key: /k}
            segments:
              s1: {scope: [198.18.1.0/24], scanInterval: 3600, hosts: [{name: j1, address: 198.18.0.11}]}
            """)
        #expect(seconds.agent.reportInterval == "600" && seconds.segments[0].scanInterval == "3600", "a bare number of seconds is kept as written")
    }

    /// Each malformed inventory is refused with the key named.
    @Test(arguments: [
        ("", "empty"),
        ("- a\n- b", "must be a mapping"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegmnts: {}", "unknown key 'segmnts'"),
        ("coordinator: {url: http://x:1}\nagent: {binary: /b}\nsegments: {}", "coordinator.url"),
        ("agent: {binary: /b}\nsegments: {}", "coordinator.url: is required"),
        ("coordinator: {url: https://x:1, caFingerprint: SHA256:12}\nagent: {binary: /b}\nsegments: {}", "coordinator.caFingerprint"),
        ("coordinator: {url: https://x:1}\nsegments: {}", "agent.package: or agent.binary is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nsegments: {}", "segments: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {hostKeys: yolo}\nsegments: {}", "ssh.hostKeys"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {connectTimeout: forever}\nsegments: {}", "not a duration"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b, heartbeatInterval: 'soon'}\nsegments: {}", "agent.heartbeatInterval: \"soon\" is not a duration"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b, reportInterval: 1s}\nsegments: {}", "agent.reportInterval: must be between 10s and 7d"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {hosts: [{name: a, address: 1.2.3.4}]}}", "segments.s1.scope: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/33], hosts: [{name: a, address: 1.2.3.4}]}}", "segments.s1.scope[0]"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], exclude: [nope], hosts: [{name: a, address: 1.2.3.4}]}}", "segments.s1.exclude[0]"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24]}}", "segments.s1.hosts: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: {a: b}}}", "must be a list"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{address: 1.2.3.4}]}}", "hosts[0].name: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a}]}}", "hosts[0].address: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: -oProxyCommand=sh}]}}", "is not a host name or IP address"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 'a b'}]}}", "is not a host name or IP address"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4, port: 70000}]}}", "hosts[0].port"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "hosts[0].user: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: 'root;id', key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "not a valid user name"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "hosts[0].key: is required"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: '/k\"x'}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "has a quote"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}, {name: a, address: 1.2.3.5}]}}", "must be unique"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4, proxyJump: nowhere}]}}", "no bastion named"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nbastions: {b1: {address: 1.1.1.1, proxyJump: b2}, b2: {address: 2.2.2.2, proxyJump: b1}}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "loops"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {'bad name': {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4}]}}", "segment name"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: [198.18.1.0/24], hosts: [{name: a, address: 1.2.3.4, pasword: x}]}}", "unknown key 'segments.s1.hosts[0].pasword'"),
        ("coordinator: {url: https://x:1}\nagent: {binary: /b}\nssh: {user: root, key: /k}\nsegments: {s1: {scope: 198.18.1.0/24, hosts: [{name: a, address: 1.2.3.4}]}}", "must be a list"),
    ])
    func malformedInventoriesAreRefused(yaml: String, expected: String) {
        do {
            _ = try parse(yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as CordonError {
            #expect(error == .invalidArgument)
            #expect(error.reason.hasPrefix("inv.yaml"), "\(error.reason)")
            #expect(error.reason.contains(expected), "\(error.reason)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func addresses() {
        for good in ["198.18.1.5", "jump1", "host.example.net.", "jump-1.dmz.example.net", "fe80::1", "2001:db8::5"] {
            #expect(RolloutInventory.isValidAddress(good), "\(good)")
        }
        for bad in ["", "-oProxyCommand=x", "a b", "a;b", "x..y", "jump-", "$(id)", "a/b", String(repeating: "a", count: 300)] {
            #expect(!RolloutInventory.isValidAddress(bad), "\(bad)")
        }
    }

    @Test func theShippedExampleIsValid() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let inv = try RolloutInventory.load(path: repo.appendingPathComponent("Deploy/rollout-inventory.yaml.example").path)
        #expect(inv.hosts.map(\.name) == ["dmz-jump1", "dmz-jump2", "office-jump1"])
        #expect(inv.bastions.keys.sorted() == ["ops-bastion"] && inv.hosts[2].proxyJump == "ops-bastion")
        #expect(inv.segment(named: "office")?.scope == ["198.18.2.0/24", "198.18.3.0/24"])
    }

    @Test func loadReadsAFileAndResolvesPathsAgainstIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rollout-inv-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("inventory.yaml").path
        try Self.full.write(toFile: path, atomically: true, encoding: .utf8)
        let inv = try RolloutInventory.load(path: path)
        #expect(inv.agent.binary == dir.appendingPathComponent("bin/cordon-agent").path)
        #expect(throws: CordonError.self) { try RolloutInventory.load(path: dir.appendingPathComponent("missing.yaml").path) }
    }
}
