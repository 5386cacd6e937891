import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything a collector needs to know about where and when it runs.
///
/// Collectors read only below `root` (symbolic links are resolved as if `root` were `/`), never
/// run a subprocess without `limits.commandTimeout` and `limits.maxCommandOutputBytes`, and take
/// the time from `now`, so that a fixture tree gives the same report on every run.
public struct CollectionContext: Sendable {
    /// Where the journal of failed logons comes from when there is no auth.log.
    public enum JournalSource: Sendable, Equatable {
        /// Run `journalctl -o json` (with `--directory=<root>/var/log/journal` when root is not `/`).
        case journalctl
        /// A file of `journalctl -o json` output, as a path on the host (tests).
        case file(String)
        /// Do not read a journal.
        case none
    }

    /// Where the nftables ruleset comes from.
    public enum RulesetSource: Sendable, Equatable {
        /// Run `nft -j list ruleset` (only when root is `/`: the ruleset belongs to the live kernel).
        case nft
        /// A file of `nft -j list ruleset` output, as a path on the host (tests).
        case file(String)
    }

    /// The directory that stands for `/`. Default `/`.
    public var root: String
    /// The collection time; ages and windows are measured from it.
    public var now: Date
    public var limits: InventoryLimits
    /// Whether the agent runs as root (effective UID 0); collectors say what they skipped when not.
    public var isRoot: Bool
    /// The time zone of year-less syslog timestamps.
    public var timeZone: TimeZone
    /// How far back failed logons are counted. Default 24 hours.
    public var failedLogonWindow: TimeInterval
    public var journal: JournalSource
    public var ruleset: RulesetSource
    /// Runs rpm, journalctl and nft.
    public var commandRunner: any InventoryCommandRunner

    public init(
        root: String = "/",
        now: Date = Date(),
        limits: InventoryLimits = .standard,
        isRoot: Bool = geteuid() == 0,
        timeZone: TimeZone = .current,
        failedLogonWindow: TimeInterval = 24 * 3600,
        journal: JournalSource = .journalctl,
        ruleset: RulesetSource = .nft,
        commandRunner: any InventoryCommandRunner = BoundedProcessRunner()
    ) {
        self.root = root
        self.now = now
        self.limits = limits
        self.isRoot = isRoot
        self.timeZone = timeZone
        self.failedLogonWindow = failedLogonWindow
        self.journal = journal
        self.ruleset = ruleset
        self.commandRunner = commandRunner
    }

    /// The bounded, root-confined view of the file system that collectors read through.
    var fileSystem: RootedFileSystem { RootedFileSystem(root: root) }

    /// `true` when the root is the live system's `/`.
    var isLiveRoot: Bool { RootedFileSystem.normalizedRoot(root) == "/" }
}
