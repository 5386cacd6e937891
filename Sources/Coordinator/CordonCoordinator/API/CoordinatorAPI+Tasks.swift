import CordonShared
import Foundation
import Hummingbird
import ServiceLifecycle

extension CoordinatorAPI {
    /// Agent side: the long-poll for the next task and status updates.
    func addAgentTaskRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.nextTask)) { request, context in
            let agent = try agentIdentity(context)
            let asked = try request.secondsQuery("wait") ?? config.longPollTimeout.seconds
            let wait = max(0, min(asked, config.longPollTimeout.seconds))
            let deadline = ContinuousClock.now + .milliseconds(Int64(wait * 1000))
            let polledAt = now()
            var first = pollSightings.due(agent.id)
            while true {
                let asOf = now(), touch = first, looked = ContinuousClock.now
                first = false
                let next = try await database.offload {
                    if touch { try database.touch(agentID: agent.id, now: polledAt) }
                    return try database.nextTaskRunJSON(agentID: agent.id, now: asOf)
                }
                if let signed = next {
                    context.logger.info("task delivered", metadata: ["agent.id": "\(agent.id)"])
                    return Response.jsonBytes(signed)
                }
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero, !Task.isCancelled, !Task.isShuttingDownGracefully else { return Response(status: .noContent) }
                // A coordinator that is stopping answers held polls at once instead of holding
                // its shutdown for up to a poll's length.
                let handed = await cancelWhenGracefulShutdown { await dispatcher.wait(agentID: agent.id, timeout: remaining, lookedAt: looked) }
                // Woken by the stop: answer without another look (the agent polls the restarted
                // coordinator, where anything queued meanwhile still waits).
                if Task.isCancelled || Task.isShuttingDownGracefully { return Response(status: .noContent) }
                // Handed over by the push that queued it: no database read for 10,000 woken polls.
                if let handed {
                    context.logger.info("task delivered", metadata: ["agent.id": "\(agent.id)"])
                    return Response.jsonBytes(handed)
                }
            }
        }

        group.post(RouterPath(APIPath.taskRefusals)) { request, context in
            let agent = try agentIdentity(context)
            var request = request
            let (refusal, _) = try await request.decodeJSON(LocalRefusal.self, limit: 64 << 10)
            guard CordonName.isValid(refusal.id), refusal.id.utf8.count <= 100 else { throw APIError.badRequest("id must be a short name (letters, digits, -)") }
            let refusedAt = now()
            let recorded = try await database.offload { try database.recordLocalRefusal(agentID: agent.id, refusal, now: refusedAt) }
            context.logger.warning("agent refused a task list locally", metadata: ["agent.id": "\(agent.id)", "refusal.id": "\(refusal.id)"])
            return try Response.json(LocalRefusalAck(id: refusal.id, duplicate: !recorded))
        }

        group.post(RouterPath("/v1/tasks/:id/status")) { request, context in
            let agent = try agentIdentity(context)
            let runID = try context.parameters.require("id")
            var request = request
            let (update, _) = try await request.decodeJSON(TaskStatusUpdate.self, limit: 4 << 20)
            let updatedAt = now()
            switch try await database.offload({ try database.updateTaskRun(agentID: agent.id, runID: runID, update: update, now: updatedAt) }) {
            case .accepted(let state):
                context.logger.info("task status", metadata: ["agent.id": "\(agent.id)", "task.id": "\(runID)", "state": "\(state.rawValue)"])
                return try Response.json(TaskStatusAck(taskID: runID, state: state))
            case .conflict(let message):
                throw APIError.conflict(message)
            case .notFound:
                throw APIError.notFound("no task \(runID) for this agent")
            }
        }
    }

    /// Operator side: push, list, show, cancel, approve, and escrowed secrets.
    func addOperatorTaskRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.post(RouterPath(APIPath.tasks)) { request, context in
            var request = request
            let (push, _) = try await request.decodeJSON(TaskPushRequest.self, limit: 1 << 20)
            let actor = context.actor, pushedAt = now()
            let queued = try await database.offload {
                try database.queueTask(push, actor: actor, now: pushedAt) { try SignedTaskList.sign($0, with: keys.taskSigningKey) }
            }
            // The agents' held polls are handed their lists before the (possibly large) answer
            // is built.
            await dispatcher.deliver(queued.lists)
            return try await database.offload {
                guard let view = try database.task(id: queued.taskID) else { throw CoordinatorError.storage("task \(queued.taskID) vanished") }
                return try Response.json(view, status: .created)
            }
        }

        group.get(RouterPath(APIPath.tasks)) { request, _ in
            let q = request.uri.queryParameters
            let limit = try request.intQuery("limit") ?? 100
            let agentID = q["agent"].map(String.init), segment = q["segment"].map(String.init), asOf = now()
            return try await database.offload {
                try database.expireOverdueTasks(now: asOf)
                return try Response.json(try database.tasks(agentID: agentID, segment: segment, limit: limit))
            }
        }

        group.get(RouterPath(APIPath.tasks + "/:id")) { _, context in
            let id = try context.parameters.require("id")
            // A question about an unknown task changes nothing: look first, expire after.
            let asOf = now()
            return try await database.offload {
                guard try database.task(id: id) != nil else { throw APIError.notFound("no task \(id)") }
                try database.expireOverdueTasks(now: asOf)
                guard let view = try database.task(id: id) else { throw APIError.notFound("no task \(id)") }
                return try Response.json(view)
            }
        }

        group.post(RouterPath(APIPath.tasks + "/:id/cancel")) { _, context in
            let id = try context.parameters.require("id")
            let actor = context.actor, cancelledAt = now()
            return try await database.offload { try Response.json(try database.cancelTask(id: id, actor: actor, now: cancelledAt)) }
        }

        group.post(RouterPath(APIPath.tasks + "/:id/approve")) { _, context in
            let id = try context.parameters.require("id")
            let actor = context.actor, approvedAt = now()
            let view = try await database.offload {
                try database.approveTask(id: id, actor: actor, now: approvedAt) { try SignedTaskList.sign($0, with: keys.taskSigningKey) }
            }
            await dispatcher.notify(view.runs.filter { $0.state == .queued }.map(\.agentID))
            return try Response.json(view)
        }

        /// The signed lists of a task, for agents that cannot reach the coordinator
        /// (`cordon tasks export`, then `cordon-agent apply` on the jump host).
        group.get(RouterPath(APIPath.tasks + "/:id/signed")) { _, context in
            let id = try context.parameters.require("id")
            let actor = context.actor, exportedAt = now()
            return try await database.offload {
                let lists = try database.signedLists(taskID: id)
                guard !lists.isEmpty else { throw APIError.notFound("task \(id) has no signed lists (unknown, or awaiting approval)") }
                try database.appendAudit(actor: actor, action: "task.export", target: "task:\(id)", detail: "\(lists.count) signed list(s)", now: exportedAt)
                return try Response.json(lists)
            }
        }

        group.get(RouterPath(APIPath.secrets)) { request, context in
            let q = request.uri.queryParameters
            guard let agent = q["agent"].map(String.init), let user = q["user"].map(String.init) else {
                throw APIError.badRequest("give agent and user")
            }
            guard TaskAction.isAccountName(user) else { throw APIError.badRequest("user is not a valid account name") }
            let escrowKey = try secretsKey()
            let actor = context.actor, readAt = now()
            let found = try await database.offload { try database.escrowedSecrets(agentID: agent, user: user, actor: actor, now: readAt) }
            var views: [SecretView] = []
            var unreadable: [String] = []
            for (secret, runID) in zip(found.secrets, found.runIDs) {
                // One sealed value that does not open (the agent sent junk of the right shape) must
                // not hide the genuine ones: it is left out and logged.
                do {
                    let password = try Escrow.open(secret, agentID: agent, with: escrowKey)
                    views.append(SecretView(agentID: agent, hostName: found.hostName, user: user, rotatedAt: secret.rotatedAt, taskRunID: runID, password: password))
                } catch {
                    unreadable.append(runID)
                    context.logger.error("an escrowed secret does not open with this coordinator's escrow key",
                                         metadata: ["agent.id": "\(agent)", "user": "\(user)", "run": "\(runID)", "error": "\(error)"])
                }
            }
            guard !views.isEmpty else {
                throw APIError.conflict(
                    "the \(unreadable.count) escrowed password(s) of \(user) on \(agent) do not open with this coordinator's escrow key (runs \(unreadable.joined(separator: ", ")))")
            }
            context.logger.notice("escrowed secret read", metadata: ["agent.id": "\(agent)", "user": "\(user)", "by": "\(context.actor)"])
            return try Response.json(views)
        }
    }
}

extension CoordinatorAPI {
    func addPlanRoutes(to group: RouterGroup<CordonRequestContext>) {
        group.get(RouterPath(APIPath.plan)) { request, _ in
            guard let segment = request.uri.queryParameters["segment"].map(String.init) else { throw APIError.badRequest("give segment") }
            let asOf = now()
            return try await database.offload {
                let agents = try database.agentSummaries(now: asOf).filter { $0.segment == segment && $0.revokedAt == nil }
                guard !agents.isEmpty else { throw APIError.notFound("segment \(segment) has no enrolled, unrevoked agents") }
                let jumpHosts = try agents.map { agent in
                    let facts = try database.agentDetail(id: agent.id, now: asOf)?.facts
                    return RemediationPlanner.JumpHost(agentID: agent.id, hostName: agent.hostname, inventory: try database.inventory(agentID: agent.id)?.inventory,
                                                       policy: facts?.policy, policyNote: facts?.policyError.map { "its policy file is invalid: \($0)" })
                }
                let plan = RemediationPlanner.plan(segment: segment, jumpHosts: jumpHosts, findings: try database.findings(FindingFilter(segment: segment)),
                                                   hosts: try database.hosts(segment: segment), now: asOf)
                return try Response.json(plan)
            }
        }
    }
}
