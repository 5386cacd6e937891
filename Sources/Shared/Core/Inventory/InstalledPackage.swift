/// One installed (or half-installed, or config-files-only) package.
public struct InstalledPackage: Codable, Sendable, Equatable {
    /// The package manager that reported it.
    public enum Manager: String, Codable, Sendable {
        case dpkg, rpm
    }

    public var name: String
    public var version: String
    public var architecture: String
    /// dpkg's `Status:` field (e.g. `install ok installed`); `installed` for rpm.
    public var status: String
    public var manager: Manager

    public init(name: String, version: String, architecture: String, status: String, manager: Manager) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.status = status
        self.manager = manager
    }
}
