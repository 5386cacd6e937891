import CordonCodecs

/// One listening socket of a simulated host.
public struct WormHostEndpoint: Hashable, Sendable, CustomStringConvertible {
    public enum Transport: String, Hashable, Sendable {
        case tcp
        case udp
    }

    /// What answers there.
    public enum Service: String, Hashable, Sendable {
        case smb
        case netBIOSSession = "netbios-ssn"
        case rpcEndpointMapper = "msrpc"
        case http
        case shell
        case ftp
        case nbstat
        case tftp
        case confickerP2P = "conficker-p2p"
    }

    public var address: IPv4Octets
    public var transport: Transport
    public var port: UInt16
    public var service: Service

    public init(address: IPv4Octets, transport: Transport, port: UInt16, service: Service) {
        self.address = address
        self.transport = transport
        self.port = port
        self.service = service
    }

    public var description: String { "\(address):\(port)/\(transport.rawValue) \(service.rawValue)" }
}
