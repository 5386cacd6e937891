import CordonCodecs
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of simulated worm-era hosts listening on their own addresses.
///
/// ```swift
/// let fleet = try await WormHostFleet.start([
///     WormHostSpec(address: IPv4Octets(127, 0, 1, 5), profile: .wannaCry),
///     WormHostSpec(address: IPv4Octets(127, 0, 1, 6), profile: .conficker),
/// ], limits: WormHostLimits(lifetime: .seconds(3600)), logger: logger)
/// // ... scan 127.0.1.5 and 127.0.1.6 ...
/// await fleet.stop()
/// ```
///
/// ``start(_:limits:group:logger:unixTime:)`` returns once every socket listens. Everything is
/// bounded (see ``WormHostLimits``); with a lifetime the fleet stops by itself. Only addresses in
/// 127.0.0.0/8 and 198.18.0.0/15 are accepted.
public final class WormHostFleet: Sendable {
    public let hosts: [WormHostSpec]
    public let limits: WormHostLimits
    private let group: any EventLoopGroup
    private let logger: Logger
    private let unixTime: @Sendable () -> Int64
    private let state: Mutex<State>
    private let stopped: EventLoopPromise<Void>

    private struct Listener: Sendable {
        var endpoint: WormHostEndpoint
        var channel: any Channel
        /// Conficker's second pair of ports: replaced when the week changes.
        var weekly: Bool
    }

    private struct State: Sendable {
        var listeners: [Listener] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
        var week: Int64
        var recheck: RepeatedTask?
        var lifetime: Scheduled<Void>?
        var rejectedConnections = 0
    }

    private init(hosts: [WormHostSpec], limits: WormHostLimits, group: any EventLoopGroup, logger: Logger,
                 unixTime: @escaping @Sendable () -> Int64) {
        self.hosts = hosts
        self.limits = limits
        self.group = group
        self.logger = logger
        self.unixTime = unixTime
        self.state = Mutex(State(week: ConfickerP2P.week(unixTime: unixTime())))
        self.stopped = group.next().makePromise(of: Void.self)
    }

    /// Starts every host and returns once all listen.
    ///
    /// - Parameters:
    ///   - hosts: addresses must be distinct, in 127.0.0.0/8 or 198.18.0.0/15, and configured in
    ///     this network namespace (any 127.x address is, on Linux).
    ///   - unixTime: the clock Conficker's ports follow (tests move it to a new week).
    /// - Throws: ``WormHostError``: `permissionDenied` for ports below 1024 without root or
    ///   CAP_NET_BIND_SERVICE, `addressInUse`, `addressNotAvailable`, `invalidSpec`. Nothing is
    ///   left listening after a failure.
    public static func start(_ hosts: [WormHostSpec], limits: WormHostLimits = .standard,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                             unixTime: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) async throws(WormHostError) -> WormHostFleet {
        var seen: Set<IPv4Octets> = []
        for host in hosts {
            try WormHostSpec.checkAddress(host.address)
            guard seen.insert(host.address).inserted else { throw .invalidSpec("\(host.address) is given twice") }
        }
        guard limits.maxConnections > 0, limits.maxBytesPerConnection > 0 else {
            throw .invalidSpec("limits must allow at least one connection and one byte")
        }
        let fleet = WormHostFleet(hosts: hosts, limits: limits, group: group, logger: logger, unixTime: unixTime)
        do {
            try await fleet.listen()
        } catch {
            await fleet.stop()
            throw error
        }
        fleet.scheduleTimers()
        logger.info("worm hosts listening", metadata: [
            "wormhost.hosts": "\(hosts.count)", "wormhost.endpoints": "\(fleet.endpoints.count)",
        ])
        return fleet
    }

    /// Every listening socket, in the order they were opened.
    public var endpoints: [WormHostEndpoint] {
        state.withLock { $0.listeners.map(\.endpoint) }
    }

    /// The TCP connections open right now.
    public var openConnections: Int {
        state.withLock { $0.connections.count }
    }

    /// Connections closed at once because ``WormHostLimits/maxConnections`` were open.
    public var rejectedConnections: Int {
        state.withLock { $0.rejectedConnections }
    }

    /// The Conficker ports a host listens on now (nil when it does not run the P2P service).
    public func confickerPorts(for address: IPv4Octets) -> ConfickerPorts? {
        guard hosts.contains(where: { $0.address == address && $0.profile.confickerP2P }) else { return nil }
        return ConfickerP2P.ports(for: address, week: state.withLock { $0.week })
    }

    /// Stops every listener and connection; returns once all are closed. Safe to call twice.
    public func stop() async {
        initiateStop()
        try? await stopped.futureResult.get()
    }

    /// Starts stopping without waiting (for signal handlers and graceful-shutdown callbacks).
    public func initiateStop() {
        let channels: [any Channel]? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.stopping = true
            state.recheck?.cancel()
            state.lifetime?.cancel()
            state.recheck = nil
            state.lifetime = nil
            let channels = state.listeners.map(\.channel) + Array(state.connections.values)
            state.listeners = []
            return channels
        }
        guard let channels else { return }
        let loop = group.next()
        let closed = channels.map { channel in channel.close().recover { _ in } }
        EventLoopFuture.andAllComplete(closed, on: loop).whenComplete { [stopped, logger] _ in
            logger.info("worm hosts stopped")
            stopped.succeed(())
        }
    }

    /// Returns once the fleet has stopped: by ``stop()``, ``initiateStop()`` or its lifetime.
    public func waitUntilStopped() async {
        try? await stopped.futureResult.get()
    }

    /// True once stopping has begun.
    public var isStopping: Bool {
        state.withLock { $0.stopping }
    }

    // MARK: - Listening

    private func listen() async throws(WormHostError) {
        let week = state.withLock { $0.week }
        for host in hosts {
            let profile = host.profile
            let address = host.address
            if let smb = profile.smb {
                try await bindTCP(address, 445, .smb) { SMBResponder(profile: smb) }
                if profile.netBIOSSession {
                    try await bindTCP(address, 139, .netBIOSSession) { SMBResponder(profile: smb) }
                }
            }
            if profile.rpcEndpointMapper {
                try await bindTCP(address, 135, .rpcEndpointMapper) { EndpointMapperResponder() }
            }
            if let iis = profile.iis {
                try await bindTCP(address, 80, .http) { IISResponder(iis: iis) }
            }
            for backdoor in profile.backdoors {
                let banner = backdoor.banner
                try await bindTCP(address, backdoor.port, backdoor.kind == .ftp ? .ftp : .shell) { BannerResponder(banner: banner) }
            }
            if profile.nbstat {
                try await bindUDP(address, 137, .nbstat,
                                  NBStatResponder(computerName: profile.computerName, workgroup: profile.workgroup, address: address))
            }
            if profile.tftp {
                try await bindUDP(address, 69, .tftp, TFTPResponder())
            }
            if profile.confickerP2P {
                let ports = ConfickerP2P.ports(for: address, week: week)
                try await bindConficker(address, tcp: ports.tcp1, udp: ports.udp1, weekly: false)
                try await bindConficker(address, tcp: ports.tcp2, udp: ports.udp2, weekly: true)
            }
        }
    }

    private func bindConficker(_ address: IPv4Octets, tcp: UInt16, udp: UInt16, weekly: Bool) async throws(WormHostError) {
        let taken = endpoints.filter { $0.address == address }
        if !taken.contains(where: { $0.transport == .tcp && $0.port == tcp }) {
            try await bindTCP(address, tcp, .confickerP2P, weekly: weekly) { ConfickerTCPResponder(address: address, port: tcp) }
        }
        if !taken.contains(where: { $0.transport == .udp && $0.port == udp }) {
            try await bindUDP(address, udp, .confickerP2P, ConfickerUDPResponder(address: address, port: udp), weekly: weekly)
        }
    }

    private func bindTCP(_ address: IPv4Octets, _ port: UInt16, _ service: WormHostEndpoint.Service, weekly: Bool = false,
                         _ makeResponder: @escaping @Sendable () -> any StreamResponder) async throws(WormHostError) {
        let endpoint = WormHostEndpoint(address: address, transport: .tcp, port: port, service: service)
        let handlerLimits = StreamResponderHandler.Limits(idleTimeout: TimeAmount(limits.idleTimeout),
                                                          lifetime: TimeAmount(limits.maxConnectionLifetime),
                                                          maxBytes: limits.maxBytesPerConnection)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { [self] channel in
                guard admit(channel) else {
                    return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        StreamResponderHandler(responder: makeResponder(), limits: handlerLimits))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: address.description, port: Int(port)).get()
        } catch {
            throw Self.bindError(error, endpoint: endpoint)
        }
        try record(Listener(endpoint: endpoint, channel: channel, weekly: weekly))
        logger.debug("listening", metadata: ["wormhost.endpoint": "\(endpoint)"])
    }

    private func bindUDP(_ address: IPv4Octets, _ port: UInt16, _ service: WormHostEndpoint.Service,
                         _ responder: any DatagramResponder, weekly: Bool = false) async throws(WormHostError) {
        let endpoint = WormHostEndpoint(address: address, transport: .udp, port: port, service: service)
        let rate = limits.maxDatagramRepliesPerSecond
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DatagramResponderHandler(responder: responder, maxRepliesPerSecond: rate))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: address.description, port: Int(port)).get()
        } catch {
            throw Self.bindError(error, endpoint: endpoint)
        }
        try record(Listener(endpoint: endpoint, channel: channel, weekly: weekly))
        logger.debug("listening", metadata: ["wormhost.endpoint": "\(endpoint)"])
    }

    /// Keeps a new listener, unless the fleet is stopping (then it is closed).
    private func record(_ listener: Listener) throws(WormHostError) {
        let accepted = state.withLock { state in
            guard !state.stopping else { return false }
            state.listeners.append(listener)
            return true
        }
        if !accepted {
            listener.channel.close(promise: nil)
            throw .stopped("the fleet was stopped while \(listener.endpoint) was starting")
        }
    }

    /// Counts a new connection in, unless the limit is reached or the fleet is stopping.
    private func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state in
            guard !state.stopping, state.connections.count < limits.maxConnections else {
                state.rejectedConnections += 1
                return false
            }
            state.connections[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.connections.removeValue(forKey: id) }
            }
        }
        return admitted
    }

    static func bindError(_ error: any Error, endpoint: WormHostEndpoint) -> WormHostError {
        let what = "\(endpoint.address):\(endpoint.port)/\(endpoint.transport.rawValue) (\(endpoint.service.rawValue))"
        guard let io = error as? IOError else { return .bindFailed("cannot listen on \(what): \(error)") }
        switch io.errnoCode {
        case EACCES:
            return .permissionDenied("cannot listen on \(what): permission denied. Ports below 1024 need root or CAP_NET_BIND_SERVICE: "
                                     + "run as root, or `setcap cap_net_bind_service=+ep` on the binary")
        case EADDRINUSE:
            return .addressInUse("cannot listen on \(what): something else already listens there")
        case EADDRNOTAVAIL:
            return .addressNotAvailable("cannot listen on \(what): the address is not configured on any interface of this network namespace")
        default:
            return .bindFailed("cannot listen on \(what): \(io)")
        }
    }

    // MARK: - Timers

    private func scheduleTimers() {
        let loop = group.next()
        let hasConficker = hosts.contains { $0.profile.confickerP2P }
        let recheck = hasConficker ? loop.scheduleRepeatedAsyncTask(
            initialDelay: TimeAmount(limits.confickerRecheckInterval), delay: TimeAmount(limits.confickerRecheckInterval)
        ) { [self] task in
            let promise = loop.makePromise(of: Void.self)
            // The rebinding is async (bind/close); the repeated task waits for it before the next round.
            promise.completeWithTask { await self.followWeek() }
            return promise.futureResult
        } : nil
        let lifetime = limits.lifetime.map { lifetime in
            loop.scheduleTask(in: TimeAmount(lifetime)) { [self] in
                logger.info("worm hosts: lifetime over, stopping", metadata: ["wormhost.lifetime": "\(lifetime)"])
                initiateStop()
            }
        }
        let stopNow = state.withLock { state in
            if state.stopping { return true }
            state.recheck = recheck
            state.lifetime = lifetime
            return false
        }
        if stopNow {
            recheck?.cancel()
            lifetime?.cancel()
        }
    }

    /// When the week changed, moves every Conficker host's second pair of ports.
    func followWeek() async {
        let week = ConfickerP2P.week(unixTime: unixTime())
        let old: [Listener]? = state.withLock { state in
            guard !state.stopping, week != state.week else { return nil }
            state.week = week
            let weekly = state.listeners.filter(\.weekly)
            state.listeners.removeAll(where: \.weekly)
            return weekly
        }
        guard let old else { return }
        for listener in old { try? await listener.channel.close().get() }
        for host in hosts where host.profile.confickerP2P {
            let ports = ConfickerP2P.ports(for: host.address, week: week)
            do {
                try await bindConficker(host.address, tcp: ports.tcp2, udp: ports.udp2, weekly: true)
                logger.info("conficker ports moved for the new week",
                            metadata: ["wormhost.address": "\(host.address)", "wormhost.ports": "\(ports)"])
            } catch {
                logger.error("conficker ports for the new week", metadata: ["wormhost.address": "\(host.address)", "error": "\(error)"])
            }
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
                            ? Int64.max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
