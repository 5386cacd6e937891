import CordonBuildInfo
/// The version of the agent–coordinator protocol, `MAJOR.MINOR`.
///
/// A coordinator speaks every minor version of the majors in ``spokenMajors``; a request of
/// any other major version is refused with a message that names the versions it speaks.
public struct ProtocolVersion: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// The version this build speaks.
    public static let current = ProtocolVersion(major: 1, minor: 0)
    /// The majors a coordinator of this build accepts.
    public static let spokenMajors: [Int] = [1]
    /// The HTTP header that carries the version on every agent request.
    public static let headerName = "Cordon-Protocol"

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 4, parts[1].count <= 4,
              let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else { return nil }
        self.init(major: major, minor: minor)
    }

    public var description: String { "\(major).\(minor)" }
    public var isSpoken: Bool { Self.spokenMajors.contains(major) }

    /// The sentence a coordinator answers with when it does not speak a version.
    public static var spokenDescription: String {
        spokenMajors.map { "\($0).x" }.joined(separator: ", ")
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let version = ProtocolVersion(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected MAJOR.MINOR, got \(text.prefix(20).debugDescription)")
        }
        self = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The version of the Cordon software itself.
public enum CordonVersion {
    /// What agents report and rollouts compare: MAJOR.MINOR.PATCH.
    public static let current = "0.1.0"

    /// The git commit the binaries were built from, or `nil` when the build could not tell.
    public static var commit: String? { BuildInfo.commit }

    /// What `--version` prints: `0.1.0 (commit 0123456789ab)`, or `0.1.0 (commit unknown)`.
    public static var full: String { "\(current) (commit \(commit ?? "unknown"))" }
}
