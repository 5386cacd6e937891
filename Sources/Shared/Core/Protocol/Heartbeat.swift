import Foundation

/// `POST /v1/heartbeat`: the agent is alive, and how often it means to say so.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var sentAt: Date
    public var agentVersion: String
    /// Seconds between heartbeats; the coordinator judges online/late/offline against it.
    public var heartbeatInterval: Double
    public var reportInterval: Double
    public var spoolDepth: Int
    public var spoolDropped: Int

    public init(sentAt: Date, agentVersion: String, heartbeatInterval: Double, reportInterval: Double, spoolDepth: Int, spoolDropped: Int) {
        self.sentAt = sentAt
        self.agentVersion = agentVersion
        self.heartbeatInterval = heartbeatInterval
        self.reportInterval = reportInterval
        self.spoolDepth = spoolDepth
        self.spoolDropped = spoolDropped
    }
}

public struct HeartbeatResponse: Codable, Sendable, Equatable {
    public var serverTime: Date
    /// The CIDRs the agent's segment may scan (nil: none recorded).
    public var allowedScope: [String]?
    /// Content encodings the coordinator accepts on request bodies ("gzip"); absent from
    /// coordinators that accept none, so an agent compresses only for one that said so.
    public var acceptsEncodings: [String]?

    public init(serverTime: Date, allowedScope: [String]? = nil, acceptsEncodings: [String]? = nil) {
        self.serverTime = serverTime
        self.allowedScope = allowedScope
        self.acceptsEncodings = acceptsEncodings
    }
}

/// `GET /v1/agent/config`: what the coordinator knows of the agent (also a reachability check).
public struct AgentRemoteConfig: Codable, Sendable, Equatable {
    public var agentID: String
    public var segment: String
    public var serverTime: Date
    /// The CIDRs this agent's segment may scan; nil when the coordinator has none recorded.
    public var allowedScope: [String]?

    public init(agentID: String, segment: String, serverTime: Date, allowedScope: [String]? = nil) {
        self.agentID = agentID
        self.segment = segment
        self.serverTime = serverTime
        self.allowedScope = allowedScope
    }
}

/// How far apart an agent's clock and the coordinator's may be before both say so: task lists
/// expire, and certificates are checked, by the agent's own clock.
public enum ClockSkew {
    public static let warningSeconds: Double = 300
}
