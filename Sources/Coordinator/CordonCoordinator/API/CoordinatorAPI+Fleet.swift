import CordonShared
import Foundation
import Hummingbird

extension CoordinatorAPI {
    /// Operator routes over what the agents found: hosts, findings, inventories, changes.
    func addFleetRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.hosts)) { request, _ in
            let q = request.uri.queryParameters
            let worm = try q["exposedTo"].map { try Self.worm(String($0)) }
            let segment = q["segment"].map(String.init)
            return try await database.offload { try Response.json(try database.hosts(segment: segment, exposedTo: worm)) }
        }

        group.get(RouterPath(APIPath.findings)) { request, _ in
            let q = request.uri.queryParameters
            var filter = FindingFilter()
            filter.worm = try q["worm"].map { try Self.worm(String($0)) }
            if let kind = q["kind"] {
                guard let parsed = DetectionKind(rawValue: String(kind)) else { throw APIError.badRequest("kind must be exposure or ioc") }
                filter.kind = parsed
            }
            if let source = q["source"] {
                guard let parsed = DetectionSource(rawValue: String(source)) else { throw APIError.badRequest("source must be scan or inventory") }
                filter.source = parsed
            }
            filter.segment = q["segment"].map(String.init)
            filter.agentID = q["agent"].map(String.init)
            switch q["status"].map(String.init) ?? "open" {
            case "open": filter.status = .open
            case "resolved": filter.status = .resolved
            case "all": filter.status = nil
            default: throw APIError.badRequest("status must be open, resolved or all")
            }
            let limit = try request.intQuery("limit")
            if let limit, !(1...10_000_000).contains(limit) { throw APIError.badRequest("'limit' must be 1-10000000, got \(limit)") }
            let chosen = filter
            return try await database.offload { try Response.json(try database.findings(chosen, limit: limit)) }
        }

        group.get(RouterPath(APIPath.inventory + "/:agent")) { _, context in
            let agent = try context.parameters.require("agent")
            guard let view = try await database.offload({ try database.inventory(agentID: agent) }) else {
                throw APIError.notFound("no inventory for agent \(agent) (unknown agent, or none reported yet)")
            }
            return try Response.json(view)
        }

        group.get(RouterPath(APIPath.changes)) { request, _ in
            let q = request.uri.queryParameters
            let since = try request.dateQuery("since")
            let limit = try request.intQuery("limit") ?? 1000
            let segment = q["segment"].map(String.init), agentID = q["agent"].map(String.init)
            return try await database.offload { try Response.json(try database.changes(since: since, segment: segment, agentID: agentID, limit: limit)) }
        }
    }

    static func worm(_ text: String) throws -> Worm {
        guard let worm = Worm(loose: text) else {
            throw APIError.badRequest("unknown worm \(text.prefix(40).debugDescription); known: \(Worm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return worm
    }
}
