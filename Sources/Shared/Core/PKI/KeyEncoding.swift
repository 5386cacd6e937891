import Crypto
import Foundation
import SwiftASN1

/// PKCS#8 / SubjectPublicKeyInfo PEM for the Curve25519 keys (Ed25519 task signing, X25519
/// escrow), in the standard forms `openssl pkey` reads (RFC 8410).
public enum Curve25519PEM {
    private static let ed25519PrivatePrefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    private static let ed25519PublicPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
    private static let x25519PrivatePrefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x04, 0x22, 0x04, 0x20]
    private static let x25519PublicPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x03, 0x21, 0x00]

    public static func pem(_ key: Curve25519.Signing.PrivateKey) -> String {
        PEMDocument(type: "PRIVATE KEY", derBytes: ed25519PrivatePrefix + Array(key.rawRepresentation)).pemString
    }
    public static func pem(_ key: Curve25519.Signing.PublicKey) -> String {
        PEMDocument(type: "PUBLIC KEY", derBytes: ed25519PublicPrefix + Array(key.rawRepresentation)).pemString
    }
    public static func pem(_ key: Curve25519.KeyAgreement.PrivateKey) -> String {
        PEMDocument(type: "PRIVATE KEY", derBytes: x25519PrivatePrefix + Array(key.rawRepresentation)).pemString
    }
    public static func pem(_ key: Curve25519.KeyAgreement.PublicKey) -> String {
        PEMDocument(type: "PUBLIC KEY", derBytes: x25519PublicPrefix + Array(key.rawRepresentation)).pemString
    }

    public static func signingPrivateKey(pem: String) throws -> Curve25519.Signing.PrivateKey {
        try Curve25519.Signing.PrivateKey(rawRepresentation: body(pem, type: "PRIVATE KEY", prefix: ed25519PrivatePrefix))
    }
    public static func signingPublicKey(pem: String) throws -> Curve25519.Signing.PublicKey {
        try Curve25519.Signing.PublicKey(rawRepresentation: body(pem, type: "PUBLIC KEY", prefix: ed25519PublicPrefix))
    }
    public static func agreementPrivateKey(pem: String) throws -> Curve25519.KeyAgreement.PrivateKey {
        try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: body(pem, type: "PRIVATE KEY", prefix: x25519PrivatePrefix))
    }
    public static func agreementPublicKey(pem: String) throws -> Curve25519.KeyAgreement.PublicKey {
        try Curve25519.KeyAgreement.PublicKey(rawRepresentation: body(pem, type: "PUBLIC KEY", prefix: x25519PublicPrefix))
    }

    private static func body(_ pem: String, type: String, prefix: [UInt8]) throws -> [UInt8] {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch { throw CordonError.invalidKey("not a PEM document: \(error)") }
        guard document.discriminator == type else {
            throw CordonError.invalidKey("expected a PEM \(type), found \(document.discriminator)")
        }
        let der = document.derBytes
        guard der.count == prefix.count + 32, Array(der.prefix(prefix.count)) == prefix else {
            throw CordonError.invalidKey("the \(type) is not the expected Curve25519 key type")
        }
        return Array(der.suffix(32))
    }
}
