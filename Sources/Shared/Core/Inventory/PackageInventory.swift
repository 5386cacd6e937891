/// Installed packages of the host, from dpkg's status database and, where `rpm` exists, rpm.
public struct PackageInventory: Codable, Sendable, Equatable {
    /// The packages, in the order the sources listed them (dpkg first, then rpm).
    public var packages: [InstalledPackage]
    /// The sources that were read, e.g. `/var/lib/dpkg/status`, `rpm -qa`.
    public var sources: [String]
    /// `true` when the package count limit cut the list short.
    public var truncated: Bool
    /// Malformed lines or stanzas that were skipped.
    public var skippedLines: Int
    /// What could not be read or was cut, for a human.
    public var notes: [String]

    public init(packages: [InstalledPackage], sources: [String], truncated: Bool, skippedLines: Int, notes: [String]) {
        self.packages = packages
        self.sources = sources
        self.truncated = truncated
        self.skippedLines = skippedLines
        self.notes = notes
    }
}
