/// The error type of the coordinator module.
public struct CoordinatorError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case config
        case stateDir
        case storage
        case storageFull
        case token
        case notFound
        case conflict
        case forbidden
        case api
        case transport
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
    public static func stateDir(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.stateDir, r, file: file, line: line) }
    public static func storage(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.storage, r, file: file, line: line) }
    /// The database could not write: the disk is full or failing. Nothing was stored.
    public static func storageFull(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.storageFull, r, file: file, line: line) }
    public static func token(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.token, r, file: file, line: line) }
    public static func notFound(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.notFound, r, file: file, line: line) }
    public static func conflict(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.conflict, r, file: file, line: line) }
    public static func forbidden(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.forbidden, r, file: file, line: line) }
    /// An error the coordinator's API answered with (status and code in the reason).
    public static func api(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.api, r, file: file, line: line) }
    public static func transport(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.transport, r, file: file, line: line) }

    public static let config = config("")
    public static let stateDir = stateDir("")
    public static let storage = storage("")
    public static let storageFull = storageFull("")
    public static let token = token("")
    public static let notFound = notFound("")
    public static let conflict = conflict("")
    public static let forbidden = forbidden("")
    public static let api = api("")
    public static let transport = transport("")
}
