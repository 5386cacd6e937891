import CordonShared
import Foundation
import Hummingbird

extension CoordinatorAPI {
    func addOperatorRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.status)) { request, _ in
            // `agents=attention`: only late and offline agents (at most `limit`), for fleets whose
            // every agent would not fit a screen; the default lists every agent.
            // A bad limit is refused whatever `agents` says (it is only used with attention).
            let limit = try request.intQuery("limit") ?? 100
            guard (0...10_000).contains(limit) else { throw APIError.badRequest("'limit' must be 0-10000, got \(limit)") }
            let listing: AgentListing
            switch request.uri.queryParameters["agents"].map(String.init) {
            case nil, "all": listing = .all
            case "attention": listing = .attention(limit: limit)
            case let other?: throw APIError.badRequest("'agents' must be all or attention, got \(Terminal.sanitize(other, limit: 40).debugDescription)")
            }
            let asOf = now(), chosen = listing
            return try await database.offload { try Response.json(try database.fleetStatus(now: asOf, agents: chosen)) }
        }

        group.get(RouterPath(APIPath.agents)) { request, _ in
            let asOf = now(), segment = request.uri.queryParameters["segment"].map(String.init)
            return try await database.offload {
                var agents = try database.agentSummaries(now: asOf)
                if let segment { agents = agents.filter { $0.segment == segment } }
                return try Response.json(agents)
            }
        }

        group.get(RouterPath(APIPath.agents + "/:id")) { _, context in
            let id = try context.parameters.require("id")
            let asOf = now()
            guard let detail = try await database.offload({ try database.agentDetail(id: id, now: asOf) }) else { throw APIError.notFound("no agent with ID \(id)") }
            return try Response.json(detail)
        }

        group.post(RouterPath(APIPath.agents + "/:id/revoke")) { _, context in
            let id = try context.parameters.require("id")
            let actor = context.actor, revokedAt = now()
            let result = try await database.offload { try database.revokeAgent(id: id, actor: actor, now: revokedAt) }
            context.logger.notice("agent revoked", metadata: ["agent.id": "\(id)", "by": "\(context.actor)"])
            return try Response.json(result)
        }

        group.post(RouterPath(APIPath.tokens)) { request, context in
            var request = request
            let (body, _) = try await request.decodeJSON(TokenCreateRequest.self, limit: 64 * 1024)
            let actor = context.actor, createdAt = now()
            let token = try await database.offload { try database.createToken(segment: body.segment, ttl: body.ttlSeconds, uses: body.uses, actor: actor, now: createdAt) }
            return try Response.json(TokenCreateResponse(token: token.token, segment: token.segment, expiresAt: token.expiresAt, uses: token.uses),
                                     status: .created)
        }

        group.get(RouterPath(APIPath.audit)) { request, _ in
            let limit = try request.intQuery("limit") ?? 200
            let since = try request.dateQuery("since")
            return try await database.offload { try Response.json(try database.auditEntries(since: since, limit: limit)) }
        }
    }
}
