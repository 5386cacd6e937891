import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// IP address text to bytes and back, with the platform's own parser.
public enum IPAddressBytes {
    public static func v4(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 15 else { return nil }
        var addr = in_addr()
        guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: addr.s_addr) { Array($0) }
    }

    public static func v6(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 45, text.contains(":") else { return nil }
        var addr = in6_addr()
        guard inet_pton(AF_INET6, text, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: addr) { Array($0) }
    }
}
