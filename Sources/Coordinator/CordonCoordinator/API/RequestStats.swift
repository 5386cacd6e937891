import Hummingbird
import Synchronization

/// How many requests the coordinator answered, by status: the first of the figures `/metrics`
/// will carry, and what the fault tests measure request storms with.
public final class RequestStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var total = 0
        public var byStatus: [Int: Int] = [:]
        public var serverErrors: Int { byStatus.filter { $0.key >= 500 }.values.reduce(0, +) }
        public func count(_ status: Int) -> Int { byStatus[status] ?? 0 }
    }

    private let counts = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { counts.withLock { $0 } }

    func record(status: Int) {
        counts.withLock {
            $0.total += 1
            $0.byStatus[status, default: 0] += 1
        }
    }
}

/// Counts every answer, outermost, so that it sees the status the client gets (an error the
/// inner middleware did not turn into a response is counted as the 500 it becomes), and feeds
/// `/metrics` with the route, method, status and time to the response head.
struct RequestStatsMiddleware: RouterMiddleware {
    typealias Context = CordonRequestContext
    let stats: RequestStats
    let metrics: CoordinatorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let status: Int
        defer {
            stats.record(status: status)
            // A path no route matched is one label value ("NotFound", as Hummingbird names it), not the
            // path the client made up.
            metrics.request(route: context.endpointPath ?? "NotFound", method: request.method.rawValue, status: status,
                            duration: ContinuousClock.now - started)
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            return response
        } catch let error as HTTPResponseError {
            status = error.status.code
            throw error
        } catch {
            status = 500
            throw error
        }
    }
}
