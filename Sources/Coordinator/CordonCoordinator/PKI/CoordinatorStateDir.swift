import CordonShared
import Crypto
import Foundation
import X509

/// The coordinator's state directory: its keys, certificates and database.
///
/// ```
/// ca.crt  ca.key             the CA (key 0600)
/// server.crt  server.key     the TLS server identity
/// task-signing.key/.pub      Ed25519: signs remediation task lists
/// escrow.key/.pub            X25519: agents encrypt rotated passwords to it (HPKE)
/// cordon.db                  SQLite (WAL)
/// ```
public struct CoordinatorStateDir: Sendable {
    public let path: String

    public init(_ path: String) {
        self.path = path
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public var caCertificate: String { file("ca.crt") }
    public var caKey: String { file("ca.key") }
    public var serverCertificate: String { file("server.crt") }
    public var serverKey: String { file("server.key") }
    public var taskSigningKey: String { file("task-signing.key") }
    public var taskSigningPublicKey: String { file("task-signing.pub") }
    public var escrowKey: String { file("escrow.key") }
    public var escrowPublicKey: String { file("escrow.pub") }
    public var database: String { file("cordon.db") }

    /// Every file `init` writes, private ones first.
    var allFiles: [String] {
        [caKey, serverKey, taskSigningKey, escrowKey, caCertificate, serverCertificate, taskSigningPublicKey, escrowPublicKey]
    }

    public var isInitialized: Bool { FileManager.default.fileExists(atPath: caCertificate) }

    public struct InitResult: Sendable {
        public var caFingerprint: String
        public var serverNames: [String]
    }

    /// Creates the CA, the server certificate and the task and escrow keys. Refuses when any of
    /// the files already exists; nothing is overwritten.
    public func initialize(name: String, extraNames: [String], now: Date = Date()) throws -> InitResult {
        try SecureFile.makeDirectory(path, mode: 0o700)
        if let existing = allFiles.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw CoordinatorError.stateDir("\(existing) already exists: \(path) is already initialized; refusing to overwrite it")
        }
        var names = [name]
        for extra in extraNames where !names.contains(extra) { names.append(extra) }

        let ca = try CertificateAuthority.create(commonName: "Cordon CA (\(name))", now: now)
        let serverKey = P256.Signing.PrivateKey()
        let server = try ca.issueServerCertificate(for: .init(serverKey.publicKey), names: names, now: now)
        let taskKey = Curve25519.Signing.PrivateKey()
        let escrowKey = Curve25519.KeyAgreement.PrivateKey()

        try SecureFile.create(caKey, contents: Data(ca.keyPEM.utf8), mode: 0o600)
        try SecureFile.create(self.serverKey, contents: Data(serverKey.pemRepresentation.utf8), mode: 0o600)
        try SecureFile.create(taskSigningKey, contents: Data(Curve25519PEM.pem(taskKey).utf8), mode: 0o600)
        try SecureFile.create(self.escrowKey, contents: Data(Curve25519PEM.pem(escrowKey).utf8), mode: 0o600)
        try SecureFile.create(caCertificate, contents: Data(try ca.certificatePEM.utf8), mode: 0o644)
        try SecureFile.create(serverCertificate, contents: Data(try server.serializeAsPEM().pemString.utf8), mode: 0o644)
        try SecureFile.create(taskSigningPublicKey, contents: Data(Curve25519PEM.pem(taskKey.publicKey).utf8), mode: 0o644)
        try SecureFile.create(escrowPublicKey, contents: Data(Curve25519PEM.pem(escrowKey.publicKey).utf8), mode: 0o644)
        return InitResult(caFingerprint: try ca.fingerprint, serverNames: names)
    }

    public func loadCA() throws -> CertificateAuthority {
        guard isInitialized else {
            throw CoordinatorError.stateDir("\(path) is not an initialized state directory (no ca.crt); run `cordon init --state-dir \(path) --name HOST` first")
        }
        return try CertificateAuthority(certificatePEM: try SecureFile.readString(caCertificate),
                                        keyPEM: try SecureFile.readString(caKey))
    }

    public func loadTaskSigningKey() throws -> Curve25519.Signing.PrivateKey {
        try Curve25519PEM.signingPrivateKey(pem: try SecureFile.readString(taskSigningKey))
    }

    /// The task-signing key and the escrow public key, as the API needs them.
    public func loadKeys() throws -> CoordinatorKeys {
        let taskKey = try loadTaskSigningKey()
        let escrowPublic = try Curve25519PEM.agreementPublicKey(pem: try SecureFile.readString(escrowPublicKey))
        return CoordinatorKeys(taskSigningKey: taskKey, escrowPublicKey: escrowPublic)
    }

    public func loadEscrowKey() throws -> Curve25519.KeyAgreement.PrivateKey {
        try Curve25519PEM.agreementPrivateKey(pem: try SecureFile.readString(escrowKey))
    }
}

/// The coordinator's task-signing key and escrow public key. The escrow private key is not
/// here: it is read from the state directory only when an operator reads a secret.
public struct CoordinatorKeys: Sendable {
    public let taskSigningKey: Curve25519.Signing.PrivateKey
    public let escrowPublicKey: Curve25519.KeyAgreement.PublicKey

    public init(taskSigningKey: Curve25519.Signing.PrivateKey, escrowPublicKey: Curve25519.KeyAgreement.PublicKey) {
        self.taskSigningKey = taskSigningKey
        self.escrowPublicKey = escrowPublicKey
    }

    public var taskSigningPublicKeyPEM: String { Curve25519PEM.pem(taskSigningKey.publicKey) }
    public var escrowPublicKeyPEM: String { Curve25519PEM.pem(escrowPublicKey) }
}
