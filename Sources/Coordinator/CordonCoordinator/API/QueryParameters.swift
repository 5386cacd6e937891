import CordonShared
import Foundation
import Hummingbird

/// Typed query parameters: absent is nil, and a value that does not parse is a 400 that names
/// the parameter (never silently taken as absent: `?since=yesterday` must not return everything).
extension Request {
    func intQuery(_ name: String) throws -> Int? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = Int(text) else { throw APIError.badRequest("'\(name)' must be an integer, got \(Self.quoted(text))") }
        return value
    }

    func secondsQuery(_ name: String) throws -> Double? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = Double(text), value.isFinite else { throw APIError.badRequest("'\(name)' must be a number of seconds, got \(Self.quoted(text))") }
        return value
    }

    func dateQuery(_ name: String) throws -> Date? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = CordonTime.parse(text) else {
            throw APIError.badRequest("'\(name)' must be an ISO 8601 time like 2026-01-31T12:00:00Z, got \(Self.quoted(text))")
        }
        return value
    }

    private static func quoted(_ text: String) -> String { Terminal.sanitize(text, limit: 40).debugDescription }
}
