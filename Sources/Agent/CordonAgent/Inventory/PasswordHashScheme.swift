/// Names the hash scheme of a crypt(3) string from its prefix only. The hash and salt are
/// looked at for their shape, never copied anywhere.
enum PasswordHashScheme {
    private static let prefixes: [(String, String)] = [
        ("$y$", "yescrypt"), ("$gy$", "gost-yescrypt"), ("$7$", "scrypt"),
        ("$2b$", "bcrypt"), ("$2a$", "bcrypt"), ("$2y$", "bcrypt"), ("$2x$", "bcrypt"),
        ("$6$", "sha512crypt"), ("$5$", "sha256crypt"), ("$sha1$", "sha1crypt"),
        ("$md5", "sunmd5"), ("$1$", "md5crypt"), ("$3$", "nthash"), ("_", "bsdicrypt"),
        // What `cordon demo`'s sandboxed jump hosts write instead of a crypt hash (SandboxSystem).
        ("$cordon-demo$", "cordon-demo"),
    ]

    /// The scheme name, `nil` for an empty or locked-only field, `unknown` for anything else.
    /// `field` is the shadow password field with any `!`/`*` lock prefix already removed.
    static func name(of field: String) -> String? {
        if field.isEmpty { return nil }
        for (prefix, name) in prefixes where field.hasPrefix(prefix) { return name }
        let saltAlphabet = Set("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        if field.count == 13, field.allSatisfy({ saltAlphabet.contains($0) }) { return "descrypt" }
        return "unknown"
    }
}
