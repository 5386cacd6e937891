/// A parsed HTTP response head: status, reason and headers (names compared case-insensitively).
public struct HTTPResponseHead: Equatable, Sendable {
    public var version: String
    public var statusCode: Int
    public var reason: String
    /// Header fields in order; names and values sanitized and cut.
    public var headers: [(name: String, value: String)]

    public init(version: String = "HTTP/1.1", statusCode: Int, reason: String, headers: [(name: String, value: String)] = []) {
        self.version = version
        self.statusCode = statusCode
        self.reason = reason
        self.headers = headers
    }

    /// The first value of a header, by case-insensitive name.
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// `Content-Length`, when present and a sane number.
    public var contentLength: Int? {
        guard let value = self["Content-Length"], value.utf8.count <= 12, let n = Int(value.trimmingSpaces), n >= 0 else { return nil }
        return n
    }

    public static func == (lhs: HTTPResponseHead, rhs: HTTPResponseHead) -> Bool {
        lhs.version == rhs.version && lhs.statusCode == rhs.statusCode && lhs.reason == rhs.reason
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

/// Incremental parser of an HTTP response head, bounded in size, line length and header count.
///
/// Accepts CRLF and bare LF line ends. Bytes after the head are returned as the start of the body.
public struct HTTPResponseHeadParser: Sendable {
    public enum State: Equatable, Sendable {
        case needMoreData
        case complete(HTTPResponseHead, bodyPrefix: [UInt8])
        case invalid(CodecError)
    }

    public let maxHeadSize: Int
    public let maxHeaderCount: Int
    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    private var state: State = .needMoreData

    public init(maxHeadSize: Int = 16 * 1024, maxHeaderCount: Int = 64, maxLineLength: Int = 4096) {
        self.maxHeadSize = max(64, maxHeadSize)
        self.maxHeaderCount = max(1, maxHeaderCount)
        self.maxLineLength = max(32, maxLineLength)
    }

    /// Feeds bytes; returns the state after them. Once complete or invalid, further bytes are ignored.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> State {
        guard case .needMoreData = state else { return state }
        let previous = buffer.count
        buffer.append(contentsOf: bytes)
        // Search for the blank line only from where it could start.
        guard let end = Self.headEnd(in: buffer, from: max(0, previous - 3)) else {
            if buffer.count > maxHeadSize { state = .invalid(.tooLarge("response head over \(maxHeadSize) bytes")) }
            else if buffer.count >= 5, !Array(buffer.prefix(5)).elementsEqual("HTTP/".utf8) {
                state = .invalid(.invalidValue("not an HTTP response"))
            }
            return state
        }
        guard end.headLength <= maxHeadSize else {
            state = .invalid(.tooLarge("response head over \(maxHeadSize) bytes"))
            return state
        }
        do {
            let head = try parseHead(Array(buffer.prefix(end.headLength)))
            state = .complete(head, bodyPrefix: Array(buffer[end.bodyStart...]))
        } catch {
            state = .invalid(error)
        }
        buffer = []
        return state
    }

    /// What can be read of a head that never ended (over the size bound, or the peer stopped):
    /// the status line and the header lines completed before the cut, without the unfinished
    /// last one. Nil when not even the status line is there and valid.
    public func partialHead() -> HTTPResponseHead? {
        let bounded = buffer.prefix(maxHeadSize)
        guard let lastLineEnd = bounded.lastIndex(of: 0x0A) else { return nil }
        // The status line and at most maxHeaderCount header lines, then drop lines from the end
        // until the parser takes them (at most maxHeaderCount + 1 tries on bounded input).
        var lines = Array(bounded[...lastLineEnd]).split(separator: 0x0A, maxSplits: maxHeaderCount + 1, omittingEmptySubsequences: false)
            .prefix(maxHeaderCount + 1).map(Array.init)
        while !lines.isEmpty {
            let candidate = lines.joined(separator: [0x0A])
            if let head = try? parseHead(Array(candidate)) { return head }
            lines.removeLast()
        }
        return nil
    }

    /// Parses a complete head (status line + header lines, without the blank line).
    func parseHead(_ head: [UInt8]) throws(CodecError) -> HTTPResponseHead {
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 0x0D ? line.dropLast() : line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let statusLine = lines.first else { throw .invalidValue("empty head") }
        guard statusLine.count <= maxLineLength else { throw .tooLarge("status line") }
        // The status line starts with "HTTP/" at its first byte, as `feed` checks on a head that has
        // not ended yet: otherwise " HTTP/1.1 200" would parse when it arrives in one read and be
        // "not HTTP" when cut after five bytes.
        guard statusLine.starts(with: "HTTP/".utf8) else { throw .invalidValue("status line does not start with HTTP/") }
        let parts = statusLine.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].starts(with: "HTTP/".utf8), parts[0].count <= 10 else {
            throw .invalidValue("status line")
        }
        let codeBytes = parts[1]
        guard codeBytes.count == 3, codeBytes.allSatisfy({ (0x30...0x39).contains($0) }) else { throw .invalidValue("status code") }
        let code = codeBytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard (100...999).contains(code) else { throw .invalidValue("status code \(code)") }
        var head = HTTPResponseHead(version: Evidence.ascii(parts[0], maxLength: 10), statusCode: code,
                                    reason: parts.count > 2 ? Evidence.text(parts[2], maxLength: 128) : "")
        for line in lines.dropFirst() {
            guard line.count <= maxLineLength else { throw .tooLarge("header line over \(maxLineLength) bytes") }
            if let first = line.first, first == 0x20 || first == 0x09 { continue } // obsolete folding: ignored
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .invalidValue("header line without colon") }
            guard head.headers.count < maxHeaderCount else { throw .tooLarge("more than \(maxHeaderCount) headers") }
            let name = Evidence.ascii(line[line.startIndex..<colon], maxLength: 64)
            let value = Evidence.text(line[(colon + 1)...], maxLength: 512).trimmingSpaces
            head.headers.append((name, value))
        }
        return head
    }

    private static func headEnd(in bytes: [UInt8], from start: Int) -> (headLength: Int, bodyStart: Int)? {
        var i = start
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }
}
