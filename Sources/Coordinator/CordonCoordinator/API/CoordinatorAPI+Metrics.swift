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
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
