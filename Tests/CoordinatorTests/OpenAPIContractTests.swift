@testable import CordonCoordinator
import CordonShared
import Foundation
import Hummingbird
import Testing
import Yams

/// Deploy/openapi.yaml describes every route the coordinator serves, and nothing else: the
/// paths and methods of the router `cordon serve` runs (`CoordinatorAPI.makeRouter()`) and of
/// the document must be the same set. (scripts/api-fuzz checks the rest of the document against
/// a live coordinator.)
@Suite struct OpenAPIContractTests {
    /// `METHOD /path/{param}`, with Hummingbird's `:param` written as OpenAPI's `{param}`.
    static func normalise(method: String, path: String) -> String {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map { component -> String in
            component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
        }
        return "\(method.uppercased()) /\(components.joined(separator: "/"))"
    }

    static var documentPath: String {
        // Tests/CoordinatorTests/OpenAPIContractTests.swift -> the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Deploy/openapi.yaml").path
    }

    static func documentRoutes() throws -> Set<String> {
        let text = try String(contentsOfFile: documentPath, encoding: .utf8)
        guard let document = try Yams.load(yaml: text) as? [String: Any], let paths = document["paths"] as? [String: Any] else {
            Issue.record("\(documentPath) has no `paths` mapping")
            return []
        }
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var routes = Set<String>()
        for (path, item) in paths {
            guard let operations = item as? [String: Any] else {
                Issue.record("paths.\(path) in \(documentPath) is not a mapping")
                continue
            }
            for key in operations.keys where methods.contains(key.lowercased()) {
                routes.insert(normalise(method: key, path: path))
            }
        }
        return routes
    }

    static func serverRoutes() throws -> Set<String> {
        let root = NSTemporaryDirectory() + "cordon-openapi-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stateDir = CoordinatorStateDir(root)
        _ = try stateDir.initialize(name: "127.0.0.1", extraNames: [])
        let api = CoordinatorAPI(database: try CoordinatorDatabase.inMemory(), ca: try stateDir.loadCA(), keys: try stateDir.loadKeys(),
                                 config: CoordinatorConfig(stateDir: root), secretsKey: { try stateDir.loadEscrowKey() })
        let router = api.makeRouter()
        return Set(router.routes.map { normalise(method: "\($0.method)", path: "\($0.path)") })
    }

    @Test func normalisesPathParameters() {
        #expect(Self.normalise(method: "post", path: "/v1/tasks/:id/status") == "POST /v1/tasks/{id}/status")
        #expect(Self.normalise(method: "GET", path: "/v1/tasks/{id}/signed") == "GET /v1/tasks/{id}/signed")
        #expect(Self.normalise(method: "GET", path: "v1/status/") == "GET /v1/status")
    }

    @Test func everyServedRouteIsDocumentedAndEveryDocumentedRouteIsServed() throws {
        let served = try Self.serverRoutes()
        let documented = try Self.documentRoutes()
        #expect(!served.isEmpty, "the router has no routes")
        #expect(!documented.isEmpty, "\(Self.documentPath) has no operations")
        for route in served.subtracting(documented).sorted() {
            Issue.record("\(route) is served by CoordinatorAPI.makeRouter() but missing from Deploy/openapi.yaml")
        }
        for route in documented.subtracting(served).sorted() {
            Issue.record("\(route) is in Deploy/openapi.yaml but the coordinator does not serve it")
        }
    }
}
