/// The endpoint-mapper check on TCP 135 as a state machine: send the BIND, reassemble one PDU
/// (bounded), classify the answer.
public struct DCERPCBindProbe: Sendable {
    /// The outcome.
    public enum Result: Equatable, Sendable {
        /// A bind_ack: the port speaks MSRPC (Blaster's target).
        case msrpc(DCERPC.BindAck)
        case bindNak(reason: UInt16)
        case fault(status: UInt32)
        /// Something answered that is not a DCE/RPC bind reply (evidence hex-encoded).
        case notDCERPC(evidence: String)
        /// No complete answer (closed, timeout).
        case noAnswer(reason: String)
    }

    public enum Action: Equatable, Sendable {
        case send([UInt8])
        case wait
        case finished(Result)
    }

    private let callID: UInt32
    private var buffer: [UInt8] = []
    private var done = false

    public init(callID: UInt32 = 1) {
        self.callID = callID
    }

    /// The connection is open: send the BIND.
    public mutating func connected() -> Action {
        .send(DCERPC.bindRequest(callID: callID))
    }

    public mutating func receive(_ bytes: [UInt8]) -> Action {
        guard !done else { return .wait }
        buffer.append(contentsOf: bytes.prefix(DCERPC.maxPDUSize + 16))
        do {
            guard let length = try DCERPC.pduLength(buffer) else { return .wait }
            guard buffer.count >= length else { return .wait }
            return finish(reply(try DCERPC.parseBindReply(Array(buffer.prefix(length)))))
        } catch {
            return finish(.notDCERPC(evidence: Evidence.hex(buffer, maxBytes: 32)))
        }
    }

    public mutating func connectionClosed() -> Action {
        finish(buffer.isEmpty ? .noAnswer(reason: "connection closed") : .notDCERPC(evidence: Evidence.hex(buffer, maxBytes: 32)))
    }

    public mutating func timedOut() -> Action {
        finish(.noAnswer(reason: "timeout"))
    }

    private func reply(_ reply: DCERPC.BindReply) -> Result {
        switch reply {
        case .bindAck(let ack): .msrpc(ack)
        case .bindNak(let reason): .bindNak(reason: reason)
        case .fault(let status): .fault(status: status)
        case .other(let type): .notDCERPC(evidence: "DCE/RPC packet type \(type)")
        }
    }

    private mutating func finish(_ result: Result) -> Action {
        done = true
        return .finished(result)
    }
}
