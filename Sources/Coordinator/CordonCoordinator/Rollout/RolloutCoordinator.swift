import CordonShared
import CordonTransport
import Foundation

/// What the rollout asks of the coordinator: segment scopes, enrollment tokens, the fleet.
/// Behind a protocol so that the engine runs against a fake in tests.
public protocol RolloutCoordinator: Sendable {
    func segments() async throws -> [SegmentView]
    func setScope(segment: String, scope: [String]) async throws
    /// A single-use token for `segment`, valid for `ttl` seconds.
    func createToken(segment: String, ttl: Double) async throws -> String
    func fleet() async throws -> FleetStatus
}

/// The coordinator's operator API (mutual TLS, the operator's profile).
public struct HTTPRolloutCoordinator: RolloutCoordinator {
    public let client: CordonHTTPClient

    public init(client: CordonHTTPClient) { self.client = client }

    public func segments() async throws -> [SegmentView] { try await client.get(APIPath.segments) }

    public func setScope(segment: String, scope: [String]) async throws {
        let path = APIPath.segments + "/" + (segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_."))) ?? segment)
        let _: SegmentView = try await client.put(path, body: SegmentScopeRequest(scope: scope))
    }

    public func createToken(segment: String, ttl: Double) async throws -> String {
        let response: TokenCreateResponse = try await client.post(APIPath.tokens, body: TokenCreateRequest(segment: segment, ttlSeconds: ttl, uses: 1))
        return response.token
    }

    public func fleet() async throws -> FleetStatus { try await client.get(APIPath.status) }
}

/// A one-line description of a coordinator error for a host's row.
func describeCoordinatorError(_ error: any Error) -> String {
    if let error = error as? TransportError { return "coordinator: \(error.reason)" }
    if let error = error as? CordonError { return error.reason }
    if let error = error as? CoordinatorError { return error.reason }
    return "coordinator: \(error)"
}
