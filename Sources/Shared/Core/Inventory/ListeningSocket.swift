/// A TCP socket in state LISTEN or a bound UDP socket.
public struct ListeningSocket: Codable, Sendable, Equatable {
    public enum TransportProtocol: String, Codable, Sendable {
        case tcp, udp
    }

    public enum AddressFamily: String, Codable, Sendable {
        case ipv4, ipv6
    }

    public var transport: TransportProtocol
    public var family: AddressFamily
    /// The local address in text form (`0.0.0.0`, `::`, `::ffff:127.0.0.1`).
    public var localAddress: String
    /// For an IPv4-mapped IPv6 address, the IPv4 address it maps (`127.0.0.1`).
    public var mappedIPv4Address: String?
    public var port: Int
    /// The socket's inode, the key to its owner.
    public var inode: UInt64
    /// The owning process, `nil` when unknown (its file descriptors were unreadable).
    public var owner: SocketOwner?

    public init(
        transport: TransportProtocol, family: AddressFamily, localAddress: String,
        mappedIPv4Address: String?, port: Int, inode: UInt64, owner: SocketOwner?
    ) {
        self.transport = transport
        self.family = family
        self.localAddress = localAddress
        self.mappedIPv4Address = mappedIPv4Address
        self.port = port
        self.inode = inode
        self.owner = owner
    }
}
