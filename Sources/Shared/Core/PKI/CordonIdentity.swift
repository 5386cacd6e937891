import Foundation
import X509

/// Who a certificate speaks for. The coordinator's CA puts the role in the subject's
/// organizational unit, the ID in its common name and, for agents, the segment in a URI
/// subject alternative name (`urn:cordon:segment:NAME`).
public struct CordonIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Role: String, Hashable, Sendable, Codable {
        case agent
        case `operator`
        case coordinator
    }

    public var role: Role
    public var id: String
    public var segment: String?

    public init(role: Role, id: String, segment: String? = nil) {
        self.role = role
        self.id = id
        self.segment = segment
    }

    public static let organization = "Cordon"
    static let segmentURIPrefix = "urn:cordon:segment:"

    public var description: String { "\(role.rawValue):\(id)" }

    /// The identity a certificate issued by a Cordon CA speaks for, or nil when it carries none.
    public init?(certificate: Certificate) {
        var role: Role?
        var id: String?
        for rdn in certificate.subject {
            for attribute in rdn {
                if attribute.type == .RDNAttributeType.organizationalUnitName {
                    role = Role(rawValue: attribute.value.description)
                } else if attribute.type == .RDNAttributeType.commonName {
                    id = attribute.value.description
                }
            }
        }
        guard let role, let id, !id.isEmpty else { return nil }
        var segment: String?
        if let sans = try? certificate.extensions.subjectAlternativeNames {
            for name in sans {
                if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix(Self.segmentURIPrefix) {
                    segment = String(uri.dropFirst(Self.segmentURIPrefix.count))
                }
            }
        }
        self.init(role: role, id: id, segment: segment)
    }

    var distinguishedName: DistinguishedName {
        get throws {
            try DistinguishedName {
                OrganizationName(Self.organization)
                OrganizationalUnitName(role.rawValue)
                CommonName(id)
            }
        }
    }
}

/// Names that Cordon accepts for segments, agents and operators: 1–64 of `[A-Za-z0-9._-]`,
/// starting with a letter or digit. They end up in certificates, file names and tables.
public enum CordonName {
    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first, isAlnum(first) else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    public static func validate(_ name: String, as what: String) throws {
        guard isValid(name) else {
            throw CordonError.invalidArgument(
                "\(what) \(name.prefix(80).debugDescription) is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
}
