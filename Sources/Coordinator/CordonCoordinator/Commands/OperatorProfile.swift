import CordonShared
import CordonTransport
import Foundation

/// How an operator reaches the coordinator: `operator.yaml`, written by `cordon operators add`.
///
/// ```yaml
/// coordinator: https://coordinator.example.net:8443
/// certificate: /home/alice/.config/cordon/alice.crt
/// key: /home/alice/.config/cordon/alice.key
/// ca: /home/alice/.config/cordon/ca.crt
/// ```
public struct OperatorProfile: Codable, Sendable, Equatable {
    public var coordinator: String
    public var certificate: String
    public var key: String
    public var ca: String

    public init(coordinator: String, certificate: String, key: String, ca: String) {
        self.coordinator = coordinator
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    static let schema = ConfigSchema.mapping(["coordinator": .scalar, "certificate": .scalar, "key": .scalar, "ca": .scalar])

    /// `$CORDON_PROFILE`, else `~/.config/cordon/operator.yaml`.
    public static var defaultPath: String {
        if let env = ProcessInfo.processInfo.environment["CORDON_PROFILE"], !env.isEmpty { return env }
        return defaultDirectory + "/operator.yaml"
    }

    public static var defaultDirectory: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + "/.config/cordon"
    }

    public static func load(path: String) throws -> OperatorProfile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CordonError.invalidArgument(
                "no operator profile at \(path); create one with `cordon operators add NAME --state-dir DIR --coordinator URL` on the coordinator host, or pass --profile")
        }
        var profile = try ConfigFile.load(OperatorProfile.self, path: path, schema: schema)
        // Relative paths are relative to the profile's directory.
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
        profile.certificate = resolve(profile.certificate)
        profile.key = resolve(profile.key)
        profile.ca = resolve(profile.ca)
        return profile
    }

    public func makeClient(coordinatorOverride: String? = nil) throws -> CordonHTTPClient {
        let tls = try TLSMaterial.client(certificatePath: certificate, keyPath: key, caPath: ca)
        return CordonHTTPClient(baseURL: coordinatorOverride ?? coordinator, tls: tls)
    }
}
