/// Runs a ``StreamProbe`` over a ``StreamTransport`` against one host and port, with every read
/// bounded by `stepTimeout` and the whole probe by `deadline`: a host that trickles bytes or
/// never closes is cut off when the deadline passes (the probe then sees timeouts until it
/// finishes), and the number of steps is bounded too.
public struct ProbeDriver: Sendable {
    public struct Limits: Sendable, Equatable {
        public var connectTimeout: Duration
        public var stepTimeout: Duration
        /// The whole probe, all its connections included.
        public var deadline: Duration
        public var maxSteps: Int

        public init(connectTimeout: Duration = .seconds(2), stepTimeout: Duration = .seconds(3), deadline: Duration = .seconds(15),
                    maxSteps: Int = 256) {
            self.connectTimeout = connectTimeout
            self.stepTimeout = stepTimeout
            self.deadline = deadline
            self.maxSteps = max(1, maxSteps)
        }
    }

    /// How a run ended.
    public struct Run<Output: Sendable>: Sendable {
        public var output: Output
        /// False when cancelled or cut at the step limit.
        public var finished: Bool
        /// Connections opened.
        public var connections: Int
        /// True when the deadline cut the probe short.
        public var hitDeadline: Bool
    }

    public let transport: any StreamTransport
    public let limits: Limits

    public init(transport: any StreamTransport, limits: Limits) {
        self.transport = transport
        self.limits = limits
    }

    /// With `tls`, every connection of the probe runs over TLS (the probe speaks plaintext).
    public func run<P: StreamProbe>(_ initial: P, address: IPv4Address, port: UInt16, tls: Bool = false) async -> Run<P.Output> {
        var probe = initial
        let clock = ContinuousClock()
        let deadline = clock.now + limits.deadline
        var connection: (any StreamConnection)?
        var connections = 0
        var hitDeadline = false
        var step = probe.start()
        defer { connection?.close() }

        func remaining() -> Duration { deadline - clock.now }

        for _ in 0..<limits.maxSteps {
            if Task.isCancelled {
                return Run(output: probe.partial, finished: false, connections: connections, hitDeadline: hitDeadline)
            }
            switch step {
            case .finished(let output):
                return Run(output: output, finished: true, connections: connections, hitDeadline: hitDeadline)
            case .openConnection:
                connection?.close()
                connection = nil
                let left = remaining()
                guard left > .zero else {
                    hitDeadline = true
                    step = probe.connectFailed()
                    continue
                }
                let timeout = min(limits.connectTimeout, left)
                connection = tls ? await transport.connectTLS(to: address, port: port, timeout: timeout)
                                 : await transport.connect(to: address, port: port, timeout: timeout)
                if connection != nil {
                    connections += 1
                    step = probe.connected()
                } else {
                    step = probe.connectFailed()
                }
            case .send(let bytes):
                guard let connection else {
                    step = probe.connectionClosed()
                    continue
                }
                connection.send(bytes)
                step = await read(&probe, connection, remaining(), &hitDeadline)
            case .wait:
                guard let connection else {
                    step = probe.connectionClosed()
                    continue
                }
                step = await read(&probe, connection, remaining(), &hitDeadline)
            }
        }
        if case .finished(let output) = step {
            return Run(output: output, finished: true, connections: connections, hitDeadline: hitDeadline)
        }
        return Run(output: probe.partial, finished: false, connections: connections, hitDeadline: hitDeadline)
    }

    private func read<P: StreamProbe>(_ probe: inout P, _ connection: any StreamConnection, _ left: Duration,
                                      _ hitDeadline: inout Bool) async -> ProbeStep<P.Output> {
        guard left > .zero else {
            hitDeadline = true
            connection.close()
            return probe.timedOut()
        }
        switch await connection.read(timeout: min(limits.stepTimeout, left)) {
        case .bytes(let bytes): return probe.receive(bytes)
        case .closed: return probe.connectionClosed()
        case .timedOut:
            if left < limits.stepTimeout { hitDeadline = true }
            return probe.timedOut()
        }
    }
}
