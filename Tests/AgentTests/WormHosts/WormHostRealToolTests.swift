import CordonCodecs
import CordonWormHosts
import Foundation
import Testing

/// The simulated hosts as real clients see them: nmap's NSE scripts and smbclient, on loopback
/// (127.77.x.y only: nothing else is ever scanned from the root namespace).
@Suite(.enabled(if: WormHostTesting.isRoot, "binds ports below 1024: run as root"))
struct WormHostRealToolTests {
    @Test(.enabled(if: WormHostTesting.which("nmap") != nil, "nmap is not installed"))
    func nmapScriptsSeeTheInfections() async throws {
        let net = WormLoopbackBlock(block: 40)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .wannaCry),
                                                   WormHostSpec(address: net.address(2), profile: .conficker),
                                                   WormHostSpec(address: net.address(3), profile: .patched)],
                                                  logger: WormHostTesting.logger())
        let output = try await WormHostTesting.run(["nmap", "-sT", "-Pn", "-n", "-p", "139,445", "--script",
                                              "smb-protocols,smb-vuln-ms17-010,p2p-conficker",
                                              net.string(1), net.string(2), net.string(3)], timeout: 180)
        await fleet.stop()
        let reports = output.components(separatedBy: "Nmap scan report for ")
        let wannaCry = reports.first { $0.hasPrefix(net.string(1) + "\n") } ?? ""
        let conficker = reports.first { $0.hasPrefix(net.string(2) + "\n") } ?? ""
        let patched = reports.first { $0.hasPrefix(net.string(3) + "\n") } ?? ""
        #expect(wannaCry.contains("State: VULNERABLE") && wannaCry.contains("NT LM 0.12 (SMBv1)"), "\(output)")
        #expect(conficker.contains("Host is likely INFECTED") && conficker.contains("4/4 checks are positive"), "\(output)")
        #expect(patched.contains("311") && !patched.contains("SMBv1") && !patched.contains("VULNERABLE"), "\(output)")
    }

    @Test(.enabled(if: WormHostTesting.which("smbclient") != nil, "smbclient is not installed"))
    func smbclientLogsOnAnonymously() async throws {
        let net = WormLoopbackBlock(block: 41)
        let fleet = try await WormHostFleet.start([WormHostSpec(address: net.address(1), profile: .xp),
                                                   WormHostSpec(address: net.address(2), profile: .conficker)],
                                                  logger: WormHostTesting.logger())
        let open = try await WormHostTesting.run(["smbclient", "-N", "-L", "//\(net.string(1))", "--option=client min protocol=NT1"], timeout: 60)
        let closed = try await WormHostTesting.run(["smbclient", "-N", "-L", "//\(net.string(2))", "--option=client min protocol=NT1"], timeout: 60)
        await fleet.stop()
        #expect(open.contains("Anonymous login successful"), "\(open)")
        #expect(closed.contains("NT_STATUS_ACCESS_DENIED") && !closed.contains("Anonymous login successful"), "\(closed)")
    }
}

extension WormHostTesting {
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin"])
            .map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a short-lived tool under `timeout` and returns stdout and stderr together.
    static func run(_ arguments: [String], timeout seconds: Int) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("wormhost-tool-\(UUID().uuidString.prefix(8))")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: which("timeout") ?? "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "\(seconds)"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // Poll rather than block: a blocked cooperative thread starves the other tests.
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        try? handle.close()
        let data = (try? Data(contentsOf: output)) ?? Data()
        return String(decoding: data.prefix(1 << 20), as: UTF8.self)
    }
}
