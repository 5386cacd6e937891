// libFuzzer target: HTTP response heads (TCP 80, Code Red checks): the incremental head parser,
// one exchange, and the whole HTTPProbe (`GET /`, then .ida and root.exe on IIS), one segment of
// the input per connection (see FuzzInput).
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let segments = input.segments()
    let first = segments[0]

    // The head parser, whole and in socket-sized reads: same head either way (below the size bound,
    // which a read may cross before the blank line arrives).
    var whole = HTTPResponseHeadParser()
    let wholeState = whole.feed(first)
    _ = whole.partialHead()
    var pieces = HTTPResponseHeadParser()
    var piecesState = HTTPResponseHeadParser.State.needMoreData
    for read in input.reads(first, record: FuzzInput.wholeRecord) {
        piecesState = pieces.feed(read)
    }
    _ = pieces.partialHead()
    if first.count <= pieces.maxHeadSize {
        switch (wholeState, piecesState) {
        case (.complete(let a, _), .complete(let b, _)): invariant(a == b, "head depends on how the reply was cut")
        case (.complete, _), (_, .complete): fatalError("head complete in one cut and not in another: \(wholeState) / \(piecesState)")
        default: break
        }
    }

    // One exchange over the first segment.
    var exchange = HTTPExchange(request: try! HTTPRequest(path: IIS.idaProbePath, host: "198.18.0.1"))
    _ = exchange.connected()
    var outcome: HTTPExchange.Outcome?
    for read in input.reads(first, record: FuzzInput.wholeRecord) {
        if case .finished(let o) = exchange.receive(read) { outcome = o; break }
    }
    if outcome == nil, case .finished(let o) = input.closesAtEnd ? exchange.connectionClosed() : exchange.timedOut() { outcome = o }
    guard let outcome else { fatalError("HTTPExchange did not finish at the end of input") }
    if case .response(let response) = outcome {
        invariant(response.body.count <= exchange.maxBodyBytes, "body over the bound")
        _ = IIS.idaMappingEvidence(response)
        _ = IIS.classifyRootExe(response)
        _ = IIS.version(serverHeader: response.head["Server"])
        _ = response.head.contentLength
    }

    // The probe: one segment per connection.
    var probe = HTTPProbe(host: "198.18.0.1", onlyIfIIS: input.control & 0x08 == 0)
    var action = probe.start()
    var connection = -1
    var reads: [[UInt8]] = []
    for _ in 0..<10_000 {
        switch action {
        case .openConnection:
            connection += 1
            reads = connection < segments.count ? input.reads(segments[connection], record: FuzzInput.wholeRecord) : []
            action = connection < segments.count ? probe.connected() : probe.connectFailed()
        case .send, .wait:
            if reads.isEmpty {
                action = input.closesAtEnd ? probe.connectionClosed() : probe.timedOut()
            } else {
                action = probe.receive(reads.removeFirst())
            }
        case .finished(let result):
            _ = result.rootExePresent
            return 0
        }
    }
    fatalError("HTTPProbe did not finish")
}
