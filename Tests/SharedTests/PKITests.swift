import CordonShared
import Crypto
import Foundation
import Testing
import X509

@Suite struct PKITests {
    @Test func caIssuesServerAndClientCertificates() throws {
        let ca = try CertificateAuthority.create(commonName: "Test CA")
        let serverKey = P256.Signing.PrivateKey()
        let server = try ca.issueServerCertificate(for: .init(serverKey.publicKey), names: ["cordon.example", "127.0.0.1", "::1"])
        #expect(ca.issued(server))
        let sans = try #require(try server.extensions.subjectAlternativeNames)
        #expect(sans.contains(.dnsName("cordon.example")))
        #expect(sans.count == 3)
        #expect(CordonIdentity(certificate: server)?.role == .coordinator)

        let agentKey = P256.Signing.PrivateKey()
        let csr = try CSRBuilder.make(key: agentKey, commonName: "whatever-the-agent-asks")
        let identity = CordonIdentity(role: .agent, id: "agt-0123456789abcdef", segment: "dmz")
        let client = try ca.issueClientCertificate(csr: csr, identity: identity, lifetime: 3600)
        #expect(CordonIdentity(certificate: client) == identity, "the identity comes from the CA, not from the CSR's subject")
        #expect(client.publicKey == Certificate.PublicKey(agentKey.publicKey))
        #expect(ca.issued(client))
        #expect(!ca.issued(client, at: Date().addingTimeInterval(7200)), "expired after its lifetime")
    }

    @Test func anotherCAsCertificateIsNotOurs() throws {
        let ours = try CertificateAuthority.create(commonName: "Ours")
        let theirs = try CertificateAuthority.create(commonName: "Theirs")
        let key = P256.Signing.PrivateKey()
        let cert = try theirs.issueClientCertificate(publicKey: .init(key.publicKey), identity: .init(role: .operator, id: "mallory"), lifetime: 60)
        #expect(!ours.issued(cert))
    }

    @Test func refusesACSRWhoseSignatureDoesNotVerify() throws {
        let ca = try CertificateAuthority.create(commonName: "CA")
        let csr = try CSRBuilder.make(key: P256.Signing.PrivateKey(), commonName: "x")
        var der = try csr.serializeAsPEM().derBytes
        // The last byte is the end of the ECDSA signature's s: flipping it keeps the DER valid
        // and breaks the proof of possession.
        der[der.count - 1] ^= 0x01
        let tampered = try CertificateSigningRequest(derEncoded: der)
        #expect(throws: CordonError.invalidSignature) {
            try ca.issueClientCertificate(csr: tampered, identity: .init(role: .agent, id: "agt-1", segment: "s"), lifetime: 60)
        }
        // The untouched CSR is accepted.
        _ = try ca.issueClientCertificate(csr: csr, identity: .init(role: .agent, id: "agt-1", segment: "s"), lifetime: 60)
    }

    @Test func rejectsInvalidNames() throws {
        let ca = try CertificateAuthority.create(commonName: "CA")
        let key = P256.Signing.PrivateKey()
        #expect(throws: CordonError.invalidArgument) {
            try ca.issueClientCertificate(publicKey: .init(key.publicKey), identity: .init(role: .agent, id: "agt 1", segment: "dmz"), lifetime: 60)
        }
        #expect(throws: CordonError.invalidArgument) {
            try ca.issueClientCertificate(publicKey: .init(key.publicKey), identity: .init(role: .agent, id: "agt-1", segment: "a/b"), lifetime: 60)
        }
        #expect(throws: CordonError.invalidArgument) {
            try ca.issueServerCertificate(for: .init(key.publicKey), names: ["bad name!"])
        }
    }

    @Test func fingerprintsNormalize() throws {
        let ca = try CertificateAuthority.create(commonName: "CA")
        let fp = try ca.fingerprint
        #expect(fp.hasPrefix("SHA256:") && fp.count == 71)
        let hex = String(fp.dropFirst(7))
        let colons = stride(from: 0, to: 64, by: 2).map { i in hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)].uppercased() }.joined(separator: ":")
        #expect(Fingerprint.normalize(colons) == fp)
        #expect(Fingerprint.normalize("sha256 Fingerprint=" + colons) == fp)
        #expect(Fingerprint.normalize(hex) == fp)
        #expect(Fingerprint.normalize("SHA256:abc") == nil)
        #expect(Fingerprint.normalize("SHA256:" + String(repeating: "g", count: 64)) == nil)
    }

    @Test func caRoundTripsThroughPEM() throws {
        let ca = try CertificateAuthority.create(commonName: "CA")
        let loaded = try CertificateAuthority(certificatePEM: try ca.certificatePEM, keyPEM: ca.keyPEM)
        #expect(try loaded.fingerprint == (try ca.fingerprint))
        let other = try CertificateAuthority.create(commonName: "CA2")
        #expect(throws: CordonError.invalidKey) { try CertificateAuthority(certificatePEM: try ca.certificatePEM, keyPEM: other.keyPEM) }
        #expect(throws: CordonError.invalidCertificate) { try CertificateAuthority(certificatePEM: "garbage", keyPEM: ca.keyPEM) }
    }

    @Test func curve25519KeysRoundTripInStandardPEM() throws {
        let signing = Curve25519.Signing.PrivateKey()
        let pem = Curve25519PEM.pem(signing)
        #expect(pem.contains("BEGIN PRIVATE KEY"))
        #expect(try Curve25519PEM.signingPrivateKey(pem: pem).rawRepresentation == signing.rawRepresentation)
        #expect(try Curve25519PEM.signingPublicKey(pem: Curve25519PEM.pem(signing.publicKey)).rawRepresentation == signing.publicKey.rawRepresentation)
        let agreement = Curve25519.KeyAgreement.PrivateKey()
        #expect(try Curve25519PEM.agreementPrivateKey(pem: Curve25519PEM.pem(agreement)).rawRepresentation == agreement.rawRepresentation)
        // An Ed25519 key is not an X25519 key.
        #expect(throws: CordonError.invalidKey) { try Curve25519PEM.agreementPrivateKey(pem: pem) }
    }

    @Test func opensslReadsTheEd25519Key() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { return }
        let key = Curve25519.Signing.PrivateKey()
        let path = NSTemporaryDirectory() + "cordon-ed25519-\(UUID().uuidString).pem"
        try SecureFile.create(path, contents: Data(Curve25519PEM.pem(key).utf8))
        defer { unlink(path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["pkey", "-in", path, "-pubout"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(out == Curve25519PEM.pem(key.publicKey) + (out.hasSuffix("\n") && !Curve25519PEM.pem(key.publicKey).hasSuffix("\n") ? "\n" : ""))
    }
}

@Suite struct SecureFileTests {
    @Test func createRefusesToOverwriteAndSetsMode() throws {
        let dir = NSTemporaryDirectory() + "cordon-sf-\(UUID().uuidString)"
        try SecureFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secret"
        try SecureFile.create(path, contents: Data("one".utf8), mode: 0o600)
        #expect(SecureFile.mode(of: path) == 0o600)
        #expect(SecureFile.mode(of: dir) == 0o700)
        #expect(throws: CordonError.fileExists) { try SecureFile.create(path, contents: Data("two".utf8)) }
        #expect(try SecureFile.readString(path) == "one")
        try SecureFile.replace(path, contents: Data("three".utf8), mode: 0o644)
        #expect(try SecureFile.readString(path) == "three")
        #expect(SecureFile.mode(of: path) == 0o644)
        #expect(throws: CordonError.io) { try SecureFile.read(path, limit: 2) }
    }

    /// An I/O error is an error, not empty data: a directory (EISDIR on read) used to read as "".
    /// An empty file is empty; a /proc file is read past its first page.
    @Test func readErrorsAreErrorsAndProcFilesAreReadWhole() throws {
        let dir = NSTemporaryDirectory() + "cordon-sf-\(UUID().uuidString)"
        try SecureFile.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: CordonError.io) { try SecureFile.read(dir) }
        #expect(throws: CordonError.io) { try SecureFile.read(dir + "/missing") }
        try SecureFile.create(dir + "/empty", contents: Data())
        #expect(try SecureFile.read(dir + "/empty").isEmpty)
        // /proc/self/maps of this test process is far over 4 KiB; its last line ends in a newline.
        let maps = try SecureFile.read("/proc/self/maps", limit: 16 << 20)
        #expect(maps.count > 8192 && maps.last == UInt8(ascii: "\n"), "\(maps.count) bytes")
    }
}

@Suite struct ConfigFileTests {
    struct Sample: Codable { var name: String; var nested: Nested?; struct Nested: Codable { var size: ConfigByteSize; var every: ConfigDuration } }
    static let schema = ConfigSchema.mapping(["name": .scalar, "nested": .mapping(["size": .scalar, "every": .scalar])])

    @Test func decodesKnownKeys() throws {
        let s = try ConfigFile.decode(Sample.self, yaml: "name: x\nnested:\n  size: 16MiB\n  every: 5m\n", origin: "t.yaml", schema: Self.schema)
        #expect(s.nested?.size.bytes == 16 << 20)
        #expect(s.nested?.every.seconds == 300)
    }

    @Test func refusesUnknownKeysNamingThem() {
        do {
            _ = try ConfigFile.decode(Sample.self, yaml: "name: x\nnested:\n  sise: 1\n", origin: "t.yaml", schema: Self.schema)
            Issue.record("decoded a config with a typo")
        } catch let error as CordonError {
            #expect(error.reason.contains("unknown key 'nested.sise'"))
            #expect(error.reason.contains("t.yaml"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func refusesBadValuesAndBadYAML() {
        #expect(throws: CordonError.invalidArgument) {
            try ConfigFile.decode(Sample.self, yaml: "name: x\nnested:\n  size: lots\n  every: 5m\n", origin: "t", schema: Self.schema)
        }
        #expect(throws: CordonError.invalidArgument) { try ConfigFile.decode(Sample.self, yaml: "name: [unclosed", origin: "t", schema: Self.schema) }
        #expect(throws: CordonError.invalidArgument) { try ConfigFile.decode(Sample.self, yaml: "", origin: "t", schema: Self.schema) }
        #expect(throws: CordonError.invalidArgument) { try ConfigFile.decode(Sample.self, yaml: "- a\n- b\n", origin: "t", schema: Self.schema) }
    }
}
