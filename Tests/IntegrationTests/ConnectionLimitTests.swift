@testable import CordonCoordinator
import CordonShared
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that never finish a handshake or a request: before these limits one client sending a
/// byte every 3 s was still held after 45 s, a partial ClientHello after 40 s, and 1,100 idle
/// TCP connections took the descriptors operators needed.
@Suite(.serialized) struct ConnectionLimitTests {
    /// A raw TCP connection to the coordinator from `source` (any 127/8 address).
    final class RawSocket {
        let fd: Int32

        init(port: Int, source: String = "127.0.0.1") throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw CordonError.invalidArgument("socket: \(errno)") }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, connected == 0 else {
                close(fd)
                throw CordonError.invalidArgument("bind/connect from \(source): errno \(errno)")
            }
        }

        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Seconds until the server closes the connection (EOF or reset), nil when it is still
        /// open after `limit` seconds.
        func secondsUntilClosed(limit: Double) -> Double? {
            let start = Date()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date().timeIntervalSince(start) < limit {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if ready > 0 {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { return Date().timeIntervalSince(start) }
                }
            }
            return nil
        }

        deinit { close(fd) }
    }

    func operatorIsServed(_ fleet: LiveFleet) async throws -> Bool {
        let client = try fleet.rawAsOperator()
        defer { Task { await client.shutdown() } }
        return try await client.send(.GET, APIPath.status).status == 200
    }

    @Test func aConnectionThatNeverFinishesItsHandshakeIsClosed() async throws {
        let fleet = try await LiveFleet.start { $0.handshakeTimeout = .init(seconds: 1) }
        let port = fleet.coordinator.port
        let silent = try RawSocket(port: port)
        let partial = try RawSocket(port: port)
        partial.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])   // the start of a ClientHello, never finished
        let silentClosed = try #require(silent.secondsUntilClosed(limit: 6), "a silent connection is still open after 6 s")
        let partialClosed = try #require(partial.secondsUntilClosed(limit: 6), "a partial ClientHello is still open after 6 s")
        #expect(silentClosed < 3 && partialClosed < 3, "closed after \(silentClosed) s and \(partialClosed) s; the timeout is 1 s")
        #expect(try await operatorIsServed(fleet))
        await fleet.finish()
    }

    /// One address cannot hold more than its share of handshakes; the others are still served.
    @Test func oneAddressCannotTakeEveryHandshakeSlot() async throws {
        let fleet = try await LiveFleet.start {
            $0.handshakeTimeout = .init(seconds: 20)
            $0.maxHandshakesPerAddress = 3
        }
        let port = fleet.coordinator.port
        // Four from 127.0.0.2 (the server may set them up in any order): one is closed at once,
        // not at the 20 s handshake timeout; three are kept.
        let sockets = try (0..<4).map { _ in try RawSocket(port: port, source: "127.0.0.2") }
        let closed = sockets.map { $0.secondsUntilClosed(limit: 1) }
        #expect(closed.compactMap { $0 }.count == 1, "closed within 1 s: \(closed)")
        #expect(try await operatorIsServed(fleet), "an operator at 127.0.0.1 is served meanwhile")
        await fleet.finish()
    }

    /// Over the total cap a new connection is closed at once instead of taking a descriptor.
    @Test func overTheConnectionCapNewConnectionsAreClosedAtOnce() async throws {
        let fleet = try await LiveFleet.start {
            $0.handshakeTimeout = .init(seconds: 20)
            $0.maxConnections = 4
        }
        let port = fleet.coordinator.port
        var held = try (0..<5).map { i in try RawSocket(port: port, source: "127.0.0.\(10 + i)") }
        let closed = held.map { $0.secondsUntilClosed(limit: 1) }
        #expect(closed.compactMap { $0 }.count == 1, "five connections, a cap of four: one closed at once, not at the 20 s handshake timeout: \(closed)")
        held.removeAll()   // closed: their slots come back
        var served = false
        for _ in 0..<50 where !served {
            served = (try? await operatorIsServed(fleet)) ?? false
            if !served { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(served, "once the held connections are gone an operator is served again")
        await fleet.finish()
    }

    /// The case that exhausted systemd's default 1,024 descriptors: 1,100 idle TCP connections
    /// without a certificate, from 1,100 addresses. The coordinator raises its open-files limit
    /// (the unit sets LimitNOFILE=65536), so an operator is still served at once.
    @Test func elevenHundredIdleConnectionsDoNotLockOperatorsOut() async throws {
        // Start from systemd's default soft limit, as `cordon serve` would without the unit's.
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        if limit.rlim_max > 1024 {
            var lowered = limit
            lowered.rlim_cur = 1024
            #expect(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        }
        let fleet = try await LiveFleet.start()
        var now = rlimit()
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &now)
        #expect(now.rlim_cur == min(limit.rlim_max, 1 << 20), "the coordinator raised its soft limit to the hard one")
        let port = fleet.coordinator.port
        var idle: [RawSocket] = []
        for i in 0..<1100 { idle.append(try RawSocket(port: port, source: "127.0.\(1 + i / 250).\(1 + i % 250)")) }
        let started = Date()
        #expect(try await operatorIsServed(fleet))
        #expect(Date().timeIntervalSince(started) < 2, "an operator waited \(Date().timeIntervalSince(started)) s")
        #expect(idle.prefix(50).allSatisfy { $0.secondsUntilClosed(limit: 0.01) == nil }, "idle connections are kept until their handshake timeout")
        idle.removeAll()
        await fleet.finish()
    }

    @Test func theCoordinatorUnitRaisesTheOpenFilesLimit() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOfFile: repo.path + "/Deploy/systemd/cordon-coordinator.service", encoding: .utf8)
        let value = unit.split(separator: "\n").first { $0.hasPrefix("LimitNOFILE=") }.flatMap { Int($0.dropFirst("LimitNOFILE=".count)) }
        let limit = try #require(value, "cordon-coordinator.service sets no LimitNOFILE (systemd's default soft limit is 1,024)")
        #expect(ConnectionGate.connectionCap(openFilesLimit: limit) >= 60_000, "the unit's limit leaves room for 50,000 agents and operators")
    }

    /// After the handshake: a client that drips a request head is cut at the idle timeout; a
    /// long-poll longer than that timeout is not (a request in progress is not idle).
    @Test func aClientDrippingItsRequestHeadIsCutButALongPollIsNot() async throws {
        let fleet = try await LiveFleet.start {
            $0.idleTimeout = .init(seconds: 2)
            $0.longPollTimeout = .init(seconds: 4)
        }
        let python = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "python3 is needed for this test (scripts/setup installs it)")
        let script = """
            import socket, ssl, sys, time
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(sys.argv[2])
            ctx.check_hostname = False
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1")
            start = time.monotonic()
            tls.sendall(b"GET /v1/enroll/ca HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ")
            tls.settimeout(0.3)
            closed = False
            while time.monotonic() - start < 12 and not closed:
                try:
                    tls.sendall(b"a")
                    if not tls.recv(100):
                        closed = True
                except socket.timeout:
                    pass
                except (ssl.SSLError, OSError):
                    closed = True
            print("%.2f" % (time.monotonic() - start) if closed else "open")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, String(fleet.coordinator.port), fleet.stateDir.caCertificate]
        let output = Pipe()
        process.standardOutput = output
        try process.run()

        // Meanwhile an agent's long-poll of 4 s, twice the idle timeout, is answered normally.
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let started = Date()
        let poll = try await client.send(.GET, APIPath.nextTask + "?wait=4")
        #expect(poll.status == 204, "the long-poll ended with \(poll.status)")
        #expect(Date().timeIntervalSince(started) >= 3.5)

        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let seconds = try #require(Double(text), "the dripping client was still connected after 12 s (\(text))")
        #expect(seconds < 5, "cut after \(seconds) s; the idle timeout is 2 s")
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func theLimitsAreCheckedInTheConfigFile() throws {
        for (yaml, message) in [("handshakeTimeout: 0s", "handshakeTimeout must be 1s-120s"), ("idleTimeout: 1s", "idleTimeout must be 2s-1h"),
                                ("maxConnections: 5", "maxConnections must be 0"), ("maxHandshakesPerAddress: 0", "maxHandshakesPerAddress must be 1-100000")] {
            let path = NSTemporaryDirectory() + "cordon-limits-\(UUID().uuidString).yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            defer { unlink(path) }
            #expect(throws: (any Error).self, "\(yaml)") { try CoordinatorConfig.load(path: path) }
            do { _ = try CoordinatorConfig.load(path: path) } catch { #expect("\(error)".contains(message), "\(error)") }
        }
        // The example file shows the defaults.
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        #expect(try CoordinatorConfig.load(path: repo.path + "/Deploy/coordinator.yaml.example") == CoordinatorConfig())
        #expect(ConnectionGate.connectionCap(openFilesLimit: 1024) == 768)
        #expect(ConnectionGate.connectionCap(openFilesLimit: 100) == 16)
    }
}
