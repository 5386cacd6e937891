import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// ICMP echo discovery of addresses whose probed ports all stayed silent: a host that drops
/// every probed port but answers ping is up, with nothing reachable (nmap -Pn lists it up with
/// every port filtered; without this it read as down).
///
/// One socket for the whole scan: a raw ICMP socket where the agent has CAP_NET_RAW (it runs as
/// root on the jump host), else a Linux ping socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed by
/// `net.ipv4.ping_group_range`), else none and the scan says why in its stats. One thread reads
/// the replies and ends each wait at its answer or its deadline. Every echo request passes the
/// scope gate first; at most one request per address is outstanding.
final class ICMPEchoPinger: Sendable {
    /// The kind of socket in use ("raw", "ping socket").
    let kind: String
    private let fd: Int32
    private let raw: Bool
    private let identifier: UInt16
    private let gate: ScopeGate
    private let sequence = Atomic<UInt16>(0)
    private let replies = Atomic<Int>(0)

    private struct Waiter {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var waiters: [UInt32: Waiter] = [:]
        var stopped = false
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// The most bytes read of one reply (an IP header of up to 60 bytes and the echo).
    static let maxPacket = 256
    /// What an echo request carries after its 8-byte header.
    static let payload = Array("cordon echo probe".utf8)

    /// Opens the socket (in `networkNamespace`, when given) and starts the reader, or says why not.
    static func open(gate: ScopeGate, networkNamespace: String? = nil) -> Result<ICMPEchoPinger, ScanSkip> {
        let opened: Result<(Int32, Bool), ScanSkip>
        if let networkNamespace {
            // The socket belongs to the namespace of the thread that makes it.
            let box = Mutex<Result<(Int32, Bool), ScanSkip>?>(nil)
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                if let failure = PortScanEngine.Reactor.joinNetworkNamespace(networkNamespace) {
                    box.withLock { $0 = .failure(ScanSkip(failure)) }
                } else {
                    box.withLock { $0 = openSocket() }
                }
                done.signal()
            }
            thread.start()
            done.wait()   // two system calls away
            opened = box.withLock { $0! }
        } else {
            opened = openSocket()
        }
        switch opened {
        case .failure(let skip): return .failure(skip)
        case .success(let (fd, raw)): return .success(ICMPEchoPinger(fd: fd, raw: raw, gate: gate))
        }
    }

    private static func openSocket() -> Result<(Int32, Bool), ScanSkip> {
        var fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMP))
        if fd >= 0 { return .success((fd, true)) }
        let rawErrno = errno
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMP))
        if fd >= 0 { return .success((fd, false)) }
        let pingErrno = errno
        return .failure(ScanSkip("no ICMP socket: raw needs CAP_NET_RAW (\(String(cString: strerror(rawErrno)))), "
                                 + "a ping socket needs net.ipv4.ping_group_range (\(String(cString: strerror(pingErrno))))"))
    }

    private init(fd: Int32, raw: Bool, gate: ScopeGate) {
        self.fd = fd
        self.raw = raw
        self.kind = raw ? "raw" : "ping socket"
        self.gate = gate
        self.identifier = UInt16.random(in: 1...UInt16.max)
        let thread = Thread { [self] in readLoop() }
        thread.name = "cordon-icmp-echo"
        thread.start()
    }

    /// Echo replies that ended a wait.
    var answered: Int { replies.load(ordering: .relaxed) }

    /// Sends up to `tries` echo requests, each waiting `timeout()` (asked again for each try, so
    /// that it follows the engine's measured round trips) for the reply. True when the
    /// address answered; false on silence, an address outside the scope, a send error, or once
    /// the pinger is closed.
    func ping(_ address: IPv4Address, timeout: @Sendable () -> Duration, tries: Int) async -> Bool {
        for _ in 0..<max(1, tries) {
            let timeout = timeout()
            guard !Task.isCancelled else { return false }
            guard gate.admitEcho(address) else { return false }
            let answered = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let registered = state.withLock { state -> Bool in
                        guard !state.stopped, state.waiters[address.value] == nil else { return false }
                        state.waiters[address.value] = Waiter(deadline: .now + timeout, continuation: continuation)
                        return true
                    }
                    guard registered else { return continuation.resume(returning: false) }
                    if Task.isCancelled || !send(to: address) { abandon(address) }
                }
            } onCancel: {
                abandon(address)
            }
            if answered { return true }
        }
        return false
    }

    /// Ends the wait for `address`, unanswered (cancelled, or the request could not be sent).
    private func abandon(_ address: IPv4Address) {
        if let waiter = state.withLock({ $0.waiters.removeValue(forKey: address.value) }) {
            waiter.continuation.resume(returning: false)
        }
    }

    /// Stops the reader, ends every wait (unanswered) and closes the socket.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = state.withLock { state -> Bool in
                state.stopped = true
                guard !state.exited else { return false }
                state.exitWaiters.append(continuation)
                return true
            }
            if !running { continuation.resume() }
        }
    }

    // MARK: - Packets

    /// An echo request: type 8, code 0, checksum, identifier, sequence, payload.
    static func echoRequest(identifier: UInt16, sequence: UInt16) -> [UInt8] {
        var packet: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += payload
        let sum = checksum(packet)
        packet[2] = UInt8(sum >> 8)
        packet[3] = UInt8(sum & 0xFF)
        return packet
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The identifier of an echo reply (`raw`: the packet starts with its IP header), or nil for
    /// anything else (our own requests seen on loopback, errors, other ICMP types, truncation).
    static func echoReplyIdentifier(_ packet: ArraySlice<UInt8>, raw: Bool) -> UInt16? {
        var icmp = packet
        if raw {
            guard let first = packet.first, first >> 4 == 4 else { return nil }
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, packet.count >= headerLength + 8 else { return nil }
            icmp = packet.dropFirst(headerLength)
        }
        guard icmp.count >= 8 else { return nil }
        let start = icmp.startIndex
        guard icmp[start] == 0, icmp[start + 1] == 0 else { return nil }
        return UInt16(icmp[start + 4]) << 8 | UInt16(icmp[start + 5])
    }

    private func send(to address: IPv4Address) -> Bool {
        let packet = Self.echoRequest(identifier: identifier, sequence: sequence.wrappingAdd(1, ordering: .relaxed).newValue)
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_addr.s_addr = address.value.bigEndian
        let sent = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return sent == packet.count
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: Self.maxPacket)
        while !state.withLock({ $0.stopped }) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 20) > 0 {
                while true {
                    var source = sockaddr_in()
                    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let count = buffer.withUnsafeMutableBytes { bytes in
                        withUnsafeMutablePointer(to: &source) { pointer in
                            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                recvfrom(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, &length)
                            }
                        }
                    }
                    guard count > 0 else { break }
                    // A ping socket's identifier is the kernel's, which already matched it to us.
                    guard let id = Self.echoReplyIdentifier(buffer[0..<count], raw: raw), !raw || id == identifier else { continue }
                    let from = UInt32(bigEndian: source.sin_addr.s_addr)
                    if let waiter = state.withLock({ $0.waiters.removeValue(forKey: from) }) {
                        replies.add(1, ordering: .relaxed)
                        waiter.continuation.resume(returning: true)
                    }
                }
            }
            let now = ContinuousClock.now
            let expired = state.withLock { state -> [Waiter] in
                let overdue = state.waiters.filter { $0.value.deadline <= now }
                for key in overdue.keys { state.waiters.removeValue(forKey: key) }
                return Array(overdue.values)
            }
            for waiter in expired { waiter.continuation.resume(returning: false) }
        }
        Glibc.close(fd)
        let (left, exitWaiters) = state.withLock { state -> ([Waiter], [CheckedContinuation<Void, Never>]) in
            state.exited = true
            defer { state.waiters = [:]; state.exitWaiters = [] }
            return (Array(state.waiters.values), state.exitWaiters)
        }
        for waiter in left { waiter.continuation.resume(returning: false) }
        for waiter in exitWaiters { waiter.resume() }
    }
}

/// Why an optional part of the scan did not run.
struct ScanSkip: Error, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
