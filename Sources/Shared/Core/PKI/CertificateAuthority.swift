import Crypto
import Foundation
import SwiftASN1
import X509

/// The coordinator's certificate authority: a P-256 key and a self-signed certificate that
/// issues the coordinator's server certificate and every agent's and operator's client
/// certificate.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    public init(certificate: Certificate, key: P256.Signing.PrivateKey) throws {
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CordonError.invalidKey("the CA key does not belong to the CA certificate")
        }
        self.certificate = certificate
        self.key = key
    }

    /// Loads a CA from its PEM files.
    public init(certificatePEM: String, keyPEM: String) throws {
        let certificate: Certificate
        let key: P256.Signing.PrivateKey
        do { certificate = try Certificate(pemEncoded: certificatePEM) } catch {
            throw CordonError.invalidCertificate("the CA certificate is not a PEM certificate: \(error)")
        }
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM) } catch {
            throw CordonError.invalidKey("the CA key is not a PEM P-256 private key: \(error)")
        }
        try self.init(certificate: certificate, key: key)
    }

    /// A new CA, valid for `lifetime` seconds (default ten years).
    public static func create(commonName: String, now: Date = Date(), lifetime: TimeInterval = 10 * 365 * 86400) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName(CordonIdentity.organization)
            CommonName(commonName)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(lifetime),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(key))
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
    public var keyPEM: String { key.pemRepresentation }
    public var fingerprint: String { get throws { try Fingerprint.sha256(certificate) } }

    /// The coordinator's TLS server certificate for `names` (DNS names or IP addresses).
    public func issueServerCertificate(for publicKey: Certificate.PublicKey, names: [String], now: Date = Date(),
                                       lifetime: TimeInterval = 825 * 86400) throws -> Certificate {
        guard let first = names.first else { throw CordonError.invalidArgument("a server certificate needs at least one name") }
        let generalNames = try names.map(Self.generalName)
        let subject = try CordonIdentity(role: .coordinator, id: first).distinguishedName
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(generalNames)
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        return try sign(publicKey: publicKey, subject: subject, extensions: extensions, now: now, lifetime: lifetime)
    }

    /// A client certificate for an agent or an operator. The identity comes from the
    /// coordinator, never from the request: a CSR only contributes its public key, and only
    /// after its signature proves possession of the private key.
    public func issueClientCertificate(csr: CertificateSigningRequest, identity: CordonIdentity, now: Date = Date(),
                                       lifetime: TimeInterval) throws -> Certificate {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CordonError.invalidSignature("the CSR's signature does not verify with its own public key")
        }
        return try issueClientCertificate(publicKey: csr.publicKey, identity: identity, now: now, lifetime: lifetime)
    }

    public func issueClientCertificate(publicKey: Certificate.PublicKey, identity: CordonIdentity, now: Date = Date(),
                                       lifetime: TimeInterval) throws -> Certificate {
        guard identity.role != .coordinator else { throw CordonError.invalidArgument("client certificates are for agents and operators") }
        try CordonName.validate(identity.id, as: "\(identity.role.rawValue) ID")
        var names: [GeneralName] = []
        if let segment = identity.segment {
            try CordonName.validate(segment, as: "segment")
            names.append(.uniformResourceIdentifier(CordonIdentity.segmentURIPrefix + segment))
        }
        let sans = names
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
            if !sans.isEmpty { SubjectAlternativeNames(sans) }
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        return try sign(publicKey: publicKey, subject: try identity.distinguishedName, extensions: extensions, now: now, lifetime: lifetime)
    }

    /// True when `leaf` was signed by this CA's key and is within its validity at `now`.
    public func issued(_ leaf: Certificate, at now: Date = Date()) -> Bool {
        guard leaf.issuer == certificate.subject,
              certificate.publicKey.isValidSignature(leaf.signature, for: leaf) else { return false }
        return leaf.notValidBefore <= now && now <= leaf.notValidAfter
    }

    private func sign(publicKey: Certificate.PublicKey, subject: DistinguishedName, extensions: Certificate.Extensions,
                      now: Date, lifetime: TimeInterval) throws -> Certificate {
        guard lifetime > 0 else { throw CordonError.invalidArgument("a certificate lifetime must be positive") }
        // Never past the CA's own expiry; five minutes of backdating for clock skew.
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: notAfter,
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(key))
    }

    static func generalName(_ name: String) throws -> GeneralName {
        if let v4 = IPAddressBytes.v4(name) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(v4))) }
        if let v6 = IPAddressBytes.v6(name) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(v6))) }
        guard !name.isEmpty, name.utf8.count <= 253,
              name.utf8.allSatisfy({ $0 == 0x2E || $0 == 0x2D || $0 == 0x2A || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) })
        else { throw CordonError.invalidArgument("\(name.prefix(80).debugDescription) is neither an IP address nor a DNS name") }
        return .dnsName(name)
    }
}

extension Certificate.SerialNumber {
    /// Lowercase hex, the form Cordon stores and prints.
    public var hex: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// Key helpers for a CSR made where the key lives.
public enum CSRBuilder {
    public static func make(key: P256.Signing.PrivateKey, commonName: String) throws -> CertificateSigningRequest {
        let subject = try DistinguishedName { CommonName(commonName) }
        return try CertificateSigningRequest(version: .v1, subject: subject, privateKey: .init(key),
                                             attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
    }
}
