import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking IPv4 client socket with timeouts, for use inside ``LabNetworkNamespace/run(_:_:)``.
final class LabSocket {
    /// How a TCP connect ended.
    enum ConnectOutcome: Equatable, Sendable, CustomStringConvertible {
        case open
        /// RST: nothing listens (a closed port).
        case refused
        /// No answer in time (a filtered port, or no host).
        case timedOut
        /// EHOSTUNREACH / ENETUNREACH (no host answers ARP, no route).
        case unreachable(Int32)
        case failed(Int32)

        var description: String {
            switch self {
            case .open: "open"
            case .refused: "refused"
            case .timedOut: "timed out"
            case .unreachable(let e): "unreachable (errno \(e))"
            case .failed(let e): "failed (errno \(e))"
            }
        }
    }

    let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    static func tcp(_ host: String, _ port: UInt16, timeout: Double = 2) -> (LabSocket?, ConnectOutcome) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return (nil, .failed(errno)) }
        let sock = LabSocket(fd: fd)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var address = makeAddress(host, port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var error: Int32 = rc == 0 ? 0 : errno
        if rc != 0 && error == EINPROGRESS {
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return (nil, .timedOut) }
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        }
        switch error {
        case 0:
            _ = fcntl(fd, F_SETFL, flags)
            return (sock, .open)
        case ECONNREFUSED: return (nil, .refused)
        case EHOSTUNREACH, ENETUNREACH: return (nil, .unreachable(error))
        case ETIMEDOUT: return (nil, .timedOut)
        default: return (nil, .failed(error))
        }
    }

    static func udp(_ host: String, _ port: UInt16) -> LabSocket? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        let sock = LabSocket(fd: fd)
        var address = makeAddress(host, port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0 ? sock : nil
    }

    private static func makeAddress(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Reads until the peer closes, `max` bytes, or `timeout` seconds in all.
    func receive(timeout: Double = 2, max: Int = 65_536) -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while bytes.count < max {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(left * 1000)) == 1 else { break }
            var buffer = [UInt8](repeating: 0, count: max - bytes.count)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            bytes += buffer.prefix(n)
        }
        return bytes
    }

    /// One datagram (UDP), or nil after `timeout` seconds.
    func receiveDatagram(timeout: Double = 2) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer.prefix(n)) : nil
    }
}
