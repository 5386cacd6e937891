import CordonShared
import Foundation

/// Collects installed packages from dpkg's status file and, when `rpm` is on the search path,
/// from `rpm -qa`. Unprivileged: the status file is world-readable, so nothing is lost.
public enum PackageCollector {
    static let dpkgStatusPath = "/var/lib/dpkg/status"

    /// Collects the section below `context.root`. Never throws: what cannot be read makes the
    /// section `unavailable` or is named in its notes.
    public static func collect(_ context: CollectionContext) -> InventorySection<PackageInventory> {
        let limits = context.limits
        var packages: [InstalledPackage] = []
        var sources: [String] = []
        var notes: [String] = []
        var skipped = 0
        var truncated = false

        switch context.fileSystem.read(dpkgStatusPath, maxBytes: limits.maxFileBytes) {
        case .success(let contents):
            sources.append(dpkgStatusPath)
            let lines = TextLines(contents.data, maxLineLength: limits.maxLineLength)
            let parsed = DpkgStatusParser.parse(lines, maxPackages: limits.maxEntries, maxFieldLength: limits.maxFieldLength)
            packages = parsed.packages
            skipped += parsed.skippedLines
            truncated = parsed.truncated
            if contents.truncated {
                truncated = true
                notes.append("\(dpkgStatusPath) is larger than \(limits.maxFileBytes) bytes: only its start was read")
            }
        case .failure(.missing):
            break
        case .failure(let error):
            notes.append("\(dpkgStatusPath): \(error)")
        }

        if let rpm = context.commandRunner.locate("rpm") {
            var arguments = ["-qa", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"]
            if !context.isLiveRoot { arguments = ["--root", context.root] + arguments }
            let result = context.commandRunner.run(
                rpm, arguments: arguments, timeout: limits.commandTimeout, outputLimit: limits.maxCommandOutputBytes
            )
            if result.termination == .exited(0) {
                sources.append("rpm -qa")
                let lines = TextLines(result.standardOutput, maxLineLength: limits.maxLineLength, lossy: true)
                skipped += lines.skipped
                for line in lines.lines {
                    let fields = line.text.split(separator: "\t", omittingEmptySubsequences: false)
                    guard fields.count == 3, !fields[0].isEmpty else {
                        skipped += 1
                        continue
                    }
                    guard packages.count < limits.maxEntries else {
                        truncated = true
                        break
                    }
                    packages.append(InstalledPackage(
                        name: String(fields[0]).bounded(limits.maxFieldLength),
                        version: String(fields[1]).bounded(limits.maxFieldLength),
                        architecture: String(fields[2]).bounded(limits.maxFieldLength),
                        status: "installed", manager: .rpm
                    ))
                }
                if result.outputTruncated {
                    truncated = true
                    notes.append("rpm -qa output cut at \(limits.maxCommandOutputBytes) bytes")
                }
            } else {
                notes.append("rpm -qa failed: \(result.failureSummary)")
            }
        }

        if sources.isEmpty {
            let reason = notes.isEmpty
                ? "no package database: \(dpkgStatusPath) missing and rpm not installed"
                : notes.joined(separator: "; ")
            return .unavailable(reason: reason)
        }
        return .ok(PackageInventory(
            packages: packages, sources: sources, truncated: truncated, skippedLines: skipped, notes: notes
        ))
    }
}
