import ArgumentParser
import CordonShared
import Crypto
import Foundation
import X509

public struct OperatorsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "operators",
        abstract: "Issue and revoke operator certificates (run on the coordinator host).",
        subcommands: [Add.self, Revoke.self])

    public init() {}

    public struct Add: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Issue an operator certificate and write a profile for the operator commands.",
            discussion: """
                Needs the coordinator's state directory (it signs with the CA key). Writes NAME.key \
                (0600), NAME.crt, ca.crt and NAME.yaml into --out, and operator.yaml too when there is \
                none yet, so that `cordon status` works right away. With --csr, signs that CSR instead of \
                making a key: the operator's key then never leaves their machine.

                Example:
                  cordon operators add alice --state-dir /var/lib/cordon --coordinator https://cordon.example.net:8443
                """)

        @Argument(help: "Operator name (letters, digits, '.', '_', '-').")
        public var name: String

        @Option(name: .long, help: ArgumentHelp("The coordinator's state directory.", valueName: "dir"))
        public var stateDir: String

        @Option(name: .long, help: ArgumentHelp("Coordinator URL to put in the profile.", valueName: "https://host:port"))
        public var coordinator: String = "https://127.0.0.1:8443"

        @Option(name: .long, help: ArgumentHelp("Directory for the key, certificate and profile (default ~/.config/cordon).", valueName: "dir"))
        public var out: String?

        @Option(name: .long, help: ArgumentHelp("Sign this PEM CSR instead of generating a key.", valueName: "file"))
        public var csr: String?

        @Option(name: .long, help: ArgumentHelp("Certificate lifetime, e.g. 365d.", valueName: "duration"))
        public var lifetime: String = "365d"

        public init() {}

        public func validate() throws {
            guard CordonName.isValid(name) else { throw ValidationError("operator name must be 1-64 letters, digits, '.', '_' or '-'") }
            guard let seconds = HumanDuration.seconds(lifetime), seconds >= 60 else { throw ValidationError("--lifetime must be a duration of at least 60s, like 365d") }
            guard coordinator.hasPrefix("https://") else { throw ValidationError("--coordinator must be an https:// URL") }
        }

        public func run() async throws {
            try await runReportingErrors {
                let result = try OperatorIssuer(stateDir: CoordinatorStateDir(stateDir))
                    .add(name: name, coordinator: coordinator, outDirectory: out ?? OperatorProfile.defaultDirectory,
                         csrPath: csr, lifetime: HumanDuration.seconds(lifetime) ?? 365 * 86400, actor: "local:\(NSUserName())")
                print("Operator \(name) added; certificate valid until \(CordonTime.format(result.notAfter)).")
                print("Profile: \(result.profilePath)")
                if result.wroteDefault { print("Also written as the default profile \(result.defaultProfilePath).") }
                else { print("Use it with --profile \(result.profilePath) or CORDON_PROFILE=\(result.profilePath).") }
            }
        }
    }

    public struct Revoke: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke an operator's certificates; the coordinator refuses them from the next request on.")

        @Argument(help: "Operator name.")
        public var name: String

        @Option(name: .long, help: ArgumentHelp("The coordinator's state directory.", valueName: "dir"))
        public var stateDir: String

        public init() {}

        public func run() async throws {
            try await runReportingErrors {
                let database = try CoordinatorDatabase.open(path: CoordinatorStateDir(stateDir).database)
                let changed = try database.revokeOperator(name: name, actor: "local:\(NSUserName())")
                print(changed ? "Operator \(name) revoked." : "Operator \(name) was already revoked.")
            }
        }
    }
}

/// Issues operator certificates from the CA in a state directory.
public struct OperatorIssuer: Sendable {
    public let stateDir: CoordinatorStateDir

    public init(stateDir: CoordinatorStateDir) {
        self.stateDir = stateDir
    }

    public struct Result: Sendable {
        public var profilePath: String
        public var defaultProfilePath: String
        public var wroteDefault: Bool
        public var notAfter: Date
        public var profile: OperatorProfile
    }

    public func add(name: String, coordinator: String, outDirectory: String, csrPath: String?, lifetime: TimeInterval,
                    actor: String, now: Date = Date()) throws -> Result {
        try CordonName.validate(name, as: "operator name")
        let ca = try stateDir.loadCA()
        let database = try CoordinatorDatabase.open(path: stateDir.database)
        try SecureFile.makeDirectory(outDirectory, mode: 0o700)
        let out = outDirectory as NSString
        let certPath = out.appendingPathComponent("\(name).crt")
        let keyPath = out.appendingPathComponent("\(name).key")
        let caPath = out.appendingPathComponent("ca.crt")
        let profilePath = out.appendingPathComponent("\(name).yaml")
        for path in [certPath, profilePath] + (csrPath == nil ? [keyPath] : []) where FileManager.default.fileExists(atPath: path) {
            throw CordonError.fileExists("\(path) already exists; refusing to overwrite it")
        }

        let identity = CordonIdentity(role: .operator, id: name)
        let certificate: Certificate
        var newKey: P256.Signing.PrivateKey?
        if let csrPath {
            let csr = try CertificateSigningRequest(pemEncoded: try SecureFile.readString(csrPath, limit: 64 * 1024))
            certificate = try ca.issueClientCertificate(csr: csr, identity: identity, now: now, lifetime: lifetime)
        } else {
            let key = P256.Signing.PrivateKey()
            newKey = key
            certificate = try ca.issueClientCertificate(publicKey: .init(key.publicKey), identity: identity, now: now, lifetime: lifetime)
        }
        let pem = try certificate.serializeAsPEM().pemString
        // Record first: a certificate the database does not know is refused anyway.
        try database.addOperator(name: name, certificate: IssuedCertificate(serial: certificate.serialNumber.hex,
                                                                              notAfter: certificate.notValidAfter, pem: pem),
                                 actor: actor, now: now)
        if let newKey { try SecureFile.create(keyPath, contents: Data(newKey.pemRepresentation.utf8), mode: 0o600) }
        try SecureFile.create(certPath, contents: Data(pem.utf8), mode: 0o644)
        try SecureFile.replace(caPath, contents: Data(try ca.certificatePEM.utf8), mode: 0o644)
        let profile = OperatorProfile(coordinator: coordinator, certificate: certPath, key: keyPath, ca: caPath)
        let yaml = """
            # Cordon operator profile for \(name), written by `cordon operators add`.
            coordinator: \(coordinator)
            certificate: \(certPath)
            key: \(keyPath)
            ca: \(caPath)

            """
        try SecureFile.create(profilePath, contents: Data(yaml.utf8), mode: 0o600)
        let defaultPath = out.appendingPathComponent("operator.yaml")
        var wroteDefault = false
        if !FileManager.default.fileExists(atPath: defaultPath) {
            try SecureFile.create(defaultPath, contents: Data(yaml.utf8), mode: 0o600)
            wroteDefault = true
        }
        return Result(profilePath: profilePath, defaultProfilePath: defaultPath, wroteDefault: wroteDefault,
                      notAfter: certificate.notValidAfter, profile: profile)
    }
}
