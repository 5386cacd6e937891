import ArgumentParser
import CordonShared
import CordonTransport
import Foundation

public struct AgentStatusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show enrollment, coordinator reachability, last successful report and spool depth.",
        discussion: "Exits 0 when enrolled and the coordinator answers, 3 when it is unreachable, 4 when it refuses this agent (revoked), 6 when not enrolled.")

    @OptionGroup public var options: AgentConfigOptions

    @Option(name: .long, help: ArgumentHelp("How long to wait for the coordinator.", valueName: "duration"))
    public var timeout: String = "5s"

    @Flag(name: .long, help: "Print JSON.")
    public var json = false

    public init() {}

    public struct Output: Codable, Sendable {
        public var enrolled: Bool
        public var agentID: String?
        public var segment: String?
        public var coordinator: String?
        public var caFingerprint: String?
        public var certificateNotAfter: Date?
        public var reachable: Bool
        /// The coordinator answered but refused this agent (revoked, unknown certificate).
        public var refused: Bool
        public var reachabilityError: String?
        public var lastContactAt: Date?
        public var lastReportAt: Date?
        public var lastError: String?
        public var spoolDepth: Int
        public var spoolBytes: Int
        public var spoolPendingDrops: Int
        /// This host's clock minus the coordinator's at the last heartbeat (seconds).
        public var clockSkewSeconds: Double?
    }

    public func run() async throws {
        try await runAgentCommand {
            let config = try options.load()
            let stateDir = AgentStateDir(config.stateDir)
            let spool = FileManager.default.fileExists(atPath: stateDir.spoolDirectory)
                ? try Spool(directory: stateDir.spoolDirectory, maxBytes: config.spool.maxSize.bytes) : nil
            let uplinkStatus = stateDir.loadStatus()
            var output = Output(enrolled: stateDir.isEnrolled, reachable: false, refused: false, lastContactAt: uplinkStatus.lastContactAt,
                                lastReportAt: uplinkStatus.lastReportAt, lastError: uplinkStatus.lastError,
                                spoolDepth: spool?.depth ?? 0, spoolBytes: spool?.bytes ?? 0, spoolPendingDrops: spool?.pendingDrops ?? 0,
                                clockSkewSeconds: uplinkStatus.clockSkewSeconds)
            if output.enrolled {
                let record = try stateDir.loadEnrollment()
                output.agentID = record.agentID
                output.segment = record.segment
                output.coordinator = config.coordinator ?? record.coordinator
                output.caFingerprint = record.caFingerprint
                output.certificateNotAfter = record.certificateNotAfter
                let uplink = try Uplink(stateDir: stateDir, coordinatorOverride: config.coordinator, logger: agentLogger(level: "critical"))
                do {
                    _ = try await uplink.remoteConfig(timeout: HumanDuration.seconds(timeout) ?? 5)
                    output.reachable = true
                } catch let error as TransportError where error == .refused {
                    output.refused = true
                    output.reachabilityError = error.body?.message ?? error.reason
                } catch {
                    output.reachabilityError = "\(error)"
                }
                await uplink.shutdown()
            }
            if json {
                try printAgentJSON(output)
            } else {
                print(Self.render(output))
            }
            if !output.enrolled { throw ExitCode(AgentExit.notEnrolled) }
            if output.refused { throw ExitCode(AgentExit.refused) }
            if !output.reachable { throw ExitCode(AgentExit.unreachable) }
        }
    }

    static func clock(_ skew: Double?) -> String {
        guard let skew else { return "not compared yet (no heartbeat answered)" }
        let off = abs(skew)
        if off <= ClockSkew.warningSeconds { return "agrees with the coordinator's (\(HumanDuration.format(off)) apart)" }
        return "OFF: \(HumanDuration.format(off)) \(skew > 0 ? "ahead of" : "behind") the coordinator's; task lists and certificates are checked by it (check NTP)"
    }

    static func render(_ o: Output) -> String {
        func date(_ d: Date?) -> String { d.map { CordonTime.format($0) } ?? "never" }
        guard o.enrolled else {
            return "Enrolled:      no (run `cordon-agent enroll`)\nSpool:         \(o.spoolDepth) report(s), \(ByteSize.format(o.spoolBytes))"
        }
        return """
            Enrolled:      yes, as \(o.agentID ?? "?") in segment \(o.segment ?? "?")
            Coordinator:   \(o.coordinator ?? "?") (\(o.reachable ? "reachable" : o.refused ? "REFUSED: \(o.reachabilityError ?? "")" : "UNREACHABLE: \(o.reachabilityError ?? "")"))
            CA:            \(o.caFingerprint ?? "?")
            Certificate:   valid until \(date(o.certificateNotAfter))
            Last contact:  \(date(o.lastContactAt))
            Last report:   \(date(o.lastReportAt))
            Last error:    \(o.lastError ?? "none")
            Spool:         \(o.spoolDepth) report(s), \(ByteSize.format(o.spoolBytes)), \(o.spoolPendingDrops) drop(s) not yet reported
            Clock:         \(clock(o.clockSkewSeconds))
            """
    }
}
