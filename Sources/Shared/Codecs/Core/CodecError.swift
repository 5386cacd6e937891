/// The one error type of `CordonCodecs`.
///
/// Thrown by the low-level parsers when bytes from the network are malformed, truncated or out of
/// bounds, and by the builders when they are handed arguments they cannot encode. Expected outcomes
/// of a probe ("SMBv1 disabled", "patched") are never errors: they are result enums.
///
/// Two errors are equal when they have the same code; the reason and the source location are for
/// people reading logs.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case truncated
        case outOfBounds
        case invalidValue
        case unexpectedMessage
        case tooLarge
        case invalidArgument
    }

    private let code: Code
    /// What went wrong, for a log line.
    public let reason: String
    /// Where the error was raised (`#fileID`).
    public let file: String
    /// Where the error was raised (`#line`).
    public let line: Int

    private init(_ code: Code, _ reason: String, _ file: String, _ line: Int) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// The input ended before a field it declares.
    public static func truncated(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.truncated, reason, file, line)
    }

    /// A length, offset or count points outside the message or past a limit.
    public static func outOfBounds(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.outOfBounds, reason, file, line)
    }

    /// A field holds a value the protocol does not allow here.
    public static func invalidValue(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.invalidValue, reason, file, line)
    }

    /// A well-formed message of a kind that does not belong at this point of the exchange.
    public static func unexpectedMessage(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.unexpectedMessage, reason, file, line)
    }

    /// A frame, head or message is larger than the configured maximum.
    public static func tooLarge(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.tooLarge, reason, file, line)
    }

    /// A builder was handed an argument it cannot encode safely.
    public static func invalidArgument(_ reason: String = "", file: String = #fileID, line: Int = #line) -> CodecError {
        CodecError(.invalidArgument, reason, file, line)
    }

    public static func == (lhs: CodecError, rhs: CodecError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        "CodecError.\(code)(\(reason)) at \(file):\(line)"
    }
}
