/// The error type of the agent module.
public struct AgentError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case config
        case notEnrolled
        case alreadyEnrolled
        case fingerprintMismatch
        case enrollment
        case state
        case spool
        /// A remediation action could not be carried out (a tool failed, the system lacks a facility).
        case remediation
    }

    private let code: Code
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

    public static func config(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.config, r, file: file, line: line) }
    public static func notEnrolled(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.notEnrolled, r, file: file, line: line) }
    public static func alreadyEnrolled(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.alreadyEnrolled, r, file: file, line: line) }
    public static func fingerprintMismatch(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.fingerprintMismatch, r, file: file, line: line) }
    public static func enrollment(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.enrollment, r, file: file, line: line) }
    public static func state(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.state, r, file: file, line: line) }
    public static func spool(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.spool, r, file: file, line: line) }
    public static func remediation(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.remediation, r, file: file, line: line) }

    public static let config = config("")
    public static let notEnrolled = notEnrolled("")
    public static let alreadyEnrolled = alreadyEnrolled("")
    public static let fingerprintMismatch = fingerprintMismatch("")
    public static let enrollment = enrollment("")
    public static let state = state("")
    public static let spool = spool("")
    public static let remediation = remediation("")
}
