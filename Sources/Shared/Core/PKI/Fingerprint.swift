import Crypto
import Foundation
import X509
import SwiftASN1

/// SHA-256 fingerprints of certificates, printed as `SHA256:` and 64 lowercase hex digits.
/// Input is forgiving: case, colons and the prefix are optional.
public enum Fingerprint {
    public static func sha256(der: some DataProtocol) -> String {
        "SHA256:" + SHA256.hash(data: Data(der)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public static func sha256(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return sha256(der: serializer.serializedBytes)
    }

    /// The canonical form of a fingerprint an operator typed, or nil when it is not one.
    public static func normalize(_ text: String) -> String? {
        var body = Substring(text.trimmingSpaces())
        for prefix in ["SHA256:", "sha256:", "SHA-256:", "sha256 Fingerprint=", "SHA256 Fingerprint="] where body.hasPrefix(prefix) {
            body = body.dropFirst(prefix.count)
            break
        }
        let hex = body.lowercased().filter { $0 != ":" }
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        return "SHA256:" + hex
    }
}
