/// New passwords from the system's CSPRNG (`SystemRandomNumberGenerator`: getrandom(2)), drawn
/// uniformly from printable characters that cannot be mistaken for one another when read
/// aloud or copied by hand (no 0/O/o, 1/l/I, quotes, backslash, space or colon).
public struct PasswordGenerator: Sendable {
    public static let letters = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz".utf8)
    public static let digits = Array("23456789".utf8)
    public static let symbols = Array("!#%+-=?@^_".utf8)
    public static let alphabet = letters + digits + symbols

    public init() {}

    /// `length` characters with at least one upper-case letter, lower-case letter, digit and
    /// symbol (some PAM and application policies require each); redrawn whole, never patched,
    /// so the result stays uniform over the passwords that qualify.
    public func generate(length: Int) -> SecretBytes {
        precondition(length >= 4)
        var rng = SystemRandomNumberGenerator()
        while true {
            var bytes = [UInt8](repeating: 0, count: length)
            for index in bytes.indices {
                bytes[index] = Self.alphabet[Int.random(in: 0..<Self.alphabet.count, using: &rng)]
            }
            if Self.hasEveryClass(bytes) { return SecretBytes(bytes) }
            for index in bytes.indices { bytes[index] = 0 }
        }
    }

    static func hasEveryClass(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 >= 0x41 && $0 <= 0x5A } && bytes.contains { $0 >= 0x61 && $0 <= 0x7A }
            && bytes.contains { digits.contains($0) } && bytes.contains { symbols.contains($0) }
    }
}
