import CordonShared
import Hummingbird
import NIOCore

/// The request context of the coordinator's API: the connection (for the TLS peer
/// certificate) and, once `AuthMiddleware` has run, who is asking.
public struct CordonRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// Set by `AuthMiddleware` from the verified client certificate.
    public var identity: CordonIdentity?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.identity = nil
    }

    /// The caller as the audit log names it.
    public var actor: String { identity?.description ?? "anonymous" }
}
