import Testing
@testable import CordonCodecs

@Suite struct HTTPRequestTests {
    @Test func requestHasHostConnectionCloseAndPlainUserAgent() throws {
        let request = try HTTPRequest(path: "/NULL.ida", host: "198.18.0.5")
        #expect(String(decoding: request.encode(), as: UTF8.self)
                == "GET /NULL.ida HTTP/1.1\r\nHost: 198.18.0.5\r\nUser-Agent: Cordon/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    }

    @Test func refusesQueryStringsInjectionAndBadHosts() {
        #expect(throws: CodecError.invalidArgument()) { try HTTPRequest(path: "/scripts/root.exe?/c+dir", host: "h") }
        #expect(throws: CodecError.invalidArgument()) { try HTTPRequest(path: "/a\r\nX-Evil: 1", host: "h") }
        #expect(throws: CodecError.invalidArgument()) { try HTTPRequest(path: "relative", host: "h") }
        #expect(throws: CodecError.invalidArgument()) { try HTTPRequest(path: "/", host: "h\r\nX: y") }
        #expect(throws: CodecError.invalidArgument()) { try HTTPRequest(method: "get", path: "/", host: "h") }
    }
}

@Suite struct HTTPResponseHeadParserTests {
    @Test func parsesIncrementallyWithCaseInsensitiveHeaders() {
        var parser = HTTPResponseHeadParser()
        let bytes = Array("HTTP/1.1 404 Object Not Found\r\nserver: Microsoft-IIS/5.0\r\nContent-Length: 5\r\n\r\nhello".utf8)
        var state = HTTPResponseHeadParser.State.needMoreData
        for byte in bytes { state = parser.feed([byte]); if state != .needMoreData { break } }
        guard case .complete(let head, let body) = state else { Issue.record("\(state)"); return }
        #expect(head.statusCode == 404)
        #expect(head.reason == "Object Not Found")
        #expect(head["SERVER"] == "Microsoft-IIS/5.0")
        #expect(head.contentLength == 5)
        #expect(body == [])
    }

    @Test func bareLFAndBodyPrefix() {
        var parser = HTTPResponseHeadParser()
        guard case .complete(let head, let body) = parser.feed(Array("HTTP/1.0 200 OK\nServer: x\n\nabc".utf8)) else {
            Issue.record("not complete"); return
        }
        #expect(head.statusCode == 200 && head["server"] == "x" && body == Array("abc".utf8))
    }

    @Test func boundsHeadSizeHeaderCountAndRejectsNonHTTP() {
        var small = HTTPResponseHeadParser(maxHeadSize: 100)
        #expect(small.feed(Array("HTTP/1.1 200 OK\r\n".utf8) + [UInt8](repeating: 0x41, count: 200)) == .invalid(.tooLarge()))
        var counted = HTTPResponseHeadParser(maxHeaderCount: 3)
        let many = "HTTP/1.1 200 OK\r\n" + String(repeating: "A: b\r\n", count: 4) + "\r\n"
        #expect(counted.feed(Array(many.utf8)) == .invalid(.tooLarge()))
        var notHTTP = HTTPResponseHeadParser()
        #expect(notHTTP.feed(Array("SSH-2.0-OpenSSH\r\n".utf8)) == .invalid(.invalidValue()))
        var badCode = HTTPResponseHeadParser()
        #expect(badCode.feed(Array("HTTP/1.1 2x0 OK\r\n\r\n".utf8)) == .invalid(.invalidValue()))
    }

    /// A hostile server sends its status line and Server header, then a header that never ends:
    /// what came before the cut is kept (nmap reports that banner too), and the response says it
    /// was cut off. The same when the peer goes quiet or closes mid-head.
    @Test func aHeadThatNeverEndsKeepsWhatCameBeforeTheCut() throws {
        let start = Array("HTTP/1.0 200 OK\r\nServer: Microsoft-IIS/5.0\r\nX-Endless: ".utf8)
        var exchange = HTTPExchange(request: try HTTPRequest(path: "/", host: "h"))
        _ = exchange.connected()
        #expect(exchange.receive(start) == .wait)
        var outcome: HTTPExchange.Action = .wait
        for _ in 0..<40 where outcome == .wait { outcome = exchange.receive([UInt8](repeating: 0x61, count: 1024)) }
        guard case .finished(.response(let cut)) = outcome else { Issue.record("no response: \(outcome)"); return }
        #expect(cut.head.statusCode == 200 && cut.head["Server"] == "Microsoft-IIS/5.0")
        #expect(cut.head["X-Endless"] == nil, "the unfinished line is not taken")
        #expect(cut.headCutOff?.contains("over 16384 bytes") == true, "\(cut.headCutOff ?? "nil")")

        for end in ["timeout", "closed"] {
            var quiet = HTTPExchange(request: try HTTPRequest(path: "/", host: "h"))
            _ = quiet.connected()
            _ = quiet.receive(start)
            let action = end == "timeout" ? quiet.timedOut() : quiet.connectionClosed()
            guard case .finished(.response(let r)) = action else { Issue.record("\(end): \(action)"); continue }
            #expect(r.head["Server"] == "Microsoft-IIS/5.0" && r.headCutOff != nil, "\(end)")
        }
        // Without even a status line there is nothing to keep.
        var junk = HTTPExchange(request: try HTTPRequest(path: "/", host: "h"))
        _ = junk.connected()
        _ = junk.receive(Array("HTTP/1.0 2".utf8))
        #expect(junk.timedOut() == .finished(.noResponse(reason: "timeout")))
        // A complete head is not marked.
        var whole = HTTPExchange(request: try HTTPRequest(path: "/", host: "h"))
        _ = whole.connected()
        if case .finished(.response(let r)) = whole.receive(Array("HTTP/1.0 204 No Content\r\nServer: x\r\n\r\n".utf8)) {
            #expect(r.headCutOff == nil)
        } else { Issue.record("no response") }
    }
}

@Suite struct IISTests {
    @Test func versionFromServerHeader() {
        #expect(IIS.version(serverHeader: "Microsoft-IIS/5.0")! == (5, 0))
        #expect(IIS.version(serverHeader: "microsoft-iis/4.0")! == (4, 0))
        #expect(IIS.version(serverHeader: "Microsoft-IIS/10.0")! == (10, 0))
        #expect(IIS.version(serverHeader: "Apache/2.4.62 (Debian)") == nil)
        #expect(IIS.version(serverHeader: "Microsoft-IIS/") == nil)
        #expect(IIS.version(serverHeader: nil) == nil)
    }

    func response(_ bytes: [UInt8]) -> HTTPResponse? {
        var exchange = HTTPExchange(request: try! HTTPRequest(path: "/", host: "h"))
        _ = exchange.connected()
        if case .finished(.response(let r)) = exchange.receive(bytes) { return r }
        if case .finished(.response(let r)) = exchange.connectionClosed() { return r }
        return nil
    }

    @Test func idaErrorPageIsDetectedAndPlain404IsNot() throws {
        let live = try #require(response(SimulatedIIS().response(path: "/NULL.ida")))
        #expect(IIS.idaMappingEvidence(live)?.contains("IDQ file C:\\Inetpub\\wwwroot\\NULL.ida") == true)
        let unmapped = try #require(response(SimulatedIIS(idaMapped: false).response(path: "/NULL.ida")))
        #expect(IIS.idaMappingEvidence(unmapped) == nil)
        let apache = try #require(response(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found".utf8)))
        #expect(IIS.idaMappingEvidence(apache) == nil)
    }

    /// Every known spelling of idq.dll's page: the file name given, empty (two spaces), another
    /// drive, lower case; and pages that are not it.
    @Test func everyFormOfTheIndexServerPageIsDetected() throws {
        func page(_ body: String, status: Int = 200) throws -> HTTPResponse {
            try #require(response(Array("HTTP/1.0 \(status) OK\r\nServer: Microsoft-IIS/5.0\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)))
        }
        for body in ["<HTML>The IDQ file C:\\Inetpub\\wwwroot\\NULL.ida could not be found.",
                     "<HTML>The IDQ file  could not be found.",
                     "<HTML>The IDQ file D:\\web\\NULL.ida could not be found.",
                     "<html>the idq file  could not be found."] {
            #expect(IIS.idaMappingEvidence(try page(body)) != nil, "\(body)")
        }
        #expect(IIS.idaMappingEvidence(try page("<HTML>The IDQ file  could not be found."))?.contains("IDQ file  could not be found") == true)
        for body in ["<html><title>The page cannot be found</title></html>", "<html>NULL.ida was not found</html>",
                     "<html>Unsupported request: idq</html>"] {
            #expect(IIS.idaMappingEvidence(try page(body, status: 404)) == nil, "\(body)")
        }
    }

    @Test func rootExeClassification() throws {
        let installed = try #require(response(SimulatedIIS(rootExeInstalled: true).response(path: "/scripts/root.exe")))
        guard case .present = IIS.classifyRootExe(installed) else { Issue.record("not present"); return }
        let clean = try #require(response(SimulatedIIS().response(path: "/scripts/root.exe")))
        #expect(IIS.classifyRootExe(clean) == .absent(status: 404))
        let ok = HTTPResponse(head: HTTPResponseHead(statusCode: 200, reason: "OK"), body: [])
        #expect(IIS.classifyRootExe(ok) == .present(evidence: "HTTP 200 OK"))
        let forbidden = HTTPResponse(head: HTTPResponseHead(statusCode: 403, reason: "Forbidden"), body: [])
        #expect(IIS.classifyRootExe(forbidden) == .inconclusive(status: 403))
    }

    /// Drives HTTPProbe against SimulatedIIS, one connection per request.
    func run(_ iis: SimulatedIIS?, raw: [UInt8]? = nil) -> (HTTPProbeResult, [String]) {
        var probe = HTTPProbe(host: "198.18.0.5")
        var action = probe.start()
        var requests: [String] = []
        var pending: [UInt8] = []
        for _ in 0..<2000 {
            switch action {
            case .openConnection: action = probe.connected()
            case .send(let bytes):
                requests.append(HTTPRequest.parseRequestLine(bytes)?.path ?? "?")
                pending = raw ?? iis?.response(to: bytes) ?? []
                action = .wait
            case .wait:
                if pending.isEmpty { action = probe.connectionClosed() } else {
                    let piece = Array(pending.prefix(10)); pending.removeFirst(piece.count)
                    action = probe.receive(piece)
                }
            case .finished(let result): return (result, requests)
            }
        }
        Issue.record("HTTP probe did not finish")
        return (HTTPProbeResult(), requests)
    }

    @Test func probeSequenceOnCodeRedIIAndOnApache() {
        let (infected, requests) = run(SimulatedIIS(rootExeInstalled: true))
        #expect(requests == ["/", "/NULL.ida", "/scripts/root.exe", "/msadc/root.exe"])
        #expect(requests.allSatisfy { !$0.contains("?") })
        #expect(infected.iisVersion == "5.0")
        guard case .live = infected.idaMapping else { Issue.record("\(infected.idaMapping)"); return }
        #expect(infected.rootExePresent)

        let (patched, _) = run(SimulatedIIS(idaMapped: false))
        #expect(patched.idaMapping == .notFound(status: 404))
        #expect(!patched.rootExePresent)

        let (apache, apacheRequests) = run(nil, raw: Array("HTTP/1.1 200 OK\r\nServer: Apache\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(apacheRequests == ["/"])
        #expect(apache.iisVersion == nil && apache.idaMapping == .notTested)
    }
}
