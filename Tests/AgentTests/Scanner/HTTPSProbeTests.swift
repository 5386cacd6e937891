import CordonCodecs
import CordonShared
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import CordonAgent

/// The HTTP probe over TLS (443 in the worms profile): what IIS says behind TLS is read and
/// mapped like port 80; a port that is no TLS server, or never finishes the handshake, stays
/// "open" without a product, and the probe ends within its limits.
@Suite struct HTTPSProbeTests {
    /// A profile with only `port`, probed as HTTPS (443 needs root; a high port does not).
    func profile(_ port: UInt16) -> ScanProfile { ScanProfile(name: "https-test", tcp: [.init(port, .https)]) }

    func scan(_ address: IPv4Address, port: UInt16, recorder: ScanConnectRecorder = ScanConnectRecorder()) async throws -> ScannedHost? {
        let scanner = Scanner(logger: ScanTestNet.logger(), tuning: ScanTestNet.tuning(), observer: recorder.observer)
        let report = try await scanner.scan(config: ScanTestNet.config(["\(address)"]), profile: profile(port))
        #expect(report.complete)
        return report.hosts.first { $0.address == address.description }
    }

    @Test func iisBehindTLSIsReadLikePort80() async throws {
        let (base, _) = ScanTestNet.block()
        let address = ScanTestNet.host(base, 10)
        let listener = try await ScanTestListener.start(address, .iis(SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true)),
                                                        tls: try ScanTestTLS.serverContext(for: address))
        defer { Task { await listener.stop() } }
        let host = try #require(try await scan(address, port: listener.port))
        let service = try #require(host.services.first { $0.port == Int(listener.port) })
        #expect(service.state == .open)
        #expect(service.service == "https")
        #expect(service.product == "Microsoft IIS httpd")
        #expect(service.version == "5.0")
        #expect(service.banner?.contains("Microsoft-IIS/5.0") == true)
        #expect(Set(host.findings.map(\.detectionID)) == [DetectionCatalogue.codeRedIIS, DetectionCatalogue.codeRedIdaMapping, DetectionCatalogue.codeRedRootExe])
        #expect(host.findings.allSatisfy { $0.port == Int(listener.port) })
        #expect(listener.connections >= 3, "GET /, /NULL.ida and root.exe each over their own TLS connection")
    }

    @Test func plainHTTPOnTheTLSPortIsOpenWithoutProduct() async throws {
        let (base, _) = ScanTestNet.block()
        let address = ScanTestNet.host(base, 11)
        let listener = try await ScanTestListener.start(address, .iis(SimulatedIIS(version: "5.0", idaMapped: true, rootExeInstalled: true)))
        defer { Task { await listener.stop() } }
        let host = try #require(try await scan(address, port: listener.port))
        let service = try #require(host.services.first { $0.port == Int(listener.port) })
        #expect(service.state == .open)
        #expect(service.product == nil)
        #expect(host.findings.isEmpty, "no TLS, no HTTP read: \(host.findings.map(\.detectionID))")
        #expect(host.complete)
    }

    @Test func aHostThatNeverFinishesTheHandshakeIsCutOffInTime() async throws {
        let (base, _) = ScanTestNet.block()
        let address = ScanTestNet.host(base, 12)
        let listener = try await ScanTestListener.start(address, .silent)
        defer { Task { await listener.stop() } }
        let started = ContinuousClock.now
        let host = try #require(try await scan(address, port: listener.port))
        let elapsed = ContinuousClock.now - started
        #expect(host.services.first { $0.port == Int(listener.port) }?.state == .open)
        #expect(host.findings.isEmpty)
        // Connect timeout 1 s covers the handshake; the whole probe has a 4 s deadline.
        #expect(elapsed < .seconds(6), "took \(elapsed)")
    }

    @Test func tlsConnectsStayInsideTheScope() async throws {
        let (base, _) = ScanTestNet.block()
        let inside = ScanTestNet.host(base, 13), outside = ScanTestNet.host(base, 14)
        let listener = try await ScanTestListener.start(outside, .iis(SimulatedIIS()), tls: try ScanTestTLS.serverContext(for: outside))
        defer { Task { await listener.stop() } }
        let recorder = ScanConnectRecorder()
        let gate = ScopeGate(scope: try Scope(scope: ["\(inside)"]), observer: recorder.observer)
        let transport = NIOStreamTransport(group: MultiThreadedEventLoopGroup.singleton, gate: gate)
        let connection = await transport.connectTLS(to: outside, port: listener.port, timeout: .seconds(1))
        #expect(connection == nil)
        #expect(listener.connections == 0)
        #expect(recorder.addresses.isEmpty)
    }
}
