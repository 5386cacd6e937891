import CordonCodecs

/// What a safe probe asks its driver to do next (the codecs' action enums, unified).
public enum ProbeStep<Output: Sendable>: Sendable {
    /// Close any current connection and open a new one to the same host and port.
    case openConnection
    /// Write the bytes, then read.
    case send([UInt8])
    /// Read.
    case wait
    case finished(Output)
}

/// A client state machine over one or more TCP connections to one port, as the codecs' probes
/// are. ``ProbeDriver`` runs it over a ``StreamTransport``.
public protocol StreamProbe: Sendable {
    associatedtype Output: Sendable
    mutating func start() -> ProbeStep<Output>
    mutating func connected() -> ProbeStep<Output>
    mutating func connectFailed() -> ProbeStep<Output>
    mutating func receive(_ bytes: [UInt8]) -> ProbeStep<Output>
    mutating func connectionClosed() -> ProbeStep<Output>
    mutating func timedOut() -> ProbeStep<Output>
    /// What is known when the driver gives up on the probe (step limit).
    var partial: Output { get }
}

// MARK: - Adapters for the codecs' state machines

/// ``SMBProbe`` (SMB1-only negotiate, SMB2 negotiate, null session + IPC$, NTLMSSP, MS17-010, DoublePulsar).
public struct SMBStreamProbe: StreamProbe {
    public var probe: SMBProbe
    public init(options: SMBProbeOptions) { probe = SMBProbe(options: options) }
    public mutating func start() -> ProbeStep<SMBProbeResult> { map(probe.start()) }
    public mutating func connected() -> ProbeStep<SMBProbeResult> { map(probe.connected()) }
    public mutating func connectFailed() -> ProbeStep<SMBProbeResult> { map(probe.connectFailed()) }
    public mutating func receive(_ bytes: [UInt8]) -> ProbeStep<SMBProbeResult> { map(probe.receive(bytes)) }
    public mutating func connectionClosed() -> ProbeStep<SMBProbeResult> { map(probe.connectionClosed()) }
    public mutating func timedOut() -> ProbeStep<SMBProbeResult> { map(probe.timedOut()) }
    public var partial: SMBProbeResult { probe.result }

    private func map(_ action: SMBProbe.Action) -> ProbeStep<SMBProbeResult> {
        switch action {
        case .openConnection: .openConnection
        case .send(let bytes): .send(bytes)
        case .wait: .wait
        case .finished(let result): .finished(result)
        }
    }
}

/// ``HTTPProbe`` (`GET /`, then on IIS `/NULL.ida` and the root.exe paths).
public struct HTTPStreamProbe: StreamProbe {
    public var probe: HTTPProbe
    public init(host: String) { probe = HTTPProbe(host: host) }
    public mutating func start() -> ProbeStep<HTTPProbeResult> { map(probe.start()) }
    public mutating func connected() -> ProbeStep<HTTPProbeResult> { map(probe.connected()) }
    public mutating func connectFailed() -> ProbeStep<HTTPProbeResult> { map(probe.connectFailed()) }
    public mutating func receive(_ bytes: [UInt8]) -> ProbeStep<HTTPProbeResult> { map(probe.receive(bytes)) }
    public mutating func connectionClosed() -> ProbeStep<HTTPProbeResult> { map(probe.connectionClosed()) }
    public mutating func timedOut() -> ProbeStep<HTTPProbeResult> { map(probe.timedOut()) }
    public var partial: HTTPProbeResult { probe.result }

    private func map(_ action: HTTPProbe.Action) -> ProbeStep<HTTPProbeResult> {
        switch action {
        case .openConnection: .openConnection
        case .send(let bytes): .send(bytes)
        case .wait: .wait
        case .finished(let result): .finished(result)
        }
    }
}

/// ``DCERPCBindProbe`` (endpoint-mapper bind on 135), on one connection.
public struct DCERPCStreamProbe: StreamProbe {
    public var probe = DCERPCBindProbe()
    public init() {}
    public mutating func start() -> ProbeStep<DCERPCBindProbe.Result> { .openConnection }
    public mutating func connected() -> ProbeStep<DCERPCBindProbe.Result> { map(probe.connected()) }
    public mutating func connectFailed() -> ProbeStep<DCERPCBindProbe.Result> { .finished(.noAnswer(reason: "connection failed")) }
    public mutating func receive(_ bytes: [UInt8]) -> ProbeStep<DCERPCBindProbe.Result> { map(probe.receive(bytes)) }
    public mutating func connectionClosed() -> ProbeStep<DCERPCBindProbe.Result> { map(probe.connectionClosed()) }
    public mutating func timedOut() -> ProbeStep<DCERPCBindProbe.Result> { map(probe.timedOut()) }
    public var partial: DCERPCBindProbe.Result { .noAnswer(reason: "cut off") }

    private func map(_ action: DCERPCBindProbe.Action) -> ProbeStep<DCERPCBindProbe.Result> {
        switch action {
        case .send(let bytes): .send(bytes)
        case .wait: .wait
        case .finished(let result): .finished(result)
        }
    }
}

/// Reads what a service says first (at most ``BannerClassifier/maxBannerBytes``). Finishes early
/// once a shell prompt or a complete FTP greeting line is in.
public struct BannerStreamProbe: StreamProbe {
    /// The banner bytes; nil when the connect failed.
    public typealias Output = [UInt8]?
    public private(set) var bytes: [UInt8] = []
    private var connectedOnce = false

    public init() {}
    public mutating func start() -> ProbeStep<Output> { .openConnection }
    public mutating func connected() -> ProbeStep<Output> {
        connectedOnce = true
        return .wait
    }
    public mutating func connectFailed() -> ProbeStep<Output> { .finished(nil) }
    public mutating func receive(_ input: [UInt8]) -> ProbeStep<Output> {
        let room = BannerClassifier.maxBannerBytes - bytes.count
        if room > 0 { bytes.append(contentsOf: input.prefix(room)) }
        if bytes.count >= BannerClassifier.maxBannerBytes { return .finished(bytes) }
        switch BannerClassifier.classify(bytes).kind {
        case .windowsShell(_, let prompt) where prompt != nil: return .finished(bytes)
        case .ftp where bytes.contains(0x0A): return .finished(bytes)
        default: return .wait
        }
    }
    public mutating func connectionClosed() -> ProbeStep<Output> { .finished(bytes) }
    public mutating func timedOut() -> ProbeStep<Output> { .finished(bytes) }
    public var partial: Output { connectedOnce ? bytes : nil }
}

/// Conficker.C's P2P probe over TCP: send the script's packet, validate the reply.
public struct ConfickerTCPStreamProbe: StreamProbe {
    /// Nil when nothing came back (or the connect failed).
    public typealias Output = ConfickerP2P.ReplyValidation?
    private let packet: [UInt8]
    private var buffer: [UInt8] = []

    public init(key1: UInt32, key2: UInt32) {
        packet = ConfickerP2P.makeProbe(transport: .tcp, key1: key1, key2: key2)
    }

    public mutating func start() -> ProbeStep<Output> { .openConnection }
    public mutating func connected() -> ProbeStep<Output> { .send(packet) }
    public mutating func connectFailed() -> ProbeStep<Output> { .finished(nil) }
    public mutating func receive(_ bytes: [UInt8]) -> ProbeStep<Output> {
        let room = ConfickerP2P.maxPacket + 2 - buffer.count
        if room > 0 { buffer.append(contentsOf: bytes.prefix(room)) }
        let verdict = ConfickerP2P.validateReply(buffer, transport: .tcp)
        if case .incomplete = verdict, buffer.count < ConfickerP2P.maxPacket + 2 { return .wait }
        return .finished(verdict)
    }
    public mutating func connectionClosed() -> ProbeStep<Output> { .finished(partial) }
    public mutating func timedOut() -> ProbeStep<Output> { .finished(partial) }
    public var partial: Output {
        guard !buffer.isEmpty else { return nil }
        let verdict = ConfickerP2P.validateReply(buffer, transport: .tcp)
        if case .incomplete = verdict { return .notConficker(reason: "short reply") }
        return verdict
    }
}
