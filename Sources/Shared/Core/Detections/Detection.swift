/// The worms Cordon knows, and "general" for findings that help against all of them.
public enum Worm: String, Codable, Sendable, CaseIterable, Comparable {
    case codeRed = "codered"
    case blaster
    case zotob
    case conficker
    case wannacry
    case general

    public var displayName: String {
        switch self {
        case .codeRed: "Code Red"
        case .blaster: "Blaster"
        case .zotob: "Zotob"
        case .conficker: "Conficker"
        case .wannacry: "WannaCry"
        case .general: "General"
        }
    }

    /// Accepts the raw value and forgiving spellings ("Code Red", "code-red", "WannaCry").
    public init?(loose text: String) {
        let key = text.lowercased().filter { $0.isLetter }
        guard let worm = Worm.allCases.first(where: { $0.rawValue == key || $0.displayName.lowercased().filter(\.isLetter) == key }) else { return nil }
        self = worm
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Whether a finding says a host *could* be infected, or that it *is*.
public enum DetectionKind: String, Codable, Sendable, CaseIterable {
    /// The host offers what the worm needs (a service, a missing patch, a weak setting).
    case exposure
    /// An indicator of compromise: a sign the worm (or its backdoor) is there.
    case ioc
}

/// `CodingKeyRepresentable`: a dictionary keyed by it encodes as a JSON object
/// (`{"medium": 3}`), not as an array of alternating keys and values.
public enum Severity: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable, Comparable {
    case low, medium, high, critical

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where a detection comes from: the segment scan or the jump host's own inventory.
public enum DetectionSource: String, Codable, Sendable {
    case scan
    case inventory
}

/// One entry of the detection catalogue. Its ``id`` is stable: findings, plans and exports
/// refer to it.
public struct Detection: Sendable, Equatable, Identifiable, Codable {
    public var id: String
    public var worm: Worm
    public var kind: DetectionKind
    public var severity: Severity
    public var source: DetectionSource
    public var title: String
    /// Microsoft bulletins and KB articles.
    public var references: [String]
    public var remediation: String

    public init(id: String, worm: Worm, kind: DetectionKind, severity: Severity, source: DetectionSource, title: String,
                references: [String], remediation: String) {
        self.id = id
        self.worm = worm
        self.kind = kind
        self.severity = severity
        self.source = source
        self.title = title
        self.references = references
        self.remediation = remediation
    }
}
