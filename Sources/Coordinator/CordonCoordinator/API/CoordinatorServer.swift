import CordonShared
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// Builds the coordinator's HTTPS application: Hummingbird over TLS with optional client
/// certificates (enrollment needs none; `AuthMiddleware` demands one everywhere else),
/// trusting only the coordinator's own CA.
public enum CoordinatorServer {
    public typealias App = Application<RouterResponder<CordonRequestContext>>

    /// The TLS configuration: the server certificate (with the CA in its chain) and the CA as
    /// the only trust root for client certificates.
    public static func tlsConfiguration(stateDir: CoordinatorStateDir) throws -> TLSConfiguration {
        do {
            let server = try NIOSSLCertificate.fromPEMFile(stateDir.serverCertificate)
            let ca = try NIOSSLCertificate.fromPEMFile(stateDir.caCertificate)
            let key = try NIOSSLPrivateKey(file: stateDir.serverKey, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: (server + ca).map { .certificate($0) }, privateKey: .privateKey(key))
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates(ca)
            tls.minimumTLSVersion = .tlsv12
            // How long a closing connection waits for the client's close_notify before it is cut
            // (NIOSSL's default is 5 s). A stopping coordinator waits for every connection to
            // close, so under a fleet of long-polling agents this was the whole of a restart's
            // stop time; a client that has not answered in a second is not going to.
            tls.shutdownTimeout = .seconds(1)
            return tls
        } catch {
            throw CoordinatorError.stateDir("cannot load the TLS identity from \(stateDir.path): \(error)")
        }
    }

    /// The application, ready to run as a ServiceLifecycle service. `onRunning` receives the
    /// port actually bound (useful with port 0).
    public static func makeApplication(api: CoordinatorAPI, stateDir: CoordinatorStateDir, logger: Logger,
                                       onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> App {
        let tls = try tlsConfiguration(stateDir: stateDir)
        let config = api.config
        let openFiles = ConnectionGate.raiseOpenFilesLimit()
        let gate = ConnectionGate(maxConnections: config.maxConnections > 0 ? config.maxConnections : ConnectionGate.connectionCap(openFilesLimit: openFiles),
                                  maxHandshakesPerAddress: config.maxHandshakesPerAddress,
                                  handshakeTimeout: .nanoseconds(Int64(config.handshakeTimeout.seconds * 1e9)))
        api.metrics.attach(gate)
        // One long-poll connection per agent, and a second while it reports: a cap below twice
        // the enrolled fleet refuses agents once they are all connected.
        if let agents = try? api.database.activeAgentCount(), gate.maxConnections < 2 * agents {
            logger.warning("the connection cap is below twice the enrolled agents: raise LimitNOFILE (systemd) or ulimit -n", metadata: [
                "max-connections": "\(gate.maxConnections)", "agents": "\(agents)", "open-files": "\(openFiles)",
            ])
        }
        logger.info("connection limits", metadata: [
            "open-files": "\(openFiles)", "max-connections": "\(gate.maxConnections)",
            "handshake-timeout": "\(config.handshakeTimeout.seconds)s", "idle-timeout": "\(config.idleTimeout.seconds)s",
        ])
        let http = HTTP1Channel.Configuration(idleTimeout: TimeAmount.nanoseconds(Int64(config.idleTimeout.seconds * 1e9)))
        let server = HTTPServerBuilder { responder in
            GuardedChannel(base: try TLSChannel(HTTP1Channel(responder: responder, configuration: http), tlsConfiguration: tls), gate: gate)
        }
        return Application(
            router: api.makeRouter(),
            server: server,
            configuration: .init(address: .hostname(api.config.listen.host, port: api.config.listen.port), serverName: nil),
            onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? api.config.listen.port)
            },
            logger: logger
        )
    }
}
