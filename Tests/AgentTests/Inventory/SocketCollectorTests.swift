import CordonShared
import Foundation
import Testing
@testable import CordonAgent

@Suite struct SocketCollectorTests {
    /// The tables were captured from a network namespace with real listeners (see the fixture's
    /// README), then given bad lines.
    @Test func listsListeningTCPAndBoundUDPWithOwners() throws {
        let context = InventoryFixtures.context(root: InventoryFixtures.path("sockets"))
        let inventory = try #require(SocketCollector.collect(context).value)
        let summary = inventory.sockets.map { "\($0.transport.rawValue) \($0.localAddress) \($0.port) \($0.owner?.processName ?? "-")" }
        #expect(summary == [
            "tcp 127.0.0.1 8080 python3",
            "tcp 0.0.0.0 445 smbd",
            "tcp ::ffff:127.0.0.1 593 python3",
            "tcp :: 139 smbd",
            "tcp 2001:db8::1:2 22 -",
            "udp 0.0.0.0 137 smbd",
            "udp 198.18.0.1 138 -",
            "udp ::1 5353 -",
        ])
        // Established TCP and connected UDP sockets are not listed.
        #expect(!inventory.sockets.contains { $0.inode == 86094 || $0.inode == 86095 })
        // Bad hex, short line, invalid UTF-8, bad state; a short IPv6 address.
        #expect(inventory.skippedLines == 5)
        #expect(inventory.ownersComplete)
        #expect(inventory.sources == ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"])
    }

    @Test func decodesMappedAddressesAndExecutables() throws {
        let inventory = try #require(SocketCollector.collect(InventoryFixtures.context(root: InventoryFixtures.path("sockets"))).value)
        let mapped = try #require(inventory.sockets.first { $0.port == 593 })
        #expect(mapped.family == .ipv6)
        #expect(mapped.mappedIPv4Address == "127.0.0.1")
        #expect(mapped.owner == SocketOwner(pid: 1300, processName: "python3", executable: "/usr/bin/python3.11 (deleted)"))
        let smb = try #require(inventory.sockets.first { $0.port == 445 })
        #expect(smb.owner == SocketOwner(pid: 1200, processName: "smbd", executable: "/usr/sbin/smbd"))
        #expect(smb.mappedIPv4Address == nil)
    }

    @Test func decodesKernelHexInHostWordOrder() {
        #expect(ProcNetParser.decodeAddress("0100007F", ipv6: false) == [127, 0, 0, 1])
        #expect(ProcNetParser.decodeAddress("B80D0120000000000000000002000100", ipv6: true).map(ProcNetParser.format) == "2001:db8::1:2")
        #expect(ProcNetParser.decodeAddress("0000000000000000FFFF00000100007F", ipv6: true).map(ProcNetParser.format) == "::ffff:127.0.0.1")
        #expect(ProcNetParser.decodeAddress("0100007", ipv6: false) == nil)
        #expect(ProcNetParser.decodeAddress("0100007G", ipv6: false) == nil)
        #expect(ProcNetParser.decodeAddress("+100007F", ipv6: false) == nil)
        #expect(ProcNetParser.decodeAddress("0000000000000000FFFF0000", ipv6: true) == nil)
    }

    @Test func unreadableFileDescriptorsLeaveOwnerUnknownAndSaySo() throws {
        guard Unprivileged.available else { return }
        let scratch = try ScratchTree(copying: "sockets")
        defer { scratch.remove() }
        scratch.chmod("proc/1300/fd", 0o700)
        let inventory = try #require(Unprivileged.run {
            SocketCollector.collect(InventoryFixtures.context(root: scratch.path, isRoot: false))
        }.value)
        #expect(inventory.sockets.count == 8)
        #expect(inventory.sockets.first { $0.port == 8080 }?.owner == nil)
        #expect(inventory.sockets.first { $0.port == 445 }?.owner?.processName == "smbd")
        #expect(!inventory.ownersComplete)
        #expect(inventory.notes.contains { $0.contains("1 processes unreadable (not root)") })
    }

    @Test func liveSystemUnprivilegedStillListsSockets() throws {
        guard Unprivileged.available else { return }
        let inventory = try #require(Unprivileged.run {
            SocketCollector.collect(InventoryFixtures.context(root: "/", isRoot: false))
        }.value)
        // Whatever listens here, an unprivileged scan must not fail, and owners of root's
        // sockets (if any are listening) are unknown rather than wrong.
        #expect(inventory.sources.contains("/proc/net/tcp"))
        if inventory.sockets.contains(where: { $0.owner == nil && $0.inode != 0 }) {
            #expect(!inventory.ownersComplete)
        }
    }

    @Test func missingProcIsUnavailable() throws {
        let scratch = try ScratchTree()
        defer { scratch.remove() }
        let section = SocketCollector.collect(InventoryFixtures.context(root: scratch.path))
        #expect(section.unavailableReason?.hasPrefix("no socket table readable") == true)
    }
}
