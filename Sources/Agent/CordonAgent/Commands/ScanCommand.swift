import ArgumentParser
import CordonShared
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `cordon-agent scan`: one scan in the foreground, without a coordinator.
public struct ScanCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan a scope for worm-prone services and signs of infection, in the foreground.",
        discussion: """
            Only safe, read-only probes are sent (the README's "What the scanner looks for" table). Never scans outside --scope.
            Ctrl-C ends the process without a report; use --deadline to stop with a partial one.
            Exits 0 when the scan completed, 1 when it was cut short (--deadline) or failed,
            2 for a config error found while scanning, 64 for invalid options.
            """)

    @Option(name: .long, help: ArgumentHelp("An IPv4 CIDR or address to scan (repeatable).", valueName: "cidr"))
    public var scope: [String] = []

    @Option(name: .long, help: ArgumentHelp("An IPv4 CIDR or address to leave out (repeatable).", valueName: "cidr"))
    public var exclude: [String] = []

    @Option(name: .long, help: ArgumentHelp("Scan profile: worms, quick (445 only) or ports (connects only).", valueName: "name"))
    public var profile: String = "worms"

    @Option(name: .long, help: ArgumentHelp("New connects per second, at most.", valueName: "n"))
    public var rate: Int = 2000

    @Option(name: .long, help: ArgumentHelp("Connects in flight, at most (kept below RLIMIT_NOFILE).", valueName: "n"))
    public var concurrency: Int = 2048

    @Option(name: .long, help: ArgumentHelp("Initial per-probe timeout; adapts to the measured RTT (e.g. 500ms, 1s).", valueName: "duration"))
    public var timeout: String = "1s"

    @Option(name: .long, help: ArgumentHelp("Extra tries for a probe that timed out.", valueName: "n"))
    public var retries: Int = 1

    @Option(name: .long, help: ArgumentHelp("Refuse a scope with more addresses than this (unless --allow-large-scope).", valueName: "n"))
    public var maxScopeSize: Int = 65536

    @Flag(name: .long, help: "Allow a scope larger than --max-scope-size.")
    public var allowLargeScope = false

    @Flag(name: .long, help: ArgumentHelp("""
        Take each --scope CIDR as a whole subnet and leave out its first (network) and last (broadcast) \
        address. Off by default, as in nmap: every address of a CIDR is scanned, since a CIDR is often a slice \
        of a larger subnet. What is left out is listed in the report.
        """))
    public var skipNetworkBroadcast = false

    @Flag(name: .long, inversion: .prefixedNo, help: ArgumentHelp("""
        Ping (ICMP echo) each address beside its port probes, so that a host that drops every probed port but \
        answers ping is listed up with its ports filtered (reason echo-reply) rather than down. Needs root or \
        CAP_NET_RAW (or net.ipv4.ping_group_range); the report says when it could not run.
        """))
    public var icmpEcho = true

    @Option(name: .long, help: ArgumentHelp("Stop after this long and report what was found (e.g. 10m).", valueName: "duration"))
    public var deadline: String?

    @Flag(name: .long, help: "Print the scan report as JSON.")
    public var json = false

    @Flag(name: .long, help: "No progress bar, even on a terminal.")
    public var quiet = false

    @Option(name: .long, help: ArgumentHelp("Log level on stderr (trace, debug, info, notice, warning, error, critical).", valueName: "level"))
    public var logLevel: String = "warning"

    public init() {}

    /// The scan config these flags describe.
    public func scanConfig() -> ScanConfig {
        ScanConfig(scope: scope, exclude: exclude, profile: profile, rate: rate, concurrency: concurrency,
                   timeout: ConfigDuration(seconds: HumanDuration.seconds(timeout) ?? 1), retries: retries,
                   maxScopeSize: maxScopeSize, allowLargeScope: allowLargeScope, skipNetworkAndBroadcast: skipNetworkBroadcast,
                   icmpEcho: icmpEcho)
    }

    public func validate() throws {
        guard !scope.isEmpty else { throw ValidationError("give at least one --scope (an IPv4 CIDR or address)") }
        guard HumanDuration.seconds(timeout) != nil else { throw ValidationError("--timeout: '\(timeout)' is not a duration (e.g. 500ms, 1s)") }
        if let deadline {
            guard let seconds = HumanDuration.seconds(deadline), seconds > 0 else {
                throw ValidationError("--deadline: '\(deadline)' is not a duration (e.g. 90s, 10m)")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        do {
            try scanConfig().validate(origin: "command line")
            _ = try ScanProfile.named(profile)
            _ = try Scope(scope: scope, exclude: exclude, maxSize: maxScopeSize, allowLarge: allowLargeScope,
                          skipNetworkAndBroadcast: skipNetworkBroadcast)
        } catch let error as AgentError {
            throw ValidationError(error.reason)
        } catch let error as CordonError {
            throw ValidationError(error.reason.replacingOccurrences(of: "scan.", with: "--"))
        }
    }

    public func run() async throws {
        try await runAgentCommand {
            var logger = Logger(label: "cordon.agent.scan")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
            let scanner = Scanner(logger: logger)
            let showProgress = !quiet && isatty(STDERR_FILENO) == 1
            let bar = ProgressBar(enabled: showProgress)
            let report = try await scanner.scan(
                config: scanConfig(), now: Date(),
                deadline: deadline.flatMap(HumanDuration.seconds).map { .milliseconds(Int64($0 * 1000)) },
                progress: { bar.draw($0) })
            bar.finish()
            if json {
                try printAgentJSON(report)
            } else {
                print(Self.render(report))
            }
            if !report.complete { throw ExitCode(AgentExit.failure) }
        }
    }

    /// The end-of-scan tables: hosts, open ports, findings with severity.
    public static func render(_ report: ScanReport) -> String {
        var out: [String] = []
        let seconds = report.finishedAt.timeIntervalSince(report.startedAt)
        out.append("Scan \(report.profile) of \(report.scope.joined(separator: ", "))"
            + (report.exclude.isEmpty ? "" : " excluding \(report.exclude.joined(separator: ", "))")
            + ": \(report.addressesScanned) addresses in \(String(format: "%.1f", seconds))s, \(report.hosts.count) up, \(report.hostsDown) down"
            + (report.complete ? "" : " (INCOMPLETE)"))
        out.append("Probes: \(report.stats.probesSent) sent, \(report.stats.retries) retries, \(report.stats.timeouts) timeouts, "
            + "peak \(report.stats.peakInFlight) in flight")
        if let stages = report.stats.stages, !stages.isEmpty {
            let shown = stages.prefix(8).map { stage in
                stage.name.hasPrefix("wall:") ? "\(stage.name) \(String(format: "%.2f", stage.totalSeconds))s"
                    : "\(stage.name) \(String(format: "%.2f", stage.totalSeconds))s/\(stage.count) (longest \(String(format: "%.2f", stage.maxSeconds))s)"
            }
            out.append("Time by stage (summed over addresses and hosts): " + shown.joined(separator: ", "))
        }
        if let echo = report.stats.echoDiscovery {
            out.append("Echo discovery: \(echo)" + (report.stats.hostsUpByEcho.map { ", \($0) host(s) up by echo reply only (every probed port filtered)" } ?? ""))
        }
        if let skipped = report.stats.skippedAddresses, !skipped.isEmpty {
            let shown = skipped.prefix(16).joined(separator: ", ") + (skipped.count > 16 ? " and \(skipped.count - 16) more (--json lists all)" : "")
            out.append("Skipped as network/broadcast addresses (--skip-network-broadcast): \(shown)")
        }
        guard !report.hosts.isEmpty else { return out.joined(separator: "\n") }

        var hosts = TextTable(["HOST", "NAME", "WORKGROUP", "OS", "REASON", "COMPLETE"])
        for h in report.hosts {
            hosts.add([h.address, Terminal.sanitize(h.netbiosName ?? h.dnsName ?? "-", limit: 30), Terminal.sanitize(h.workgroup ?? "-", limit: 20),
                       Terminal.sanitize(h.osGuess ?? "-", limit: 50), h.reason, h.complete ? "yes" : "no"])
        }
        out.append("")
        out.append(hosts.render())

        var ports = TextTable(["HOST", "PORT", "STATE", "REASON", "SERVICE", "PRODUCT", "BANNER"])
        for h in report.hosts {
            for s in h.services {
                let product = [s.product, s.version].compactMap { $0 }.joined(separator: " ")
                ports.add([h.address, "\(s.port)/\(s.proto.rawValue)", s.state.rawValue, s.reason.rawValue, s.service ?? "-",
                           Terminal.sanitize(product.isEmpty ? "-" : product, limit: 40), Terminal.sanitize(s.banner ?? "", limit: 50)])
            }
        }
        if !ports.rows.isEmpty {
            out.append("")
            out.append(ports.render())
        }

        var findings = TextTable(["SEVERITY", "HOST", "PORT", "DETECTION", "EVIDENCE"])
        let all = report.hosts.flatMap { h in h.findings.map { (h.address, $0) } }
        let ordered = all.sorted { a, b in
            let sa = DetectionCatalogue.detection(a.1.detectionID)?.severity ?? .low
            let sb = DetectionCatalogue.detection(b.1.detectionID)?.severity ?? .low
            return sa != sb ? sa > sb : a.0 < b.0
        }
        for (address, f) in ordered {
            let severity = DetectionCatalogue.detection(f.detectionID)?.severity.rawValue ?? "?"
            let port = f.port.map { "\($0)/\(f.proto?.rawValue ?? "tcp")" } ?? "-"
            findings.add([severity.uppercased(), address, port, f.detectionID, Terminal.sanitize(f.evidence, limit: 100)])
        }
        out.append("")
        out.append(findings.rows.isEmpty ? "No findings." : findings.render())
        return out.joined(separator: "\n")
    }
}

/// A one-line progress bar on stderr (only when stderr is a terminal).
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func draw(_ p: ScanProgress) {
        guard enabled else { return }
        let width = 30
        let filled = Int((p.fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: max(0, width - filled))
        let line = "\r[\(bar)] \(Int(p.fraction * 100))%  \(p.addressesDone)/\(p.addressesTotal) addresses  "
            + "\(p.hostsUp) up  \(p.findings) findings  \(p.inFlight) in flight (window \(p.window))\u{1B}[K"
        lock.lock()
        defer { lock.unlock() }
        StandardOutput.writeError(line)
        drawn = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { StandardOutput.writeError("\n") }
    }
}
