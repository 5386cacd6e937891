/// The body of every error response: a stable machine code and a sentence for a person.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}

/// The error codes the coordinator answers with.
public enum APIErrorCode {
    public static let badRequest = "bad_request"
    public static let tooLarge = "body_too_large"
    /// 413: a report carries more hosts, services or findings than ``ReportLimits`` allow.
    public static let reportTooLarge = "report_too_large"
    public static let unsupportedProtocol = "unsupported_protocol_version"
    /// 415: a request body in a content encoding the coordinator does not take (only gzip).
    public static let unsupportedEncoding = "unsupported_content_encoding"
    public static let certificateRequired = "client_certificate_required"
    public static let forbidden = "forbidden"
    public static let revoked = "certificate_revoked"
    public static let invalidToken = "invalid_token"
    public static let notFound = "not_found"
    public static let conflict = "conflict"
    public static let internalError = "internal_error"
    /// 503: the coordinator cannot write (disk full or failing); nothing was stored.
    public static let storageUnavailable = "storage_unavailable"
    /// 503: too many reports are being stored at once; nothing was read; send it again later.
    public static let busy = "busy"
}
