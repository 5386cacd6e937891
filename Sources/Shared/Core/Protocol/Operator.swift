import Foundation

/// `POST /v1/tokens`.
public struct TokenCreateRequest: Codable, Sendable, Equatable {
    public var segment: String
    public var ttlSeconds: Double
    public var uses: Int

    public init(segment: String, ttlSeconds: Double, uses: Int) {
        self.segment = segment
        self.ttlSeconds = ttlSeconds
        self.uses = uses
    }
}

public struct TokenCreateResponse: Codable, Sendable, Equatable {
    public var token: String
    public var segment: String
    public var expiresAt: Date
    public var uses: Int

    public init(token: String, segment: String, expiresAt: Date, uses: Int) {
        self.token = token
        self.segment = segment
        self.expiresAt = expiresAt
        self.uses = uses
    }
}

/// How an agent stands, judged from its last contact against its own heartbeat interval.
/// `CodingKeyRepresentable`: a dictionary keyed by it encodes as a JSON object
/// (`{"online": 1}`), not as an array of alternating keys and values.
public enum AgentState: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable {
    /// Heard from within two intervals.
    case online
    /// Heard from within six intervals.
    case late
    case offline
    case revoked
}

public struct AgentSummary: Codable, Sendable, Equatable {
    public var id: String
    public var segment: String
    public var hostname: String
    public var state: AgentState
    public var agentVersion: String
    public var enrolledAt: Date
    public var lastSeenAt: Date?
    public var lastReportAt: Date?
    public var heartbeatInterval: Double
    public var spoolDepth: Int
    public var spoolDroppedTotal: Int
    public var certificateNotAfter: Date
    public var revokedAt: Date?

    public init(id: String, segment: String, hostname: String, state: AgentState, agentVersion: String, enrolledAt: Date,
                lastSeenAt: Date?, lastReportAt: Date?, heartbeatInterval: Double, spoolDepth: Int, spoolDroppedTotal: Int,
                certificateNotAfter: Date, revokedAt: Date?) {
        self.id = id
        self.segment = segment
        self.hostname = hostname
        self.state = state
        self.agentVersion = agentVersion
        self.enrolledAt = enrolledAt
        self.lastSeenAt = lastSeenAt
        self.lastReportAt = lastReportAt
        self.heartbeatInterval = heartbeatInterval
        self.spoolDepth = spoolDepth
        self.spoolDroppedTotal = spoolDroppedTotal
        self.certificateNotAfter = certificateNotAfter
        self.revokedAt = revokedAt
    }
}

/// `GET /v1/agents/:id`: an agent with its latest facts.
public struct AgentDetail: Codable, Sendable, Equatable {
    public var agent: AgentSummary
    public var facts: AgentFacts?
    public var reportCount: Int

    public init(agent: AgentSummary, facts: AgentFacts?, reportCount: Int) {
        self.agent = agent
        self.facts = facts
        self.reportCount = reportCount
    }
}

public struct SegmentStatus: Codable, Sendable, Equatable {
    public var name: String
    public var agents: [AgentState: Int]
    public var lastReportAt: Date?
    public var spoolDropped: Int
    /// When the segment was last scanned, and how many hosts answered.
    public var lastScanAt: Date?
    public var hostsUp: Int
    /// Exposed and infected hosts per worm (only worms with any).
    public var worms: [WormCount]
    /// Open findings on the segment's jump hosts, by severity.
    public var jumpHostFindings: [Severity: Int]

    public init(name: String, agents: [AgentState: Int], lastReportAt: Date?, spoolDropped: Int, lastScanAt: Date? = nil, hostsUp: Int = 0,
                worms: [WormCount] = [], jumpHostFindings: [Severity: Int] = [:]) {
        self.name = name
        self.agents = agents
        self.lastReportAt = lastReportAt
        self.spoolDropped = spoolDropped
        self.lastScanAt = lastScanAt
        self.hostsUp = hostsUp
        self.worms = worms
        self.jumpHostFindings = jumpHostFindings
    }

    public func count(_ state: AgentState) -> Int { agents[state] ?? 0 }
}

/// `GET /v1/status`: the fleet at a glance.
public struct FleetStatus: Codable, Sendable, Equatable {
    public var generatedAt: Date
    public var segments: [SegmentStatus]
    public var agents: [AgentSummary]
    /// Absent: `agents` is every agent. Present (`GET /v1/status?agents=attention`): `agents`
    /// lists only late and offline agents, and this many more of them were left out.
    public var attentionOmitted: Int?

    public init(generatedAt: Date, segments: [SegmentStatus], agents: [AgentSummary], attentionOmitted: Int? = nil) {
        self.generatedAt = generatedAt
        self.segments = segments
        self.agents = agents
        self.attentionOmitted = attentionOmitted
    }
}

public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    /// `operator:NAME`, `agent:ID` or `local:USER` for commands run on the coordinator host.
    public var actor: String
    public var action: String
    public var target: String
    public var detail: String

    public init(id: Int64, at: Date, actor: String, action: String, target: String, detail: String) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

public struct RevokeResponse: Codable, Sendable, Equatable {
    public var agentID: String
    public var revokedAt: Date
    public var alreadyRevoked: Bool

    public init(agentID: String, revokedAt: Date, alreadyRevoked: Bool) {
        self.agentID = agentID
        self.revokedAt = revokedAt
        self.alreadyRevoked = alreadyRevoked
    }
}

/// A segment and the scope its agents may scan (nil: none recorded, not restricted).
public struct SegmentView: Codable, Sendable, Equatable {
    public var name: String
    public var scope: [String]?
    public var updatedAt: Date?
    public var updatedBy: String?

    public init(name: String, scope: [String]?, updatedAt: Date?, updatedBy: String?) {
        self.name = name
        self.scope = scope
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// `PUT /v1/segments/:name`.
public struct SegmentScopeRequest: Codable, Sendable, Equatable {
    public var scope: [String]
    public init(scope: [String]) { self.scope = scope }
}
