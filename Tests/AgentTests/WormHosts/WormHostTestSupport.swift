import CordonCodecs
import CordonWormHosts
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A blocking TCP or UDP client socket with timeouts, for talking to the simulated hosts over
/// real sockets. Every call is bounded in time and in bytes.
final class WormTestSocket {
    enum ReadResult: Equatable {
        case data([UInt8])
        case closed
        case timeout
    }

    enum Failure: Error, Equatable {
        case refused
        case timeout
        case other(Int32)
    }

    let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close(fd) }

    /// Connects to host:port (IPv4) within `timeout` seconds.
    static func connect(_ host: String, _ port: UInt16, timeout: Double = 2) throws(Failure) -> WormTestSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .other(errno) }
        let sock = WormTestSocket(fd: fd)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var address = makeAddress(host, port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            guard errno == EINPROGRESS else { throw errno == ECONNREFUSED ? .refused : .other(errno) }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { throw .timeout }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == ECONNREFUSED { throw .refused }
            if error != 0 { throw .other(error) }
        }
        _ = fcntl(fd, F_SETFL, flags)
        return sock
    }

    /// A UDP socket "connected" to host:port.
    static func udp(_ host: String, _ port: UInt16) throws(Failure) -> WormTestSocket {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw .other(errno) }
        let sock = WormTestSocket(fd: fd)
        var address = makeAddress(host, port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw .other(errno) }
        return sock
    }

    private static func makeAddress(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// Writes everything (or fails on a closed connection).
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

    /// One read of at most `max` bytes, waiting at most `timeout` seconds.
    func read(timeout: Double = 2, max: Int = 65_536) -> ReadResult {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return .timeout }
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return .closed }
        return .data(Array(buffer.prefix(n)))
    }

    /// Reads until the peer closes, `max` bytes arrive or `timeout` seconds pass in total.
    func readAll(timeout: Double = 2, max: Int = 65_536) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while bytes.count < max {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return (bytes, false) }
            switch read(timeout: left, max: max - bytes.count) {
            case .data(let chunk): bytes += chunk
            case .closed: return (bytes, true)
            case .timeout: return (bytes, false)
            }
        }
        return (bytes, false)
    }

    /// Waits until the peer closes (true) or `timeout` passes (false), discarding data.
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return false }
            switch read(timeout: left) {
            case .closed: return true
            case .timeout: return false
            case .data: continue
            }
        }
    }
}

/// Drivers that run the codecs' client state machines over real sockets.
enum WormLiveProbe {
    static func smb(_ host: String, port: UInt16 = 445, transport: SMBProbeOptions.Transport = .direct,
                    securityMode: SMBProbeOptions.SecurityMode = .extended) -> SMBProbeResult {
        var options = SMBProbeOptions(host: host)
        options.transport = transport
        options.securityMode = securityMode
        var probe = SMBProbe(options: options)
        var connection: WormTestSocket?
        var action = probe.start()
        for _ in 0..<200 {
            switch action {
            case .openConnection:
                connection = try? WormTestSocket.connect(host, port)
                action = connection == nil ? probe.connectFailed() : probe.connected()
            case .send(let bytes):
                connection?.send(bytes)
                action = read(connection, into: &probe)
            case .wait:
                action = read(connection, into: &probe)
            case .finished(let result):
                return result
            }
        }
        Issue.record("SMB probe did not finish")
        return probe.result
    }

    private static func read(_ connection: WormTestSocket?, into probe: inout SMBProbe) -> SMBProbe.Action {
        guard let connection else { return probe.connectionClosed() }
        switch connection.read() {
        case .data(let bytes): return probe.receive(bytes)
        case .closed: return probe.connectionClosed()
        case .timeout: return probe.timedOut()
        }
    }

    static func http(_ host: String, port: UInt16 = 80) -> HTTPProbeResult {
        var probe = HTTPProbe(host: host)
        var connection: WormTestSocket?
        var action = probe.start()
        for _ in 0..<100 {
            switch action {
            case .openConnection:
                connection = try? WormTestSocket.connect(host, port)
                action = connection == nil ? probe.connectFailed() : probe.connected()
            case .send(let bytes):
                connection?.send(bytes)
                action = .wait
            case .wait:
                guard let connection else { action = probe.connectionClosed(); continue }
                switch connection.read() {
                case .data(let bytes): action = probe.receive(bytes)
                case .closed: action = probe.connectionClosed()
                case .timeout: action = probe.timedOut()
                }
            case .finished(let result):
                return result
            }
        }
        Issue.record("HTTP probe did not finish")
        return probe.result
    }

    static func dcerpc(_ host: String, port: UInt16 = 135) -> DCERPCBindProbe.Result {
        guard let connection = try? WormTestSocket.connect(host, port) else { return .noAnswer(reason: "connect failed") }
        var probe = DCERPCBindProbe()
        var action = probe.connected()
        for _ in 0..<20 {
            switch action {
            case .send(let bytes):
                connection.send(bytes)
                action = .wait
            case .wait:
                switch connection.read() {
                case .data(let bytes): action = probe.receive(bytes)
                case .closed: action = probe.connectionClosed()
                case .timeout: action = probe.timedOut()
                }
            case .finished(let result):
                return result
            }
        }
        return .noAnswer(reason: "did not finish")
    }

    /// What a TCP service says first (nil when the connection fails).
    static func banner(_ host: String, _ port: UInt16) -> BannerClassifier.Classification? {
        guard let connection = try? WormTestSocket.connect(host, port) else { return nil }
        let (bytes, _) = connection.readAll(timeout: 0.5, max: BannerClassifier.maxBannerBytes)
        return BannerClassifier.classify(bytes)
    }

    static func nbstat(_ host: String) -> NBStat.Response? {
        guard let socket = try? WormTestSocket.udp(host, 137) else { return nil }
        socket.send(NBStat.query(transactionID: 0x4242))
        guard case .data(let reply) = socket.read(timeout: 2) else { return nil }
        return try? NBStat.parseResponse(reply, expectedTransactionID: 0x4242)
    }

    static func tftp(_ host: String) -> TFTP.Reply? {
        guard let socket = try? WormTestSocket.udp(host, 69) else { return nil }
        socket.send(TFTP.readRequest())
        guard case .data(let reply) = socket.read(timeout: 2) else { return nil }
        return TFTP.parseReply(reply)
    }

    static func conficker(_ host: String, port: UInt16, transport: ConfickerP2P.Transport) -> ConfickerP2P.ReplyValidation? {
        var rng = SystemRandomNumberGenerator()
        let probe = ConfickerP2P.makeProbe(transport: transport, using: &rng).packet
        switch transport {
        case .tcp:
            guard let connection = try? WormTestSocket.connect(host, port) else { return nil }
            connection.send(probe)
            let (bytes, _) = connection.readAll(timeout: 2, max: ConfickerP2P.maxPacket + 2)
            return ConfickerP2P.validateReply(bytes, transport: .tcp)
        case .udp:
            guard let socket = try? WormTestSocket.udp(host, port) else { return nil }
            socket.send(probe)
            guard case .data(let reply) = socket.read(timeout: 2) else { return nil }
            return ConfickerP2P.validateReply(reply, transport: .udp)
        }
    }

    /// The scan detections a safe scan of one simulated host finds, worked out from the codecs'
    /// client state machines over real sockets (a small stand-in for the agent's scanner).
    static func findings(_ host: String, unixTime: Int64 = Int64(Date().timeIntervalSince1970)) -> [String] {
        var found: Set<String> = []
        if (try? WormTestSocket.connect(host, 445)) != nil {
            found.insert(WormFinding.confickerSMB)
            let smb = smb(host)
            if case .enabled = smb.smb1 { found.insert(WormFinding.wannacrySMBv1) }
            if case .allowed = smb.nullSession, case .connected = smb.ipc { found.insert(WormFinding.zotobNullSession) }
            else if case .allowed = smb.smb2NullSession, case .connected = smb.smb2IPC { found.insert(WormFinding.smbNullSession) }
            if case .vulnerable = smb.ms17010 { found.insert(WormFinding.wannacryMS17010) }
            if case .present = smb.doublePulsar { found.insert(WormFinding.wannacryDoublePulsar) }
        }
        let web = http(host)
        if let version = web.iisVersion, version.hasPrefix("4.") || version.hasPrefix("5.") {
            found.insert(WormFinding.codeRedIIS)
            if case .live = web.idaMapping { found.insert(WormFinding.codeRedIdaMapping) }
            if web.rootExePresent { found.insert(WormFinding.codeRedRootExe) }
        }
        if case .msrpc = dcerpc(host) { found.insert(WormFinding.blasterRPC) }
        if case .windowsShell = banner(host, 4444)?.kind { found.insert(WormFinding.blasterShell) }
        if case .windowsShell = banner(host, 8888)?.kind { found.insert(WormFinding.zotobShell) }
        if case .ftp = banner(host, 33333)?.kind { found.insert(WormFinding.zotobFTP) }
        if let reply = tftp(host), reply != .notTFTP { found.insert(WormFinding.blasterTFTP) }
        if let address = IPv4Octets(host) {
            let ports = ConfickerP2P.ports(for: address, unixTime: unixTime)
            let answers = [conficker(host, port: ports.tcp1, transport: .tcp), conficker(host, port: ports.tcp2, transport: .tcp),
                           conficker(host, port: ports.udp1, transport: .udp), conficker(host, port: ports.udp2, transport: .udp)]
            if answers.contains(where: { if case .infected = $0 { true } else { false } }) { found.insert(WormFinding.confickerP2P) }
        }
        return WormFinding.all.filter(found.contains)
    }
}

/// Loopback addresses for one test: 127.77.<block>.<host>, distinct per test so that tests can
/// run in parallel.
struct WormLoopbackBlock {
    let block: UInt8

    func address(_ host: UInt8) -> IPv4Octets { IPv4Octets(127, 77, block, host) }
    func string(_ host: UInt8) -> String { address(host).description }
}

/// Helpers of the worm-host tests, in one namespace so as not to clash with other test support.
enum WormHostTesting {
    static func logger() -> Logger {
        var logger = Logger(label: "test.wormhosts")
        logger.logLevel = .warning
        return logger
    }

    /// Polls `condition` every 20 ms for at most `timeout` seconds.
    static func eventually(timeout: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// True when running as root (ports below 1024 need it).
    static var isRoot: Bool { geteuid() == 0 }
}
