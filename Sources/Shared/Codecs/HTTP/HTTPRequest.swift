/// A minimal HTTP/1.1 request for the web checks: method, path, `Host`, a plain `User-Agent` and
/// `Connection: close`. Paths and hosts are validated so that nothing from configuration can
/// smuggle extra header lines or a query string that would run a command.
public struct HTTPRequest: Equatable, Sendable {
    public static let defaultUserAgent = "Cordon/1.0"

    public var method: String
    public var path: String
    public var host: String
    public var userAgent: String

    /// - Throws: `invalidArgument` when the method is not a token, the path does not start with
    ///   `/` or holds a space, control character, `?` or `#`, or the host holds anything but
    ///   letters, digits, `.-:[]`.
    public init(method: String = "GET", path: String, host: String, userAgent: String = HTTPRequest.defaultUserAgent) throws(CodecError) {
        guard !method.isEmpty, method.utf8.count <= 16, method.utf8.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw .invalidArgument("HTTP method")
        }
        guard path.utf8.first == UInt8(ascii: "/"), path.utf8.count <= 1024,
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }) else {
            throw .invalidArgument("HTTP path must be /..., printable, without query")
        }
        let hostAllowed: (UInt8) -> Bool = { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: ":")
                || c == UInt8(ascii: "[") || c == UInt8(ascii: "]")
        }
        guard !host.isEmpty, host.utf8.count <= 255, host.utf8.allSatisfy(hostAllowed) else {
            throw .invalidArgument("HTTP host")
        }
        guard userAgent.utf8.count <= 128, userAgent.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw .invalidArgument("User-Agent")
        }
        self.method = method
        self.path = path
        self.host = host
        self.userAgent = userAgent
    }

    /// The request bytes.
    public func encode() -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: \(userAgent)\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
    }

    /// Server side: the method and path of a request head (bounded), for the simulated hosts.
    public static func parseRequestLine(_ bytes: [UInt8]) -> (method: String, path: String)? {
        let line = bytes.prefix(2048).prefix { $0 != 0x0D && $0 != 0x0A }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        return (Evidence.ascii(parts[0], maxLength: 16), Evidence.ascii(parts[1], maxLength: 1024))
    }
}
