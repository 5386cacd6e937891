import CordonShared

/// The error type of the transport module: the coordinator could not be reached, or it
/// answered with an error.
public struct TransportError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case unreachable
        case refused
        case badResponse
        case tls
    }

    private let code: Code
    public let reason: String
    /// The HTTP status the coordinator answered with, when it answered.
    public let status: Int?
    /// The coordinator's error body, when it sent one.
    public let body: APIErrorBody?
    public let file: String
    public let line: Int

    private init(_ code: Code, _ reason: String, status: Int? = nil, body: APIErrorBody? = nil, file: String, line: Int) {
        self.code = code
        self.reason = reason
        self.status = status
        self.body = body
        self.file = file
        self.line = line
    }

    public var description: String { reason }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// No answer: connection refused, timeout, DNS, TLS handshake failure.
    public static func unreachable(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.unreachable, r, file: file, line: line) }
    /// The coordinator answered with an error status.
    public static func refused(status: Int, body: APIErrorBody?, _ r: String, file: String = #fileID, line: Int = #line) -> Self {
        .init(.refused, r, status: status, body: body, file: file, line: line)
    }
    public static func badResponse(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.badResponse, r, file: file, line: line) }
    /// Local TLS material is missing or unusable, or the peer failed verification.
    public static func tls(_ r: String, file: String = #fileID, line: Int = #line) -> Self { .init(.tls, r, file: file, line: line) }

    public static let unreachable = unreachable("")
    public static let refused = refused(status: 0, body: nil, "")
    public static let badResponse = badResponse("")
    public static let tls = tls("")

    /// True when trying again later may help (no answer, or a server-side error).
    public var isTransient: Bool {
        switch code {
        case .unreachable: true
        case .refused: (status ?? 0) >= 500 || status == 429 || status == 503
        case .badResponse, .tls: false
        }
    }
}
