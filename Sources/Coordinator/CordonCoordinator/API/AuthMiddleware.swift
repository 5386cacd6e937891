import CordonShared
import HTTPTypes
import Hummingbird
import NIOCore
import NIOSSL
import X509

/// Every route but enrollment needs a client certificate that the coordinator's CA issued
/// (the TLS layer verified the chain), that the coordinator recorded, and that is not revoked.
/// The check runs on every request, so a revocation holds from the next request on, even on
/// a kept-alive connection.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = CordonRequestContext
    let database: CoordinatorDatabase

    static let openPaths: Set<String> = [APIPath.enrollCA, APIPath.enroll]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let peer = try? await context.channel.nioSSL_peerCertificate().get() else {
            throw APIError(.unauthorized, code: APIErrorCode.certificateRequired,
                           "a client certificate issued by this coordinator is required")
        }
        guard let certificate = try? Certificate(derEncoded: peer.toDERBytes()),
              let identity = CordonIdentity(certificate: certificate), identity.role != .coordinator else {
            throw APIError(.forbidden, code: APIErrorCode.forbidden, "the client certificate carries no Cordon agent or operator identity")
        }
        let serial = certificate.serialNumber.hex
        switch try await database.offload({ try database.access(serial: serial, identity: identity) }) {
        case .allowed:
            var context = context
            context.identity = identity
            context.logger[metadataKey: "peer"] = "\(identity)"
            return try await next(request, context)
        case .revoked:
            throw APIError(.forbidden, code: APIErrorCode.revoked, "the certificate of \(identity) has been revoked")
        case .unknownCertificate:
            throw APIError(.forbidden, code: APIErrorCode.forbidden, "the client certificate is not one this coordinator issued or recorded")
        }
    }
}

/// Admits only callers of one role: agent certificates cannot call operator routes and
/// operator certificates cannot pose as agents.
struct RoleMiddleware: RouterMiddleware {
    typealias Context = CordonRequestContext
    let role: CordonIdentity.Role

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let identity = context.identity, identity.role == role else {
            throw APIError(.forbidden, code: APIErrorCode.forbidden, "this route is for \(role.rawValue) certificates only")
        }
        return try await next(request, context)
    }
}

/// Refuses an agent request whose protocol major version this coordinator does not speak.
struct ProtocolVersionMiddleware: RouterMiddleware {
    typealias Context = CordonRequestContext
    /// Agent routes must say their version; operator routes may.
    let required: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let name = HTTPField.Name(ProtocolVersion.headerName), let text = request.headers[name] else {
            if required {
                throw APIError(.badRequest, code: APIErrorCode.unsupportedProtocol,
                               "missing \(ProtocolVersion.headerName) header; this coordinator speaks protocol \(ProtocolVersion.spokenDescription)")
            }
            return try await next(request, context)
        }
        guard let version = ProtocolVersion(text) else {
            throw APIError(.badRequest, code: APIErrorCode.unsupportedProtocol,
                           "\(ProtocolVersion.headerName) \(text.prefix(20).debugDescription) is not MAJOR.MINOR; this coordinator speaks \(ProtocolVersion.spokenDescription)")
        }
        guard version.isSpoken else {
            throw APIError(.badRequest, code: APIErrorCode.unsupportedProtocol,
                           "protocol version \(version) is not spoken here; this coordinator speaks \(ProtocolVersion.spokenDescription)")
        }
        return try await next(request, context)
    }
}
