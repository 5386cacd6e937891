/// The process that holds a socket open.
public struct SocketOwner: Codable, Sendable, Equatable {
    public var pid: Int32
    /// `/proc/<pid>/comm`, `nil` when unreadable.
    public var processName: String?
    /// The target of `/proc/<pid>/exe`, `nil` when unreadable (another user's process).
    public var executable: String?

    public init(pid: Int32, processName: String?, executable: String?) {
        self.pid = pid
        self.processName = processName
        self.executable = executable
    }
}
