import Testing
@testable import CordonCodecs

/// Inputs found by the libFuzzer targets in fuzz/ (scripts/fuzz), kept as plain unit tests.
@Suite struct FuzzRegressionTests {
    /// Feeds `bytes` to a fresh head parser in reads of `size` bytes; the state after the last read.
    static func feed(_ bytes: [UInt8], readsOf size: Int) -> HTTPResponseHeadParser.State {
        var parser = HTTPResponseHeadParser()
        var state = HTTPResponseHeadParser.State.needMoreData
        var start = 0
        while start < bytes.count {
            state = parser.feed(bytes[start..<min(start + size, bytes.count)])
            start += size
        }
        return state
    }

    /// fuzz/http: " HTTP/1.1 200 OK" (a space before the status line) parsed as a response when it
    /// arrived in one read, and was "not an HTTP response" when the first read held five bytes or
    /// more but not the blank line. It is not a response, however it is cut.
    @Test func httpHeadVerdictDoesNotDependOnHowTheReplyIsCut() {
        let inputs = [" HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "\tHTTP/1.0 200 OK\n\n", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"]
        for input in inputs {
            let bytes = Array(input.utf8)
            let whole = Self.feed(bytes, readsOf: bytes.count)
            for size in 1...bytes.count {
                let cut = Self.feed(bytes, readsOf: size)
                switch (whole, cut) {
                case (.complete(let a, _), .complete(let b, _)): #expect(a == b, "\(input.debugDescription) in reads of \(size)")
                case (.invalid, .invalid): break
                default: Issue.record("\(input.debugDescription): \(whole) whole, \(cut) in reads of \(size)")
                }
            }
        }
        #expect(Self.feed(Array(" HTTP/1.1 200 OK\r\nServer: x\r\n\r\n".utf8), readsOf: 64) == .invalid(.invalidValue()))
        guard case .complete(let head, _) = Self.feed(Array("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n".utf8), readsOf: 3) else {
            Issue.record("a plain response no longer parses"); return
        }
        #expect(head.statusCode == 200)
        #expect(head["Server"] == "x")
    }
}
