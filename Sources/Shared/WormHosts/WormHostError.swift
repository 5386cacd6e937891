/// The error type of the `CordonWormHosts` module.
///
/// Equality is by code only (like swift-certificates' `CertificateError`): the reason and the
/// location are for a person, the code is for a program.
public struct WormHostError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case invalidSpec
        case permissionDenied
        case addressInUse
        case addressNotAvailable
        case bindFailed
        case stopped
    }

    private let code: Code
    /// What went wrong, for a person.
    public let reason: String
    public let file: String
    public let line: Int

    private init(_ code: Code, _ reason: String, file: String, line: Int) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { reason }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// A host specification, profile name or address that cannot be used.
    public static func invalidSpec(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.invalidSpec, reason, file: file, line: line)
    }
    /// Binding a port below 1024 without root or CAP_NET_BIND_SERVICE (EACCES).
    public static func permissionDenied(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.permissionDenied, reason, file: file, line: line)
    }
    /// Something else already listens on that address and port (EADDRINUSE).
    public static func addressInUse(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.addressInUse, reason, file: file, line: line)
    }
    /// The address is not configured on any interface of this network namespace (EADDRNOTAVAIL).
    public static func addressNotAvailable(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.addressNotAvailable, reason, file: file, line: line)
    }
    /// Any other bind failure.
    public static func bindFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.bindFailed, reason, file: file, line: line)
    }
    /// The fleet was stopped while it was starting.
    public static func stopped(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.stopped, reason, file: file, line: line)
    }

    // Codes, for matching with `==`.
    public static let invalidSpec = invalidSpec("")
    public static let permissionDenied = permissionDenied("")
    public static let addressInUse = addressInUse("")
    public static let addressNotAvailable = addressNotAvailable("")
    public static let bindFailed = bindFailed("")
    public static let stopped = stopped("")
}
