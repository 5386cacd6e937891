/// A complete (bounded) HTTP response: the head and the first bytes of the body.
public struct HTTPResponse: Equatable, Sendable {
    public var head: HTTPResponseHead
    /// At most the exchange's body limit; raw (not de-chunked).
    public var body: [UInt8]
    /// Set when the head never ended (too large, or the peer stopped or went quiet): `head`
    /// then holds the lines read before the cut, and this says why it was cut.
    public var headCutOff: String?

    public init(head: HTTPResponseHead, body: [UInt8], headCutOff: String? = nil) {
        self.head = head
        self.body = body
        self.headCutOff = headCutOff
    }
}

/// One request and its response on one connection (`Connection: close`), as a state machine.
public struct HTTPExchange: Sendable {
    public enum Action: Equatable, Sendable {
        case send([UInt8])
        case wait
        case finished(Outcome)
    }

    public enum Outcome: Equatable, Sendable {
        case response(HTTPResponse)
        /// The peer sent something that is not an HTTP response (sanitized excerpt).
        case notHTTP(evidence: String)
        case noResponse(reason: String)
    }

    public let request: HTTPRequest
    public let maxBodyBytes: Int
    private var parser: HTTPResponseHeadParser
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var received: [UInt8] = []
    private var done = false

    public init(request: HTTPRequest, maxBodyBytes: Int = 8192, maxHeadSize: Int = 16 * 1024) {
        self.request = request
        self.maxBodyBytes = max(0, maxBodyBytes)
        self.parser = HTTPResponseHeadParser(maxHeadSize: maxHeadSize)
    }

    public mutating func connected() -> Action { .send(request.encode()) }

    public mutating func receive(_ bytes: [UInt8]) -> Action {
        guard !done else { return .wait }
        if head == nil {
            if received.count < 64 { received.append(contentsOf: bytes.prefix(64 - received.count)) }
            switch parser.feed(bytes) {
            case .needMoreData:
                return .wait
            case .invalid(let error):
                // A head over the bound still tells what came before it (a Server: line).
                if error == .tooLarge(), let partial = parser.partialHead() {
                    return finish(.response(HTTPResponse(head: partial, body: [], headCutOff: error.reason)))
                }
                return finish(.notHTTP(evidence: Evidence.text(received, maxLength: 64)))
            case .complete(let parsed, let prefix):
                head = parsed
                appendBody(prefix)
            }
        } else {
            appendBody(bytes)
        }
        guard let head else { return .wait }
        if head.statusCode == 204 || head.statusCode == 304 || request.method == "HEAD" || body.count >= maxBodyBytes {
            return finish(.response(HTTPResponse(head: head, body: body)))
        }
        if let length = head.contentLength, body.count >= min(length, maxBodyBytes) {
            return finish(.response(HTTPResponse(head: head, body: body)))
        }
        return .wait
    }

    public mutating func connectionClosed() -> Action {
        if let head { return finish(.response(HTTPResponse(head: head, body: body))) }
        if let partial = parser.partialHead() {
            return finish(.response(HTTPResponse(head: partial, body: [], headCutOff: "connection closed before the head ended")))
        }
        return finish(received.isEmpty ? .noResponse(reason: "connection closed") : .notHTTP(evidence: Evidence.text(received, maxLength: 64)))
    }

    public mutating func timedOut() -> Action {
        if let head { return finish(.response(HTTPResponse(head: head, body: body))) }
        if let partial = parser.partialHead() {
            return finish(.response(HTTPResponse(head: partial, body: [], headCutOff: "timeout before the head ended")))
        }
        return finish(.noResponse(reason: "timeout"))
    }

    private mutating func appendBody(_ bytes: some Collection<UInt8>) {
        let room = maxBodyBytes - body.count
        if room > 0 { body.append(contentsOf: bytes.prefix(room)) }
    }

    private mutating func finish(_ outcome: Outcome) -> Action {
        done = true
        return .finished(outcome)
    }
}
