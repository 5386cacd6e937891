import CordonShared
import Foundation

/// systemd units through systemctl. Where systemd is not the init system (a container, the
/// lab) every call throws a clear `AgentError.remediation` instead of running systemctl.
public struct LiveServiceManager: ServiceManager {
    public var runner: any RemediationCommandRunner
    /// Exists only when systemd is PID 1 (what sd_booted(3) checks).
    public var systemdRuntimeDirectory: String

    public init(runner: any RemediationCommandRunner = RemediationProcessRunner(), systemdRuntimeDirectory: String = "/run/systemd/system") {
        self.runner = runner
        self.systemdRuntimeDirectory = systemdRuntimeDirectory
    }

    private func systemctl(_ purpose: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: systemdRuntimeDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            let init1 = (try? SecureFile.readString("/proc/1/comm", limit: 64))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
            throw AgentError.remediation("systemd is not running on this host (no \(systemdRuntimeDirectory); PID 1 is \(init1)): cannot \(purpose)")
        }
        guard let tool = runner.locate("systemctl") else { throw AgentError.remediation("systemctl is not installed: cannot \(purpose)") }
        return tool
    }

    public func state(of unit: String) throws -> UnitState {
        let tool = try systemctl("read the state of \(unit)")
        let result = runner.run(tool, arguments: ["show", "--property=LoadState,ActiveState,UnitFileState", "--", unit],
                                timeout: .seconds(30), outputLimit: 64 << 10)
        guard result.termination == .exited(0) else { throw AgentError.remediation("systemctl show \(unit): \(result.failureSummary)") }
        return Self.parseShow(result.standardOutput)
    }

    static func parseShow(_ output: Data) -> UnitState {
        var values: [String: String] = [:]
        for line in String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return UnitState(loadState: values["LoadState"] ?? "", activeState: values["ActiveState"] ?? "",
                         unitFileState: values["UnitFileState"] ?? "")
    }

    public func perform(_ verb: UnitVerb, unit: String) throws {
        let tool = try systemctl("\(verb.rawValue) \(unit)")
        let arguments: [String] = switch verb {
        case .disableNow: ["--no-ask-password", "disable", "--now", "--", unit]
        default: ["--no-ask-password", verb.rawValue, "--", unit]
        }
        let result = runner.run(tool, arguments: arguments, timeout: .seconds(120), outputLimit: 64 << 10)
        guard result.termination == .exited(0) else { throw AgentError.remediation("systemctl \(verb.rawValue) \(unit): \(result.failureSummary)") }
    }
}
