import CordonShared
import CordonTransport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// An error the API answers with: a status and a JSON ``APIErrorBody``.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Seconds for a Retry-After header (503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? CordonJSON.encode(APIErrorBody(error: code, message: message))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func badRequest(_ message: String) -> APIError { .init(.badRequest, code: APIErrorCode.badRequest, message) }
    public static func notFound(_ message: String) -> APIError { .init(.notFound, code: APIErrorCode.notFound, message) }
    public static func forbidden(_ message: String) -> APIError { .init(.forbidden, code: APIErrorCode.forbidden, message) }
    public static func conflict(_ message: String) -> APIError { .init(.conflict, code: APIErrorCode.conflict, message) }
}

/// Turns every error into a JSON error response. Client mistakes were already mapped to 4xx
/// by the handlers; anything else is the coordinator's fault: a 500 that is logged with its
/// cause and says nothing about internals to the client.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = CordonRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try APIError(.contentTooLarge, code: APIErrorCode.tooLarge, "request body larger than this coordinator accepts")
                .response(from: request, context: context)
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .contentTooLarge: code = APIErrorCode.tooLarge
            case .notFound: code = APIErrorCode.notFound
            case .methodNotAllowed: code = APIErrorCode.badRequest
            default: code = error.status.code < 500 ? APIErrorCode.badRequest : APIErrorCode.internalError
            }
            let message = error.body ?? (error.status == .contentTooLarge ? "request body too large" : error.status.reasonPhrase)
            return try APIError(error.status, code: code, message).response(from: request, context: context)
        } catch let error as CoordinatorError where error == .notFound {
            return try APIError.notFound(error.reason).response(from: request, context: context)
        } catch let error as CoordinatorError where error == .conflict {
            return try APIError.conflict(error.reason).response(from: request, context: context)
        } catch let error as CoordinatorError where error == .forbidden {
            return try APIError.forbidden(error.reason).response(from: request, context: context)
        } catch let error as CordonError where error == .invalidArgument {
            return try APIError.badRequest(error.reason).response(from: request, context: context)
        } catch let error as CoordinatorError where error == .token {
            return try APIError.badRequest(error.reason).response(from: request, context: context)
        } catch let error as CoordinatorError where error == .storageFull {
            // Nothing was stored (the transaction rolled back): the client keeps what it sent
            // and tries again later. Agents back off with jitter, so the retries do not come at once.
            context.logger.critical("cannot write: the coordinator's disk is full or failing",
                                    metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(.serviceUnavailable, code: APIErrorCode.storageUnavailable,
                                "the coordinator cannot store this now: its disk is full or failing (\(error.reason)); nothing was stored, retry later",
                                retryAfter: 60).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(.internalServerError, code: APIErrorCode.internalError, "internal error; see the coordinator's log")
                .response(from: request, context: context)
        }
    }
}

extension Request {
    /// Collects the body up to `limit` bytes (413 beyond) and decodes it as `T` (400 with the
    /// field and the problem when it does not decode).
    ///
    /// A body sent with `Content-Encoding: gzip` is inflated first, to at most `limit` bytes
    /// too: a decompression bomb gets the same 413 as an oversized body, and nothing is stored.
    mutating func decodeJSON<T: Decodable & Sendable>(_ type: T.Type, limit: Int) async throws -> (T, Data) {
        let buffer = try await collectBody(upTo: limit)
        let encoding = headers[.contentEncoding]?.lowercased().trimmingCharacters(in: .whitespaces)
        // A large body (a full report: 100 KB and more, inflated and decoded in milliseconds) is
        // decoded on the ingest threads, so that a burst of reports holds neither Swift's
        // cooperative threads, which answer every other request, nor the storage threads.
        if buffer.readableBytes > Self.offloadedBodySize || encoding == BodyEncoding.gzip {
            return try await CoordinatorDatabase.ingestThreads.runIfActive { try Self.decodeBody(type, buffer, encoding: encoding, limit: limit) }
        }
        return try Self.decodeBody(type, buffer, encoding: encoding, limit: limit)
    }

    /// Bodies larger than this are decoded off the cooperative pool.
    static let offloadedBodySize = 16 << 10

    private static func decodeBody<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, encoding: String?, limit: Int) throws -> (T, Data) {
        var buffer = body
        switch encoding {
        case nil, "", "identity":
            break
        case BodyEncoding.gzip:
            do {
                buffer = try BodyEncoding.inflate(buffer, limit: limit)
            } catch .tooLarge {
                throw APIError(.contentTooLarge, code: APIErrorCode.tooLarge, "the gzip body inflates to more than \(limit) bytes")
            } catch .corrupt {
                throw APIError.badRequest("the body is not a complete gzip stream (Content-Encoding: gzip)")
            }
        case let other?:
            throw APIError(.unsupportedMediaType, code: APIErrorCode.unsupportedEncoding,
                           "Content-Encoding \(Terminal.sanitize(other, limit: 40).debugDescription) is not supported; send gzip or no encoding")
        }
        let data = Data(buffer: buffer)
        do {
            // Dates outside 1970-2199 are refused here, naming the field: one agent's year 10000 once
            // made every later read of the agents table fail.
            return (try CordonJSON.decode(type, from: data, dateWindow: CordonJSON.networkDateWindow), data)
        } catch {
            throw APIError.badRequest("invalid request body: \(CordonJSON.describe(error, body: data))")
        }
    }
}

extension Response {
    /// A response whose body is JSON already encoded (a stored signed task list, as is).
    static func jsonBytes(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON response with Cordon's encoding.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try CordonJSON.encode(value))))
    }
}
