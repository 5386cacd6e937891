import Crypto
import Foundation

/// Password escrow with HPKE (RFC 9180): the agent seals to the coordinator's X25519 escrow
/// public key; only the coordinator's escrow private key opens it.
public enum Escrow {
    public static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

    /// The HPKE `info`, binding a sealed password to its agent and account.
    static func info(agentID: String, user: String) -> Data { Data("cordon-escrow-v1 \(agentID) \(user)".utf8) }

    public static func seal(password: String, user: String, agentID: String, to recipient: Curve25519.KeyAgreement.PublicKey,
                            at: Date) throws -> EscrowedSecret {
        var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: ciphersuite, info: info(agentID: agentID, user: user))
        let ciphertext = try sender.seal(Data(password.utf8))
        return EscrowedSecret(user: user, encapsulatedKey: sender.encapsulatedKey, ciphertext: ciphertext, rotatedAt: at)
    }

    public static func open(_ secret: EscrowedSecret, agentID: String, with key: Curve25519.KeyAgreement.PrivateKey) throws -> String {
        var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: ciphersuite, info: info(agentID: agentID, user: secret.user),
                                           encapsulatedKey: secret.encapsulatedKey)
        let plaintext = try recipient.open(secret.ciphertext)
        guard let password = String(data: plaintext, encoding: .utf8) else { throw CordonError.decoding("the escrowed secret is not UTF-8") }
        return password
    }
}
