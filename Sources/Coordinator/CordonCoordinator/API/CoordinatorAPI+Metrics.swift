import CordonShared
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

extension APIPath {
    /// Prometheus' text format: on the mTLS API for operator certificates, and on the optional
    /// plain-HTTP metrics listener (`metricsListen`).
    public static let metrics = "/metrics"
}

extension CoordinatorAPI {
    func addMetricsRoute(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.metrics)) { _, _ in try await metricsResponse() }
    }

    func metricsResponse() async throws -> Response {
        let text = try await metrics.render(database: database, dispatcher: dispatcher, now: now())
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The plain-HTTP listener for Prometheus scrapes (`metricsListen`): `GET /metrics` and
    /// nothing else, no TLS, no client certificate; bind it to 127.0.0.1 (the default) or to an
    /// address only the monitoring network reaches. `onRunning` receives the port bound.
    public func makeMetricsApplication(host: String, port: Int, logger: Logger,
                                       onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        let api = self
        router.get(RouterPath(APIPath.metrics)) { _, _ in try await api.metricsResponse() }
        // SO_REUSEADDR (Hummingbird's default) lets a restarted listener bind its port while old
        // connections linger. On port 0 (any free one) it is left off, so that this plain-HTTP
        // listener never shares a port with a TLS one: Linux may give the same free port to two
        // sockets that both set it.
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: port != 0),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
