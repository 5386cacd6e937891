import CordonShared

/// A finding the coordinator derived from a report, before storage gives it its lifecycle.
public struct DerivedFinding: Sendable, Equatable {
    public var detectionID: String
    /// Distinguishes findings of one detection on one subject: a port, an account, a task ID.
    public var item: String
    public var port: Int?
    public var proto: TransportProtocol?
    public var evidence: String

    public init(detectionID: String, item: String, port: Int? = nil, proto: TransportProtocol? = nil, evidence: String) {
        self.detectionID = detectionID
        self.item = item
        self.port = port
        self.proto = proto
        self.evidence = String(evidence.prefix(FindingObservation.maxEvidence))
    }

    /// The item of a scan finding: its port, or "host".
    public static func scanItem(port: Int?, proto: TransportProtocol?) -> String {
        guard let port else { return "host" }
        return "\(proto?.rawValue ?? "tcp")/\(port)"
    }
}
