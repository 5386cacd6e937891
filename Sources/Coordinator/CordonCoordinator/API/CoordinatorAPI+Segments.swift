import CordonShared
import Foundation
import Hummingbird

extension CoordinatorAPI {
    func addSegmentRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.segments)) { _, _ in
            try await database.offload { try Response.json(try database.segments()) }
        }

        group.put(RouterPath(APIPath.segments + "/:name")) { request, context in
            let name = try context.parameters.require("name")
            var request = request
            let (body, _) = try await request.decodeJSON(SegmentScopeRequest.self, limit: 64 * 1024)
            let actor = context.actor, setAt = now()
            return try await database.offload { try Response.json(try database.setSegmentScope(name: name, scope: body.scope, actor: actor, now: setAt)) }
        }
    }
}
