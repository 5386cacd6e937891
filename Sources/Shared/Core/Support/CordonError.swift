/// The error type of the `CordonShared` module.
///
/// Equality is by code only, like swift-certificates' `CertificateError`: the reason and
/// location help a person, the code helps a program.
public struct CordonError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case invalidArgument
        case invalidCertificate
        case invalidKey
        case invalidSignature
        case fileExists
        case io
        case decoding
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

    public static func invalidArgument(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.invalidArgument, reason, file: file, line: line)
    }
    public static func invalidCertificate(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.invalidCertificate, reason, file: file, line: line)
    }
    public static func invalidKey(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.invalidKey, reason, file: file, line: line)
    }
    public static func invalidSignature(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.invalidSignature, reason, file: file, line: line)
    }
    public static func fileExists(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.fileExists, reason, file: file, line: line)
    }
    public static func io(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.io, reason, file: file, line: line)
    }
    public static func decoding(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.decoding, reason, file: file, line: line)
    }

    // Codes, for matching with `==` in callers and tests.
    public static let invalidArgument = invalidArgument("")
    public static let invalidCertificate = invalidCertificate("")
    public static let invalidKey = invalidKey("")
    public static let invalidSignature = invalidSignature("")
    public static let fileExists = fileExists("")
    public static let io = io("")
    public static let decoding = decoding("")
}
