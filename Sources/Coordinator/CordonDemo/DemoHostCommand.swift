import ArgumentParser
import CordonShared
import CordonWormHosts
import Foundation
import Logging
import ServiceLifecycle

/// `cordon demo-host`: runs simulated worm-era hosts (SMB, IIS, RPC, backdoors, Conficker.C's
/// P2P service, NBSTAT, TFTP) on given addresses until SIGTERM/SIGINT or the duration. The lab
/// (Deploy/lab) uses it inside its namespaces for the hosts that no Debian software can play.
public struct DemoHostCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo-host",
        abstract: "Run simulated worm-era Windows hosts on 127.0.0.0/8 or 198.18.0.0/15 addresses (for the demo and the lab).",
        discussion: """
            Each --host binds its address: TCP 445/139 (SMB), 135 (DCE/RPC), 80 (IIS), 4444/8888 (cmd.exe \
            banners), 33333 (FTP banner), UDP 137 (NBSTAT), 69 (TFTP) and Conficker.C's P2P ports, as its \
            profile says. Ports below 1024 need root or CAP_NET_BIND_SERVICE. Profiles: \
            \(WormHostProfile.presets.map(\.name).joined(separator: ", ")).
            """,
        shouldDisplay: false)

    @Option(name: .customLong("host"), help: ArgumentHelp(
        "A simulated host: its address, a profile, optionally a computer name (repeatable).",
        valueName: "address=profile[:name]"))
    public var hosts: [String] = []

    @Option(name: .long, help: ArgumentHelp("Stop by itself after this long (e.g. 90s, 30m, 2h; at most 24h).", valueName: "duration"))
    public var duration: String = "1h"

    @Option(name: .long, help: ArgumentHelp("Write this process's PID here; removed at exit.", valueName: "file"))
    public var pidFile: String?

    @Option(name: .long, help: ArgumentHelp("Once every socket listens, write the endpoints here as JSON.", valueName: "file"))
    public var readyFile: String?

    @Option(name: .long, help: ArgumentHelp("Open TCP connections at most, across all hosts.", valueName: "n"))
    public var maxConnections: Int = 256

    @Option(name: .long, help: ArgumentHelp("Log level (trace, debug, info, notice, warning, error).", valueName: "level"))
    public var logLevel: String = "info"

    public init() {}

    /// The longest a demo host may run.
    public static let maxDuration: Duration = .seconds(24 * 3600)

    public func validate() throws {
        guard !hosts.isEmpty else { throw ValidationError("give at least one --host address=profile") }
        var addresses: Set<String> = []
        for host in hosts {
            do {
                let spec = try WormHostSpec(parsing: host)
                guard addresses.insert(spec.address.description).inserted else {
                    throw ValidationError("\(spec.address) is given twice")
                }
            } catch let error as WormHostError {
                throw ValidationError(error.reason)
            }
        }
        guard let seconds = Self.parseDuration(duration) else {
            throw ValidationError("--duration '\(duration)' is not a duration such as 90s, 30m or 2h")
        }
        guard seconds > 0, seconds <= 24 * 3600 else { throw ValidationError("--duration must be more than 0 and at most 24h") }
        guard (1...65_536).contains(maxConnections) else { throw ValidationError("--max-connections must be 1...65536") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a log level") }
    }

    public func run() async throws {
        var logger = Logger(label: "cordon.demo-host")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let specs = try hosts.map { try WormHostSpec(parsing: $0) }
        let lifetime = Duration.seconds(Self.parseDuration(duration) ?? 3600)
        let limits = WormHostLimits(maxConnections: maxConnections, lifetime: lifetime)

        let fleet: WormHostFleet
        do {
            fleet = try await WormHostFleet.start(specs, limits: limits, logger: logger)
        } catch {
            StandardOutput.writeError("error: \(error.reason)\n")
            throw ExitCode(error == .invalidSpec ? 2 : 1)
        }
        defer { if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) } }
        do {
            if let pidFile { try Self.writeAtomically("\(getpid())\n", to: pidFile) }
            if let readyFile { try Self.writeAtomically(Self.readyJSON(fleet: fleet, lifetime: lifetime), to: readyFile) }
        } catch {
            await fleet.stop()
            StandardOutput.writeError("error: \(error)\n")
            throw ExitCode.failure
        }
        for spec in specs {
            let mine = fleet.endpoints.filter { $0.address == spec.address }
            let tcp = mine.filter { $0.transport == .tcp }.map { String($0.port) }.joined(separator: ",")
            let udp = mine.filter { $0.transport == .udp }.map { String($0.port) }.joined(separator: ",")
            print("\(spec.address) \(spec.profile.name) (\(spec.profile.computerName)): tcp \(tcp.isEmpty ? "-" : tcp) udp \(udp.isEmpty ? "-" : udp)")
        }
        print("running for at most \(duration); stop with SIGTERM or Ctrl-C")
        fflush(nil) // the lab reads this log while we run

        let group = ServiceGroup(configuration: .init(
            services: [.init(service: WormHostFleetService(fleet: fleet), successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await fleet.stop()
    }

    /// "90", "90s", "30m", "2h", "1h30m", "1d" → seconds; nil when malformed.
    public static func parseDuration(_ text: String) -> Int? {
        if let plain = Int(text) { return plain }
        var total = 0
        var number = ""
        for c in text {
            if c.isASCII, c.isNumber {
                number.append(c)
                guard number.count <= 9 else { return nil }
                continue
            }
            guard let value = Int(number) else { return nil }
            switch c {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86400
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && !text.isEmpty ? total : nil
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        if rename(temporary, path) != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// One line of JSON with sorted keys: `{"expiresAt":1700000000,"hosts":[{"address":...,
    /// "computerName":...,"endpoints":[{"port":445,"service":"smb","transport":"tcp"}],
    /// "expectedFindings":[...],"profile":...}],"pid":123}`.
    static func readyJSON(fleet: WormHostFleet, lifetime: Duration) throws -> String {
        struct Endpoint: Encodable { var transport: String; var port: UInt16; var service: String }
        struct Host: Encodable {
            var address: String
            var profile: String
            var computerName: String
            var expectedFindings: [String]
            var endpoints: [Endpoint]
        }
        struct Ready: Encodable { var pid: Int32; var expiresAt: Int; var hosts: [Host] }
        let endpoints = fleet.endpoints
        let ready = Ready(pid: getpid(), expiresAt: Int(Date().timeIntervalSince1970) + Int(lifetime.components.seconds),
                          hosts: fleet.hosts.map { spec in
                              Host(address: spec.address.description, profile: spec.profile.name,
                                   computerName: spec.profile.computerName, expectedFindings: spec.profile.expectedFindings,
                                   endpoints: endpoints.filter { $0.address == spec.address }.map {
                                       Endpoint(transport: $0.transport.rawValue, port: $0.port, service: $0.service.rawValue)
                                   })
                          })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(ready), as: UTF8.self) + "\n"
    }
}

/// A ``WormHostFleet`` as a ServiceLifecycle service: runs until the fleet stops (its lifetime)
/// or the group shuts down gracefully.
public struct WormHostFleetService: Service {
    public let fleet: WormHostFleet

    public init(fleet: WormHostFleet) {
        self.fleet = fleet
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await fleet.waitUntilStopped()
            } onGracefulShutdown: {
                fleet.initiateStop()
            }
        } onCancel: {
            fleet.initiateStop()
        }
    }
}
